"""The one restore path: checkpoint -> a built model's variables, checked first.

Every tool that loads weights into a model it has built goes through here:
the checkpoint path is resolved (prefix, one of its files, or a directory),
every variable found in both is checked for shape against the `.index`, the
values are checked for NaN/Inf and assigned (checkpoints.init_from_checkpoint),
and, when the tool needs the whole model, a variable the checkpoint lacks is a
one-line CheckpointError naming the checkpoint and the first missing names.
The heads a tool needs on top of the encoder (a classifier's output_weights,
pre-training's cls/predictions) are looked for in the `.index` before any
model is built, so a pre-trained or fine-tuned checkpoint given to the wrong
tool fails at once with MissingHeadError.

Everything takes plain arguments: the model's variables as
{original_name: variable} (`model.original_variables()`), a checkpoint path as
the user typed it, and what the model is (for the messages).
"""

import os

from absl import logging

from bert_tf import checkpoints
from bert_tf.errors import MissingHeadError  # noqa: F401  (raised here)


def latest_in(output_dir):
  """The newest model.ckpt-N listed in output_dir, or None (also when there is no such dir)."""
  return checkpoints.latest_checkpoint(output_dir) if os.path.isdir(output_dir) else None


def check(variables, checkpoint):
  """Shape check of every name in both `variables` and the checkpoint, reading only
  the `.index` (cheap enough before any file is written).  Returns the prefix."""
  return checkpoints.check_compatible(variables, checkpoint)[0]


def restore(variables, checkpoint, what=None, log=False, lacks=None):
  """Loads `checkpoint` into `variables` ({original_name: variable}).

  what: None for a partial restore (a name only in the model keeps its value,
    as the original's init_from_checkpoint when fine-tuning a pre-trained
    checkpoint); else what the model is ("classifier", "encoder and masked-LM
    head", ...): every variable must be in the checkpoint, or CheckpointError
    "<prefix>: checkpoint lacks N variable(s) of the <what> (a, b, c, ...)".
  log: the original's "**** Trainable Variables ****" listing.
  lacks: fn(prefix, missing names sorted) -> the message instead of the one
    above (a tool whose message predates this module keeps it).

  Returns (prefix, set of restored names).  Nothing is assigned when a shape,
  a value or the file is bad.
  """
  prefix = checkpoints.resolve_checkpoint(checkpoint)
  restored = checkpoints.init_from_checkpoint(variables, prefix, log=log)
  missing = sorted(set(variables) - restored)
  if what is not None and missing:
    if lacks is not None:
      raise checkpoints.CheckpointError(lacks(prefix, missing))
    raise checkpoints.CheckpointError(
        "%s: checkpoint lacks %d variable(s) of the %s (%s%s)" %
        (prefix, len(missing), what, ", ".join(missing[:3]), ", ..." if len(missing) > 3 else ""))
  return prefix, restored


def classifier_outputs_of(checkpoint):
  """K, the number of outputs of a fine-tuned checkpoint's `output_weights` [K,H].

  Raises MissingHeadError for a checkpoint without the classifier head (a
  pre-trained one).
  """
  prefix, reader = checkpoints.open_checkpoint(checkpoint)
  shapes = reader.get_variable_to_shape_map()
  if "output_weights" not in shapes:
    raise MissingHeadError(
        "%s: checkpoint has no classifier head (output_weights/output_bias); predict needs a "
        "checkpoint fine-tuned by run_classifier.py, not a pre-trained one" % prefix)
  return int(shapes["output_weights"][0])


def check_masked_lm_head(checkpoint):
  """The checkpoint's prefix if it has a masked-LM head (cls/predictions/*).

  Raises MissingHeadError for a fine-tuned or encoder-only checkpoint.
  """
  prefix, reader = checkpoints.open_checkpoint(checkpoint)
  if not any(name.startswith("cls/predictions/") for name in reader.get_variable_to_shape_map()):
    raise MissingHeadError(
        "%s: checkpoint has no masked-LM head (no cls/predictions/* variables), so it cannot "
        "fill in [MASK]; use a pre-trained checkpoint that keeps it (Google's bert_model.ckpt, "
        "run_pretraining.py's output), not a fine-tuned or encoder-only one" % prefix)
  return prefix


# ---------------------------------------------------------- a run's own checkpoints


def checkpoint_initializer(init_checkpoint):
  """--init_checkpoint as an initial-weights loader: fn({original_name: variable}) that
  reads the checkpoint's matching variables (logging each, as the original), or None
  when there is no path."""
  if not init_checkpoint:
    return None

  def init(variables):
    restore(variables, init_checkpoint, log=True)

  return init


def check_checkpoints(variables, output_dir, init_checkpoint):
  """Before any file is written: the checkpoints a run will read exist and fit the model
  (the original's init_from_checkpoint in model_fn failed even when resuming).
  init_checkpoint: a checkpoint path or None (e.g. weights from a TF Hub module)."""
  if init_checkpoint:
    check(variables, init_checkpoint)
  latest = latest_in(output_dir)
  if latest:
    check(variables, latest)


def load_for_inference(variables, output_dir, init=None):
  """Loads the newest checkpoint in output_dir, else the initial weights (as the Estimator).

  init: an initial-weights loader (checkpoint_initializer or a TF Hub module's).  Returns the global step of the weights loaded (0 if
  not a trained checkpoint).
  """
  latest = latest_in(output_dir)
  if latest:
    restore(variables, latest)
    return checkpoints.read_global_step(latest)
  if init is not None:
    logging.info("Could not find trained model in model_dir: %s, running initialization to "
                 "predict.", output_dir)
    init(variables)
    return 0
  logging.warning("No checkpoint in %s and no --init_checkpoint: using random weights.",
                  output_dir)
  return 0
