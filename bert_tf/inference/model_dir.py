"""What a fine-tuning run left behind: its checkpoint, settings and label order.

`find_checkpoint`: an explicit `init_checkpoint`, else the newest
`model.ckpt-N` of a run_classifier `output_dir`.  `read_run_config`: the
settings run_classifier saved in `output_dir/run_config.json`.
`resolve_labels`: the label list (id order) of a K-output classifier, from an
explicit list, the task's `get_labels()` or the run's label_list.txt.
"""

import json
import os

from bert_tf import checkpoints
from bert_tf.data.examples import REGRESSION_LABELS
from bert_tf.data.tasks import get_processor
from bert_tf.inference.settings import InputError

RUN_CONFIG_FILE = "run_config.json"
# The keys of run_config.json that load_classifier reads (others are ignored).
RUN_CONFIG_KEYS = ("task_name", "bert_config_file", "vocab_file", "do_lower_case",
                   "max_seq_length", "label_list")


def read_json_object(path):
  """The JSON object (a dict) in the settings file `path`, or {} when there is no such
  file; an unreadable file or one holding anything but an object is a one-line
  InputError naming it."""
  if not os.path.isfile(path):
    return {}
  try:
    with open(path, "r", encoding="utf-8") as f:
      obj = json.load(f)
  except (OSError, UnicodeDecodeError, ValueError) as e:
    raise InputError("%s: unreadable (%s)" % (path, str(e).splitlines()[0] if str(e) else
                                               type(e).__name__)) from None
  if not isinstance(obj, dict):
    raise InputError("%s: expected a JSON object" % path)
  return obj


def read_run_config(directory):
  """The settings run_classifier saved in `directory/run_config.json`, or {}.

  Only RUN_CONFIG_KEYS are returned.  Relative file paths are taken relative
  to `directory`.
  """
  if not directory:
    return {}
  obj = read_json_object(os.path.join(directory, RUN_CONFIG_FILE))
  out = {k: obj[k] for k in RUN_CONFIG_KEYS if obj.get(k) is not None}
  for key in ("bert_config_file", "vocab_file"):
    if key in out and not os.path.isabs(out[key]):
      out[key] = os.path.join(directory, out[key])
  return out


def find_checkpoint(output_dir=None, init_checkpoint=None, script="run_classifier.py",
                    no_model=None):
  """`init_checkpoint` if given, else the newest model.ckpt-N of `output_dir`, a
  fine-tuning run of `script`; `no_model` replaces the message when neither is given."""
  if init_checkpoint:
    return checkpoints.resolve_checkpoint(init_checkpoint)
  if not output_dir:
    raise InputError(no_model or "no model: pass --output_dir (a run_classifier output "
                     "directory) or --init_checkpoint (a fine-tuned checkpoint)")
  if not os.path.isdir(output_dir):
    raise InputError("%s: --output_dir does not exist" % output_dir)
  latest = checkpoints.latest_checkpoint(output_dir)
  if not latest:
    raise InputError(
        "%s: no checkpoint (model.ckpt-N) in this directory; fine-tune first with "
        "%s --do_train --output_dir=%s, or pass --init_checkpoint" %
        (output_dir, script, output_dir))
  return latest


def resolve_labels(num_outputs, labels=None, task_name=None, label_dir=None):
  """The label list (id order) of a K-output classifier; [None] for regression.

  labels: an explicit list or comma-separated string (wins).  Otherwise the
  task's `get_labels()`; for --task_name=tsv/csv that is `label_dir`'s
  label_list.txt, written by the training run.  A one-output model is
  regression (STS-B, or tsv/csv with --regression).
  """
  if num_outputs == 1:
    return list(REGRESSION_LABELS)
  if labels is not None:
    if isinstance(labels, str):
      labels = labels.split(",")
    labels = [str(x).strip() for x in labels]
    if not all(labels) or len(set(labels)) != len(labels):
      raise InputError("labels must be distinct and non-empty, got %r" % (labels,))
  elif task_name:
    processor = get_processor(task_name, output_dir=label_dir)
    if getattr(processor, "is_regression", False):
      raise InputError("task %s is a regression task (one output) but the checkpoint has %d "
                       "outputs" % (task_name, num_outputs))
    labels = processor.get_labels()
  else:
    raise InputError("no label list: pass --task_name (as for run_classifier.py), or --labels")
  if len(labels) != num_outputs:
    raise InputError(
        "the checkpoint's classifier has %d outputs but the label list %s has %d labels; check "
        "--task_name / --labels" % (num_outputs, labels, len(labels)))
  return labels
