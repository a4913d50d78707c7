"""Every error bert_tf raises for bad user input, in one place.

Each is a ValueError (TrainingError a RuntimeError) whose message is the one
line the scripts print as `<script>: error: <message>` (bert_tf.cli): it names
the file (and the line, the variable or the question id when there is one) and
says what to do.  Anything else that escapes a script is a bug and keeps its
traceback.
"""


class DataError(ValueError):
  """Bad classifier input data (TSV/CSV rows, labels, data_dir): file, line and fix."""


class InputError(ValueError):
  """Unusable input text, input/output paths or settings of a tool or data generator."""


class PretrainingDataError(ValueError):
  """run_pretraining input TFRecords that cannot be used (lengths, features, no records)."""


class SquadInputError(ValueError):
  """Bad SQuAD input: `<file>: <what, which question id, what to do>`."""


class CheckpointError(ValueError):
  """A checkpoint that cannot be used (missing, unreadable, shapes that do not fit)."""


class NonFiniteError(CheckpointError):
  """Refused to write (or load) NaN/Inf weights; the message names the variable and step."""


class MissingHeadError(CheckpointError):
  """The checkpoint lacks the head a tool needs (cls/predictions, output_weights)."""


class HubError(ValueError):
  """A TF Hub module / SavedModel that cannot be exported or loaded."""


class TrainingError(RuntimeError):
  """A run that must stop (non-finite loss, ...)."""


class TrainingInterrupted(TrainingError):
  """Training stopped by SIGINT (Ctrl-C) or SIGTERM, after saving the step it reached.

  The scripts exit with `exit_status`, 128 + the signal number (130 for SIGINT,
  143 for SIGTERM), as a shell reports a process killed by that signal, so
  that batch schedulers and scripts see an interrupted run, not a failed one.
  """

  def __init__(self, message, signum):
    super().__init__(message)
    self.signum = signum
    self.exit_status = 128 + int(signum)
