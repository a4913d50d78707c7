"""The command-line programs: each module holds one script's flags and its `main()` entry point."""
