"""run_squad's arguments (SquadJob) and the checks that need no TensorFlow.

`validate` is the original validate_flags_or_throw (its order and messages),
`check_flags` our numeric ranges, and `check_before_tensorflow` both with the
bert_config.json they need; run_squad.py calls it before TensorFlow is imported,
so such a refusal takes well under a second.  `bert_tf.squad.job.read_inputs`
makes the same checks again (a library call has no script in front of it).
This module must not import TensorFlow.
"""

import dataclasses
from typing import Optional

from bert_tf import tokenization
from bert_tf.configuration import BertConfig
from bert_tf.runtime import RuntimeOptions, check_flag


@dataclasses.dataclass
class SquadJob:
  """Arguments of one run_squad invocation (the original flags + our additions)."""
  bert_config_file: str
  vocab_file: str
  output_dir: str
  train_file: Optional[str] = None
  predict_file: Optional[str] = None
  init_checkpoint: Optional[str] = None
  do_lower_case: bool = True
  max_seq_length: int = 384
  doc_stride: int = 128
  max_query_length: int = 64
  do_train: bool = False
  do_predict: bool = False
  train_batch_size: int = 32
  predict_batch_size: int = 8
  learning_rate: float = 5e-5
  num_train_epochs: float = 3.0
  warmup_proportion: float = 0.1
  n_best_size: int = 20
  max_answer_length: int = 30
  verbose_logging: bool = False
  version_2_with_negative: bool = False
  null_score_diff_threshold: float = 0.0
  # checkpoint cadence, TPU / strategy, seed, optimizer, schedule, dtype, XLA
  runtime: RuntimeOptions = dataclasses.field(default_factory=RuntimeOptions)
  # ---- additive options (defaults keep the original behaviour)
  logits_file: Optional[str] = None  # post-process this logits.npz instead of running the model
  export_dir: Optional[str] = None  # also write a serving SavedModel (question/context in) here


def validate(job, config):
  """The original validate_flags_or_throw, in its order and with its messages, then ours."""
  tokenization.validate_case_matches_checkpoint(job.do_lower_case, job.init_checkpoint)
  if not job.do_train and not job.do_predict and not job.export_dir:
    # (ours: --export_dir alone exports output_dir's newest checkpoint)
    raise ValueError("At least one of `do_train` or `do_predict` must be True.")
  if job.do_train and not job.train_file:
    raise ValueError("If `do_train` is True, then `train_file` must be specified.")
  if job.do_predict and not job.predict_file:
    raise ValueError("If `do_predict` is True, then `predict_file` must be specified.")
  config.check_max_seq_length(job.max_seq_length)
  if job.max_seq_length <= job.max_query_length + 3:
    raise ValueError(
        "The max_seq_length (%d) must be greater than max_query_length "
        "(%d) + 3" % (job.max_seq_length, job.max_query_length))
  if job.logits_file and not job.do_predict:
    raise ValueError("--logits_file=%s replaces the model run of --do_predict; add "
                     "--do_predict=true and --predict_file" % job.logits_file)


def check_flags(job):
  """The numeric flags' ranges, before any work (one line naming the flag), after the
  original's checks (`validate`).  Only the flags this run uses are checked (a
  --logits_file run ignores --predict_batch_size, a predict-only run the training flags)."""
  check_flag("max_seq_length", job.max_seq_length, minimum=5,
             why="room for [CLS], a question token, [SEP], a document token and [SEP]")
  check_flag("max_query_length", job.max_query_length, minimum=1,
             why="the question's tokens kept in each feature, e.g. 64")
  check_flag("doc_stride", job.doc_stride, minimum=1,
             why="how far each window of a long document moves on, e.g. 128")
  if job.do_train:
    check_flag("train_batch_size", job.train_batch_size, minimum=1,
               why="the examples per training step")
    check_flag("num_train_epochs", job.num_train_epochs, above=0,
               why="with --do_train there must be something to train, e.g. "
                   "--num_train_epochs=2")
    check_flag("learning_rate", job.learning_rate, above=0, why="e.g. --learning_rate=3e-5")
    check_flag("warmup_proportion", job.warmup_proportion, minimum=0, maximum=1,
               why="the fraction of the training steps that warm up, e.g. 0.1")
  if job.do_predict:
    if not job.logits_file:
      check_flag("predict_batch_size", job.predict_batch_size, minimum=1,
                 why="the examples per prediction step")
    check_flag("n_best_size", job.n_best_size, minimum=1,
               why="the answers listed per question in nbest_predictions.json, e.g. 20")
    check_flag("max_answer_length", job.max_answer_length, minimum=1,
               why="the longest answer in tokens, e.g. 30")
    check_flag("null_score_diff_threshold", job.null_score_diff_threshold,
               why="the null answer wins when null score - best non-null score is above it")
  job.runtime.check()


def check_before_tensorflow(job):
  """bert_config.json read and checked, then `validate` and `check_flags`."""
  config = BertConfig.from_json_file(job.bert_config_file)
  validate(job, config)
  check_flags(job)
  return config
