"""create_pretraining_data.py -> run_pretraining.py -> run_classifier.py on the tiny config."""
import os
import signal
import subprocess
import sys
import time

import pytest
import tensorflow as tf

from helpers import FIXTURES, ROOT, TINY

pytestmark = pytest.mark.slow
SAMPLE = os.path.join(ROOT, "data", "pretrain", "sample_text.txt")


def _run(args, check=True):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)
  out = subprocess.run([sys.executable] + args, capture_output=True, text=True, env=env, cwd=ROOT)
  if check:
    assert out.returncode == 0, out.stderr[-3000:]
  return out


def _pretrain_cmd(data, out, *extra):
  return [os.path.join(ROOT, "run_pretraining.py"), "--input_file=%s" % data,
          "--output_dir=%s" % out, "--bert_config_file=%s" % os.path.join(TINY, "bert_config.json"),
          "--init_checkpoint=%s" % os.path.join(TINY, "bert_model.ckpt"),
          "--train_batch_size=8", "--eval_batch_size=8", "--max_seq_length=64",
          "--max_predictions_per_seq=10"] + list(extra)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
  d = tmp_path_factory.mktemp("ptdata")
  path = str(d / "tf_examples.tfrecord")
  _run([os.path.join(ROOT, "create_pretraining_data.py"), "--input_file=%s" % SAMPLE,
        "--output_file=%s" % path, "--vocab_file=%s" % os.path.join(TINY, "vocab.txt"),
        "--do_lower_case=True", "--max_seq_length=64", "--max_predictions_per_seq=10",
        "--masked_lm_prob=0.15", "--random_seed=12345", "--dupe_factor=2"])
  return path


@pytest.fixture(scope="module")
def pretrained(data, tmp_path_factory):
  out = str(tmp_path_factory.mktemp("pretrain_out"))
  proc = _run(_pretrain_cmd(data, out, "--do_train=True", "--do_eval=True",
                            "--num_train_steps=20", "--num_warmup_steps=10",
                            "--learning_rate=1e-3", "--max_eval_steps=5"))
  return out, proc


def test_pretraining_writes_original_checkpoint_with_heads(pretrained):
  out, proc = pretrained
  names = dict(tf.train.list_variables(os.path.join(out, "model.ckpt-20")))
  for n in ["cls/predictions/output_bias", "cls/predictions/transform/dense/kernel",
            "cls/predictions/transform/LayerNorm/gamma", "cls/seq_relationship/output_weights",
            "cls/seq_relationship/output_bias", "bert/embeddings/word_embeddings",
            "cls/predictions/output_bias/adam_m", "global_step"]:
    assert n in names, n
  assert tf.train.load_checkpoint(os.path.join(out, "model.ckpt-20")).get_tensor("global_step") == 20
  for line in ["*** Input Files ***", "***** Running training *****", "  Batch size = 8",
               "***** Running evaluation *****", "***** Eval results *****",
               "*INIT_FROM_CKPT*"]:
    assert line in proc.stderr, line


def test_eval_results_keys_and_learning(pretrained):
  out, _ = pretrained
  lines = open(os.path.join(out, "eval_results.txt")).read().splitlines()
  keys = [l.split(" = ")[0] for l in lines]
  assert keys == ["global_step", "loss", "masked_lm_accuracy", "masked_lm_loss",
                  "next_sentence_accuracy", "next_sentence_loss"]
  r = {l.split(" = ")[0]: float(l.split(" = ")[1]) for l in lines}
  assert r["global_step"] == 20
  # the fixture checkpoint starts at MLM loss ~10.5 on this data; 20 steps at lr 1e-3 must learn
  assert r["masked_lm_loss"] < 10.0
  assert abs(r["loss"] - (r["masked_lm_loss"] + r["next_sentence_loss"])) < 0.5


def test_finetune_from_pretraining_checkpoint(pretrained, tmp_path):
  out, _ = pretrained
  mrpc = os.path.join(FIXTURES, "classifier_features", "MRPC", "data")
  proc = _run([os.path.join(ROOT, "run_classifier.py"), "--task_name=MRPC", "--do_train=true",
               "--do_eval=true", "--data_dir=%s" % mrpc,
               "--vocab_file=%s" % os.path.join(TINY, "vocab.txt"),
               "--bert_config_file=%s" % os.path.join(TINY, "bert_config.json"),
               "--init_checkpoint=%s" % os.path.join(out, "model.ckpt-20"),
               "--max_seq_length=32", "--train_batch_size=8", "--num_train_epochs=0.5",
               "--output_dir=%s" % str(tmp_path / "cls")])
  assert proc.stderr.count("*INIT_FROM_CKPT*") == 39  # every bert/* variable, not the new head
  assert os.path.exists(tmp_path / "cls" / "eval_results.txt")


def test_mismatched_sequence_length_flag_is_one_line_error(data, tmp_path):
  proc = _run(_pretrain_cmd(data, str(tmp_path / "o"), "--do_train=True") +
              ["--max_seq_length=32"], check=False)
  assert proc.returncode != 0 and "Traceback" not in proc.stderr
  assert "tf_examples.tfrecord: records have input_ids of length 64 but --max_seq_length=32" in \
      proc.stderr
  proc = _run(_pretrain_cmd(str(tmp_path / "nothing*.tfrecord"), str(tmp_path / "o"),
                            "--do_train=True"), check=False)
  assert proc.returncode != 0 and "no input file matches this pattern" in proc.stderr


def test_resume_after_kill(data, tmp_path):
  out = str(tmp_path / "killed")
  cmd = [sys.executable] + _pretrain_cmd(data, out, "--do_train=True", "--num_train_steps=12",
                                         "--num_warmup_steps=2", "--save_checkpoints_steps=4")
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)
  proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                          cwd=ROOT)
  deadline = time.time() + 300
  while time.time() < deadline and not os.path.exists(os.path.join(out, "model.ckpt-4.index")):
    time.sleep(0.05)
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  second = _run(cmd[1:])
  assert "Restoring parameters from" in second.stderr
  assert tf.train.load_checkpoint(os.path.join(out, "model.ckpt-12")).get_tensor(
      "global_step") == 12


def test_init_checkpoint_that_does_not_fit_fails_before_writing(data, tmp_path):
  out = tmp_path / "o"
  out.mkdir()
  bad = os.path.join(FIXTURES, "keras_bert_test_checkpoint", "bert_model.ckpt")  # hidden 4
  cmd = [c for c in _pretrain_cmd(data, str(out), "--do_train=True")
         if not c.startswith("--init_checkpoint")] + ["--init_checkpoint=%s" % bad]
  proc = _run(cmd, check=False)
  assert proc.returncode != 0 and "Traceback" not in proc.stderr
  assert "bert/embeddings/word_embeddings has shape [15, 4] in the checkpoint but the model" in \
      proc.stderr
  assert os.listdir(out) == []
