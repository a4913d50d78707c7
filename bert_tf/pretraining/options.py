"""run_pretraining's arguments (PretrainingJob) and the checks that need no TensorFlow.

`check_before_tensorflow(job)` is everything a run can refuse from its flags and
bert_config.json alone, in the order `bert_tf.pretraining.job.run` makes the
same checks; run_pretraining.py calls it before TensorFlow is imported, so such
a refusal takes well under a second.  This module must not import TensorFlow.
"""

import dataclasses
from typing import Optional

from bert_tf.configuration import BertConfig
from bert_tf.runtime import RuntimeOptions, check_flag


@dataclasses.dataclass
class PretrainingJob:
  """Arguments of one run_pretraining invocation (the original flags + our additions)."""
  bert_config_file: str
  input_file: str
  output_dir: str
  init_checkpoint: Optional[str] = None
  max_seq_length: int = 128
  max_predictions_per_seq: int = 20
  do_train: bool = False
  do_eval: bool = False
  train_batch_size: int = 32
  eval_batch_size: int = 8
  learning_rate: float = 5e-5
  num_train_steps: int = 100000
  num_warmup_steps: int = 10000
  max_eval_steps: int = 100
  # checkpoint cadence, TPU / strategy, seed, optimizer, schedule, dtype, XLA, trimming
  runtime: RuntimeOptions = dataclasses.field(default_factory=RuntimeOptions)


def check_flags(job):
  """The numeric flags' ranges, before any work (one line naming the flag); only those
  this run uses."""
  check_flag("max_seq_length", job.max_seq_length, minimum=1,
             why="pass the value used by create_pretraining_data.py")
  check_flag("max_predictions_per_seq", job.max_predictions_per_seq, minimum=1,
             why="pass the value used by create_pretraining_data.py")
  if job.do_train:
    check_flag("train_batch_size", job.train_batch_size, minimum=1,
               why="the examples per training step")
    check_flag("num_train_steps", job.num_train_steps, minimum=1,
               why="with --do_train there must be something to train")
    check_flag("num_warmup_steps", job.num_warmup_steps, minimum=0)
    check_flag("learning_rate", job.learning_rate, above=0, why="e.g. --learning_rate=1e-4")
  if job.do_eval:
    check_flag("eval_batch_size", job.eval_batch_size, minimum=1,
               why="the examples per evaluation step")
    check_flag("max_eval_steps", job.max_eval_steps, minimum=1)
  job.runtime.check()


def check_before_tensorflow(job):
  """That there is something to do, the numeric flags, bert_config.json and
  --max_seq_length against it; returns the config."""
  if not job.do_train and not job.do_eval:
    raise ValueError("At least one of `do_train` or `do_eval` must be True.")
  check_flags(job)
  config = BertConfig.from_json_file(job.bert_config_file)
  config.check_max_seq_length(job.max_seq_length)
  return config
