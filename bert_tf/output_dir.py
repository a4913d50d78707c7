"""A run's --output_dir: created if needed and checked writable before any work.

Every job that writes into an output_dir starts here, so the rules about it
live in one place.
"""

import os


def prepare(output_dir):
  """Creates output_dir (and its parents) if missing; one-line ValueError when that fails
  or the directory is not writable."""
  try:
    os.makedirs(output_dir, exist_ok=True)
  except OSError as e:
    raise ValueError("%s: cannot create output_dir (%s)" % (output_dir, e.strerror))
  if not os.access(output_dir, os.W_OK):
    raise ValueError("%s: output_dir is not writable" % output_dir)
