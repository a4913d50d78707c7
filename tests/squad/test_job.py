"""SquadJob's checks: the original validate_flags_or_throw order and messages (in process; the
end-to-end tests run a few of them through the real script)."""
import os

import pytest

from helpers import TINY
from squad_testing import squad_path

from bert_tf.configuration import BertConfig
from bert_tf.squad import job as squad_job

CONFIG = os.path.join(TINY, "bert_config.json")  # max_position_embeddings 64


def _job(**kw):
  args = dict(bert_config_file=CONFIG, vocab_file=os.path.join(TINY, "vocab.txt"),
              output_dir="/nonexistent/out", max_seq_length=64, max_query_length=16)
  args.update(kw)
  return squad_job.SquadJob(**args)


def _message(job):
  with pytest.raises(ValueError) as e:
    squad_job.validate(job, BertConfig.from_json_file(CONFIG))
  return str(e.value)


# Each case also breaks every later check, so the message shows which check runs first.
@pytest.mark.parametrize("kw,message", [
    (dict(init_checkpoint="/x/cased_L-12_H-768_A-12/bert_model.ckpt", do_lower_case=True,
          max_seq_length=65),
     "You passed in `--do_lower_case=True` with `--init_checkpoint="),
    (dict(max_seq_length=65),
     "At least one of `do_train` or `do_predict` must be True."),
    (dict(do_train=True, do_predict=True, max_seq_length=65),
     "If `do_train` is True, then `train_file` must be specified."),
    (dict(do_train=True, train_file="t.json", do_predict=True, max_seq_length=65),
     "If `do_predict` is True, then `predict_file` must be specified."),
    (dict(do_predict=True, predict_file="p.json", max_seq_length=65, max_query_length=70),
     "Cannot use sequence length 65 because the BERT model was only trained up to sequence "
     "length 64"),
    (dict(do_predict=True, predict_file="p.json", max_seq_length=19, max_query_length=16),
     "The max_seq_length (19) must be greater than max_query_length (16) + 3"),
    (dict(do_train=True, train_file="t.json", logits_file="l.npz"),
     "--logits_file=l.npz replaces the model run of --do_predict"),
])
def test_validation_order_and_messages(kw, message):
  assert _message(_job(**kw)).startswith(message)


def test_a_valid_job_passes_and_reads_its_inputs():
  job = _job(do_predict=True, predict_file=squad_path("input_v2_dev.json"),
             max_seq_length=20, max_query_length=16)
  squad_job.validate(job, BertConfig.from_json_file(CONFIG))
  inputs = squad_job.read_inputs(job)
  assert len(inputs.predict_examples) == 21
  assert inputs.train_examples is None and inputs.logits is None
  assert not os.path.exists(job.output_dir)


def test_job_defaults_are_the_original_flag_defaults():
  job = _job()
  assert (job.max_seq_length, job.doc_stride, job.max_query_length) == (64, 128, 16)
  fresh = squad_job.SquadJob(bert_config_file="c", vocab_file="v", output_dir="o")
  assert (fresh.max_seq_length, fresh.doc_stride, fresh.max_query_length) == (384, 128, 64)
  assert (fresh.train_batch_size, fresh.predict_batch_size, fresh.learning_rate) == (32, 8, 5e-5)
  assert (fresh.num_train_epochs, fresh.warmup_proportion) == (3.0, 0.1)
  assert (fresh.n_best_size, fresh.max_answer_length) == (20, 30)
  assert fresh.do_lower_case and not fresh.verbose_logging
  assert not fresh.version_2_with_negative and fresh.null_score_diff_threshold == 0.0
  assert fresh.runtime.save_checkpoints_steps == fresh.runtime.iterations_per_loop == 1000


# ------------------------------------------------------------------ numeric flags (issue 17)


def _flags_message(**kw):
  with pytest.raises(ValueError) as e:
    squad_job.check_flags(_job(**kw))
  return str(e.value)


TRAIN = dict(do_train=True, train_file="t.json")
PREDICT = dict(do_predict=True, predict_file="p.json")


@pytest.mark.parametrize("kw,message", [
    (dict(PREDICT, max_seq_length=4, max_query_length=0),
     "--max_seq_length=4: must be >= 5; room for [CLS], a question token, [SEP], a document "
     "token and [SEP]"),
    (dict(PREDICT, max_query_length=0),
     "--max_query_length=0: must be >= 1; the question's tokens kept in each feature"),
    (dict(PREDICT, doc_stride=0),
     "--doc_stride=0: must be >= 1; how far each window of a long document moves on"),
    (dict(TRAIN, doc_stride=-3), "--doc_stride=-3: must be >= 1"),
    (dict(TRAIN, train_batch_size=0),
     "--train_batch_size=0: must be >= 1; the examples per training step"),
    (dict(TRAIN, num_train_epochs=0.0),
     "--num_train_epochs=0.0: must be a finite number > 0; with --do_train there must be "
     "something to train, e.g. --num_train_epochs=2"),
    (dict(TRAIN, num_train_epochs=-1.0), "--num_train_epochs=-1.0: must be a finite number > 0"),
    (dict(TRAIN, num_train_epochs=float("inf")),
     "--num_train_epochs=inf: must be a finite number > 0"),
    (dict(TRAIN, learning_rate=float("nan")),
     "--learning_rate=nan: must be a finite number > 0; e.g. --learning_rate=3e-5"),
    (dict(TRAIN, learning_rate=0.0), "--learning_rate=0.0: must be a finite number > 0"),
    (dict(TRAIN, warmup_proportion=1.5),
     "--warmup_proportion=1.5: must be a finite number >= 0 and <= 1; the fraction of the "
     "training steps that warm up"),
    (dict(TRAIN, warmup_proportion=-0.1), "--warmup_proportion=-0.1: must be a finite number"),
    (dict(PREDICT, predict_batch_size=0),
     "--predict_batch_size=0: must be >= 1; the examples per prediction step"),
    (dict(PREDICT, n_best_size=0),
     "--n_best_size=0: must be >= 1; the answers listed per question in nbest_predictions.json"),
    (dict(PREDICT, max_answer_length=0),
     "--max_answer_length=0: must be >= 1; the longest answer in tokens"),
    (dict(PREDICT, null_score_diff_threshold=float("nan")),
     "--null_score_diff_threshold=nan: must be a finite number; the null answer wins when "
     "null score - best non-null score is above it"),
    (dict(PREDICT, null_score_diff_threshold=float("-inf")),
     "--null_score_diff_threshold=-inf: must be a finite number;"),
])
def test_numeric_flags_are_checked_naming_the_flag(kw, message):
  assert _flags_message(**kw).startswith(message)


def test_only_the_flags_the_run_uses_are_checked():
  # Predict only: the training flags are not used.
  squad_job.check_flags(_job(train_batch_size=0, num_train_epochs=0.0, learning_rate=0.0,
                             warmup_proportion=2.0, **PREDICT))
  # Train only: the prediction flags are not used.
  squad_job.check_flags(_job(predict_batch_size=0, n_best_size=0, max_answer_length=0,
                             null_score_diff_threshold=float("nan"), **TRAIN))
  # Re-thresholding a logits.npz runs no model: no --predict_batch_size.
  squad_job.check_flags(_job(predict_batch_size=0, logits_file="l.npz", **PREDICT))
  # A negative threshold is a legitimate SQuAD 2.0 setting.
  squad_job.check_flags(_job(null_score_diff_threshold=-2.7, **PREDICT))


def test_runtime_flags_are_checked_too():
  from bert_tf.runtime import RuntimeOptions
  job = _job(runtime=RuntimeOptions(save_checkpoints_steps=0), **TRAIN)
  with pytest.raises(ValueError, match=r"^--save_checkpoints_steps=0: must be >= 1$"):
    squad_job.check_flags(job)


def test_original_checks_come_before_the_numeric_flags(tmp_path):
  """validate's order and messages first: a job that breaks both gets the original's message."""
  job = _job(do_predict=True, max_seq_length=64, doc_stride=0, n_best_size=0)
  with pytest.raises(ValueError) as e:
    squad_job.read_inputs(job)
  assert str(e.value) == "If `do_predict` is True, then `predict_file` must be specified."
  job = _job(do_predict=True, predict_file=squad_path("input_v2_dev.json"), doc_stride=0)
  with pytest.raises(ValueError, match=r"^--doc_stride=0: must be >= 1"):
    squad_job.read_inputs(job)


def test_zero_training_steps_is_one_line():
  job = _job(do_train=True, train_file=squad_path("input_v1_train.json"), train_batch_size=4,
             num_train_epochs=0.1)
  inputs = squad_job.read_inputs(job)
  with pytest.raises(ValueError) as e:
    squad_job.num_train_steps_of(job, inputs)
  assert str(e.value) == ("--num_train_epochs=0.1 with 19 training examples and "
                          "--train_batch_size=4 gives 0 training steps; pass more epochs or a "
                          "smaller batch size")
  job.num_train_epochs = 1.0
  assert squad_job.num_train_steps_of(job, inputs) == (4, 0)
