"""The runner every script goes through: process start-up, log setup and one-line errors.

`run(main)` first sets the process-wide TensorFlow start-up options
(bert_tf.runtime.configure_process: TF_CPP_MIN_LOG_LEVEL, TF_ENABLE_ONEDNN_OPTS;
an explicit environment setting wins), before anything imports TensorFlow.

Bad input raises ValueError (or a subclass: DataError, CheckpointError, ...),
OSError, RuntimeError (TrainingError) or a TensorFlow OpError with a message
naming the file; `run` prints that message as one line on stderr and exits with
status 1 instead of a traceback.  `--verbosity=1` (absl's debug level) shows
the traceback as well.  The exit status is 1, except for a training run stopped by
SIGINT/SIGTERM (TrainingInterrupted: 128 + the signal number, 130 / 143, after
saving the step reached) and a Ctrl-C elsewhere (130).

At the default verbosity TensorFlow is imported with its start-up chatter
filtered out (the C++ INFO/WARNING lines printed before logging is set up, and
"failed call to cuInit" on machines without a GPU driver), so that a failing
run prints just its one error line.  Every other line is kept.
"""

import errno
import importlib
import os
import re
import signal
import sys
import tempfile

from absl import app, flags, logging

from bert_tf import runtime

USER_ERRORS = (ValueError, OSError, KeyError, RuntimeError)

# Lines TensorFlow writes to fd 2 while it is imported that say nothing about the run.
_STARTUP_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to "
    r"STDERR"
    r"|[IW]\d{4} [\d:.]+\s+\d+ [\w./-]+:\d+\] .*"
    r"|E\d{4} [\d:.]+\s+\d+ [\w./-]+:\d+\] failed call to cuInit.*"
    r"|To enable the following instructions: .* rebuild TensorFlow with the appropriate "
    r"compiler flags\.)\s*$")


def filter_startup_noise(text):
  """The lines of `text` that are not TensorFlow start-up chatter."""
  return "".join(line for line in text.splitlines(True) if not _STARTUP_NOISE.match(line))


def import_tensorflow_quietly():
  """Imports tensorflow (and probes the devices) with fd 2 captured, then replays
  whatever is not start-up noise.  If the import fails, everything is replayed."""
  if "tensorflow" in sys.modules:
    return
  try:
    sys.stderr.flush()
    saved = os.dup(2)
  except (OSError, ValueError, AttributeError):
    return
  ok = False
  with tempfile.TemporaryFile() as captured:
    os.dup2(captured.fileno(), 2)
    try:
      import tensorflow as tf  # noqa: F401
      tf.config.list_physical_devices()
      ok = True
    finally:
      try:
        sys.stderr.flush()
      finally:
        os.dup2(saved, 2)
        os.close(saved)
      captured.seek(0)
      text = captured.read().decode("utf-8", "replace")
      kept = filter_startup_noise(text) if ok else text
      if kept:
        sys.stderr.write(kept)
        sys.stderr.flush()


def _tf_op_error(e):
  tf = sys.modules.get("tensorflow")
  return tf is not None and isinstance(e, tf.errors.OpError)


def error_message(e):
  """The one line printed for a user error."""
  if _tf_op_error(e):
    text = str(e.message or "").strip()
    first = text.splitlines()[0] if text else type(e).__name__
    if "No space left on device" in text:
      return "no space left on device (%s); free some space and rerun" % first
    return first
  if isinstance(e, OSError) and e.strerror:
    if e.filename is None:
      return e.strerror.strip().splitlines()[0]
    if e.errno == errno.ENOSPC:
      return "%s: no space left on device; free some space and rerun" % e.filename
    return "%s: %s" % (e.filename, e.strerror)
  text = str(e).strip()
  message = text.splitlines()[0] if text else type(e).__name__
  if isinstance(e, KeyError):
    message = "missing key %s" % message
  return message


def _exit_with_error(message, status):
  """Prints `<script>: error: <message>` on stderr and ends the process with `status`."""
  name = sys.argv[0].rsplit("/", 1)[-1]
  sys.stderr.write("%s: error: %s\n" % (name, message))
  sys.stderr.flush()
  os._exit(status)  # no atexit work on a failed run (tf.data / strategy threads)


def _main_with_errors(main, import_tensorflow=True, check_before_tensorflow=None):
  def wrapped(argv):
    logging.set_verbosity(logging.INFO if logging.get_verbosity() < logging.INFO
                          else logging.get_verbosity())
    debug = logging.get_verbosity() >= logging.DEBUG
    try:
      if check_before_tensorflow is not None:
        check_before_tensorflow()
      if import_tensorflow and not debug and os.environ.get("TF_CPP_MIN_LOG_LEVEL") != "0":
        import_tensorflow_quietly()
      return main(argv)
    except KeyboardInterrupt:
      # Ctrl-C outside the training loop (which saves and raises TrainingInterrupted):
      # one line and the shell's status for SIGINT, not a traceback.
      if debug:
        raise
      _exit_with_error("interrupted (SIGINT)", 128 + signal.SIGINT)
    except Exception as e:  # noqa: BLE001 - re-raised below unless it is a user error
      if debug or not (isinstance(e, USER_ERRORS) or _tf_op_error(e)):
        raise
      # TrainingInterrupted: 128 + the signal number; any other error: 1.
      _exit_with_error(error_message(e), getattr(e, "exit_status", 1))
  return wrapped


def run(main, argv=None, doc=None, import_tensorflow=True, check_before_tensorflow=None):
  """absl.app.run(main) with the process start-up settings and one-line errors for bad input.

  doc: the program's usage text for --help (default: the __main__ module's docstring).
  import_tensorflow=False leaves TensorFlow out of the start-up, for a script
  whose work may not need it (create_pretraining_data.py's fast path).
  check_before_tensorflow: a function of no arguments run first, before TensorFlow
  is imported (its errors are one line too): the checks a script can make from its
  flags and small files alone, so that a refused command line answers in well under
  a second instead of after TensorFlow's start-up (several seconds).
  """
  runtime.configure_process()
  program = sys.modules.get("__main__")
  if doc is not None and program is not None:
    program.__doc__ = doc
  app.run(_main_with_errors(main, import_tensorflow, check_before_tensorflow), argv=argv)


def run_job(package, job_from_flags, required, argv=None, doc=None):
  """The program of a job script (run_classifier.py, run_squad.py, run_pretraining.py):
  the `required` flags marked, then bert_tf.<package>.options.check_before_tensorflow(job)
  before TensorFlow is imported and bert_tf.<package>.job.run(job), through `run`.
  job_from_flags: a function of no arguments building the job from the parsed flags."""
  for name in required:
    flags.mark_flag_as_required(name)

  def check():
    importlib.import_module("bert_tf.%s.options" % package).check_before_tensorflow(
        job_from_flags())

  def main(_):
    importlib.import_module("bert_tf.%s.job" % package).run(job_from_flags())

  run(main, argv=argv, doc=doc, check_before_tensorflow=check)
