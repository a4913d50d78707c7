"""run_classifier's arguments (ClassifierJob) and the checks that need no TensorFlow.

`check_before_tensorflow(job)` is everything a run can refuse from its flags and
bert_config.json alone; run_classifier.py calls it before TensorFlow is imported,
so such a refusal takes well under a second instead of TensorFlow's start-up.
`bert_tf.classifier.job.run` makes the same checks again (a library call has no
script in front of it).  This module must not import TensorFlow.
"""

import dataclasses
from typing import Optional

from bert_tf import tokenization
from bert_tf.configuration import BertConfig
from bert_tf.runtime import RuntimeOptions, check_flag


@dataclasses.dataclass
class ClassifierJob:
  """Arguments of one run_classifier invocation (the original flags + our additions)."""
  data_dir: str
  bert_config_file: str
  task_name: str
  vocab_file: str
  output_dir: str
  init_checkpoint: Optional[str] = None
  do_lower_case: bool = True
  max_seq_length: int = 128
  do_train: bool = False
  do_eval: bool = False
  do_predict: bool = False
  train_batch_size: int = 32
  eval_batch_size: int = 8
  predict_batch_size: int = 8
  learning_rate: float = 5e-5
  num_train_epochs: float = 3.0
  warmup_proportion: float = 0.1
  # checkpoint cadence, TPU / strategy, seed, optimizer, schedule, dtype, XLA, trimming
  runtime: RuntimeOptions = dataclasses.field(default_factory=RuntimeOptions)
  # ---- additive options (defaults keep the original behaviour)
  eval_every_steps: int = 0          # evaluate on dev while training (0 = off)
  eval_every_epoch: bool = False
  best_metric: str = ""              # default: eval_accuracy (eval_pearson for regression)
  early_stopping_patience: int = 0   # stop after K evaluations without improvement (0 = off)
  bert_hub_module_handle: Optional[str] = None  # encoder, vocab and casing from a TF Hub module
  export_dir: Optional[str] = None   # also write a serving SavedModel (raw text in) here
  generic_options: dict = dataclasses.field(default_factory=dict)


def check_flags(job):
  """The numeric flags' ranges, before any work (one line naming the flag).  Only the
  flags this run uses are checked (a predict-only run ignores --train_batch_size)."""
  check_flag("max_seq_length", job.max_seq_length, minimum=3,
             why="room for [CLS], [SEP] and at least one token")
  if job.do_train:
    check_flag("train_batch_size", job.train_batch_size, minimum=1,
               why="the examples per training step")
    check_flag("num_train_epochs", job.num_train_epochs, above=0,
               why="with --do_train there must be something to train, e.g. "
                   "--num_train_epochs=3")
    check_flag("learning_rate", job.learning_rate, above=0, why="e.g. --learning_rate=2e-5")
    check_flag("warmup_proportion", job.warmup_proportion, minimum=0, maximum=1,
               why="the fraction of the training steps that warm up, e.g. 0.1")
    check_flag("eval_every_steps", job.eval_every_steps, minimum=0, why="0 = off")
    check_flag("early_stopping_patience", job.early_stopping_patience, minimum=0,
               why="0 = off")
  if job.do_eval or (job.do_train and (job.eval_every_steps or job.eval_every_epoch)):
    check_flag("eval_batch_size", job.eval_batch_size, minimum=1,
               why="the examples per evaluation step")
  if job.do_predict:
    check_flag("predict_batch_size", job.predict_batch_size, minimum=1,
               why="the examples per prediction step")
  job.runtime.check()


def check_before_tensorflow(job):
  """The checks of `check_flags` and those of `classifier.job.resolve` that read no
  checkpoint, in resolve's order: the casing against a known Google model name, that there
  is something to do, bert_config.json and --max_seq_length against it.  A TF Hub module
  brings its own config and casing, so it is checked later, when it is loaded.

  Returns the BertConfig read from --bert_config_file (None with a TF Hub module), as the
  squad and pretraining versions do."""
  check_flags(job)
  hub = bool(job.bert_hub_module_handle)
  if not hub:
    tokenization.validate_case_matches_checkpoint(job.do_lower_case, job.init_checkpoint)
  if not job.do_train and not job.do_eval and not job.do_predict:
    raise ValueError("At least one of `do_train`, `do_eval` or `do_predict' must be True.")
  if hub:
    return None
  config = BertConfig.from_json_file(job.bert_config_file)
  config.check_max_seq_length(job.max_seq_length)
  return config
