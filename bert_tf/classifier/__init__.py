"""The run_classifier job: GLUE-style fine-tuning, its evaluation metrics and output files."""
