"""What every script shares besides its flags: log setup and one-line errors.

Bad input raises ValueError (or a subclass: DataError, CheckpointError, ...) or
OSError with a message naming the file; `run` prints that message as one line
on stderr and exits with status 1 instead of a traceback.  `--verbosity=1`
(absl's debug level) shows the traceback as well.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, logging  # noqa: E402

USER_ERRORS = (ValueError, OSError, KeyError, RuntimeError)


def _main_with_errors(main):
  def wrapped(argv):
    logging.set_verbosity(logging.INFO if logging.get_verbosity() < logging.INFO
                          else logging.get_verbosity())
    try:
      return main(argv)
    except USER_ERRORS as e:
      if logging.get_verbosity() >= logging.DEBUG:
        raise
      name = sys.argv[0].rsplit("/", 1)[-1]
      message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
      if isinstance(e, KeyError):
        message = "missing key %s" % message
      sys.stderr.write("%s: error: %s\n" % (name, message))
      sys.stderr.flush()
      os._exit(1)  # no atexit work on a failed run (tf.data / strategy threads)
  return wrapped


def run(main):
  """absl.app.run(main) with one-line errors for bad input."""
  app.run(_main_with_errors(main))
