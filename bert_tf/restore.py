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

A run's own checkpoints (the newest `model.ckpt-N` of its output_dir, resumed
or evaluated) must fit the model exactly, as the original's Saver restore
required: a checkpoint variable of the model's own scopes (bert/..., cls/...,
output_weights) that the model lacks, or a model variable the checkpoint lacks,
is a CheckpointError (`check_resume`), e.g. a bert_config.json with fewer
layers; `--init_checkpoint` keeps the original's name-matched partial load.

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


def classifier_outputs_of(checkpoint, required=True):
  """K, the number of outputs of a fine-tuned checkpoint's `output_weights` [K,H].

  Raises MissingHeadError for a checkpoint without the classifier head (a
  pre-trained one), or returns None for it when not `required`.
  """
  prefix, reader = checkpoints.open_checkpoint(checkpoint)
  shapes = reader.get_variable_to_shape_map()
  if "output_weights" not in shapes:
    if not required:
      return None
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


def _is_slot(name):
  return name.endswith("/adam_m") or name.endswith("/adam_v")


def _scopes(variables):
  """The model's own scopes: the first component of each name (bert, cls), and the
  top-level names themselves (output_weights, output_bias)."""
  return {name.split("/", 1)[0] for name in variables}


def fit(variables, checkpoint):
  """(unused, missing): the checkpoint's variables of the model's own scopes that the model
  lacks, and the model's variables the checkpoint lacks; optimizer slots and global_step
  aside.  Reads only the `.index`."""
  _, reader = checkpoints.open_checkpoint(checkpoint)
  names = {n for n in reader.get_variable_to_shape_map() if not _is_slot(n)}
  scopes = _scopes(variables)
  unused = sorted(n for n in names - set(variables) if n.split("/", 1)[0] in scopes)
  missing = sorted(set(variables) - names)
  return unused, missing


def _some(names):
  return "%s%s" % (", ".join(names[:3]), ", ..." if len(names) > 3 else "")


def check_resume(variables, output_dir, allow_mismatch=False):
  """The newest checkpoint of output_dir (resumed or evaluated) fits the model: same shapes,
  and no variable of the model's scopes only on one side (a bert_config.json with fewer or
  more layers, another head).  CheckpointError listing them, or a WARNING when
  allow_mismatch (then what fits is loaded, the rest keeps its initial value).  Returns
  the checkpoint prefix, or None when output_dir has none."""
  latest = latest_in(output_dir)
  if not latest:
    return None
  check(variables, latest)
  unused, missing = fit(variables, latest)
  if not unused and not missing:
    return latest
  parts = []
  if unused:
    parts.append("%d of its variables are not in the model (%s)" % (len(unused), _some(unused)))
  if missing:
    parts.append("%d variables of the model are not in it (%s)" % (len(missing), _some(missing)))
  if allow_mismatch:
    logging.warning("%s does not fit the model: %s; loading only what fits "
                    "(--allow_resume_mismatch)", latest, "; ".join(parts))
    return latest
  raise checkpoints.CheckpointError(
      "%s: the checkpoint in --output_dir does not fit the model: %s; it was written with "
      "another bert_config.json or task. Pass the same settings to continue it, a new "
      "--output_dir to start over, or --allow_resume_mismatch to load only what fits" %
      (latest, "; ".join(parts)))


def check_checkpoints(variables, output_dir, init_checkpoint, allow_mismatch=False):
  """Before any file is written: the checkpoints a run will read exist and fit the model
  (the original's init_from_checkpoint in model_fn failed even when resuming): the
  init_checkpoint's shapes, and output_dir's newest checkpoint exactly (check_resume).
  init_checkpoint: a checkpoint path or None (e.g. weights from a TF Hub module)."""
  if init_checkpoint:
    check(variables, init_checkpoint)
  check_resume(variables, output_dir, allow_mismatch)


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
