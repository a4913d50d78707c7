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
