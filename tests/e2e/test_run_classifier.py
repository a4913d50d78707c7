"""run_classifier.py end to end on the tiny config (subprocesses, the original command line)."""
import glob
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from helpers import FIXTURES, ROOT, TINY

MRPC = os.path.join(FIXTURES, "classifier_features", "MRPC", "data")
COLA = os.path.join(FIXTURES, "classifier_features", "CoLA", "data")


def _cmd(output_dir, *extra, data_dir=MRPC, task="MRPC"):
  return [sys.executable, os.path.join(ROOT, "run_classifier.py"), "--task_name=%s" % task,
          "--data_dir=%s" % data_dir, "--vocab_file=%s" % os.path.join(TINY, "vocab.txt"),
          "--bert_config_file=%s" % os.path.join(TINY, "bert_config.json"),
          "--init_checkpoint=%s" % os.path.join(TINY, "bert_model.ckpt"),
          "--max_seq_length=32", "--train_batch_size=8", "--eval_batch_size=8",
          "--predict_batch_size=8", "--learning_rate=1e-3", "--num_train_epochs=1.0",
          "--output_dir=%s" % output_dir] + list(extra)


def _run(cmd, check=True, **kw):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)
  out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, **kw)
  if check:
    assert out.returncode == 0, out.stderr[-3000:]
  return out


def _read_results(path):
  with open(path) as f:
    lines = f.read().splitlines()
  return [tuple(l.split(" = ")) for l in lines]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  out = str(tmp_path_factory.mktemp("mrpc_out"))
  proc = _run(_cmd(out, "--do_train=true", "--do_eval=true", "--do_predict=true"))
  return out, proc


def test_train_eval_predict_writes_the_original_files(trained):
  out, proc = trained
  log = proc.stderr
  for line in ["***** Running training *****", "  Num examples = 40", "  Batch size = 8",
               "  Num steps = 5", "***** Running evaluation *****",
               "  Num examples = 40 (40 actual, 0 padding)", "***** Eval results *****",
               "***** Running prediction*****", "***** Predict results *****",
               "*** Example ***", "**** Trainable Variables ****", "*INIT_FROM_CKPT*"]:
    assert line in log, line
  keys = [k for k, _ in _read_results(os.path.join(out, "eval_results.txt"))]
  assert keys == ["eval_accuracy", "eval_loss", "global_step", "loss"]
  results = dict(_read_results(os.path.join(out, "eval_results.txt")))
  assert results["global_step"] == "5"
  assert 0.0 <= float(results["eval_accuracy"]) <= 1.0
  assert results["eval_loss"] == results["loss"]  # 40 = 5 full batches of 8, as MRPC dev (51x8)
  rows = open(os.path.join(out, "test_results.tsv")).read().splitlines()
  assert len(rows) == 40
  probs = np.array([[float(x) for x in r.split("\t")] for r in rows])
  assert probs.shape == (40, 2) and np.allclose(probs.sum(1), 1, atol=1e-5)
  for f in ["train.tf_record", "eval.tf_record", "predict.tf_record", "checkpoint",
            "model.ckpt-0.index", "model.ckpt-5.index"]:
    assert os.path.exists(os.path.join(out, f)), f
  assert glob.glob(os.path.join(out, "events.out.tfevents.*"))
  assert glob.glob(os.path.join(out, "eval", "events.out.tfevents.*"))
  names = dict(tf.train.list_variables(os.path.join(out, "model.ckpt-5")))
  assert names["output_weights"] == [2, 32] and names["global_step"] == []
  assert "output_weights/adam_m" in names and "bert/pooler/dense/kernel/adam_v" in names
  assert not any(n.startswith("cls/") for n in names)
  assert tf.train.load_checkpoint(os.path.join(out, "model.ckpt-5")).get_tensor("global_step") == 5


def test_rerun_skips_training_and_eval_uses_latest_checkpoint(trained, tmp_path):
  out, _ = trained
  before = open(os.path.join(out, "eval_results.txt")).read()
  proc = _run(_cmd(out, "--do_train=true", "--do_eval=true"))
  assert "Skipping training since max_steps has already saved." in proc.stderr
  assert open(os.path.join(out, "eval_results.txt")).read() == before


def test_predict_from_finetuned_checkpoint_via_init_checkpoint(trained, tmp_path):
  out, _ = trained
  new_out = str(tmp_path / "predict_only")
  cmd = _cmd(new_out, "--do_predict=true")
  cmd = [c for c in cmd if not c.startswith("--init_checkpoint")]
  cmd.append("--init_checkpoint=%s" % os.path.join(out, "model.ckpt-5"))
  _run(cmd)
  a = np.loadtxt(os.path.join(out, "test_results.tsv"))
  b = np.loadtxt(os.path.join(new_out, "test_results.tsv"))
  np.testing.assert_allclose(a, b, atol=1e-6)


def test_resume_after_kill_reaches_same_final_step(tmp_path):
  out = str(tmp_path / "killed")
  cmd = _cmd(out, "--do_train=true", "--num_train_epochs=4.0", "--save_checkpoints_steps=3")
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)
  proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                          cwd=ROOT)
  deadline = time.time() + 300
  while time.time() < deadline and not os.path.exists(os.path.join(out, "model.ckpt-3.index")):
    time.sleep(0.05)
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  assert os.path.exists(os.path.join(out, "model.ckpt-3.index"))
  assert not os.path.exists(os.path.join(out, "model.ckpt-20.index"))
  second = _run(cmd)
  assert re.search(r"Restoring parameters from .*model\.ckpt-\d+ \(global_step = \d+\)",
                   second.stderr)
  reader = tf.train.load_checkpoint(os.path.join(out, "model.ckpt-20"))
  assert reader.get_tensor("global_step") == 20


@pytest.mark.parametrize("extra,message", [
    ([], "At least one of `do_train`, `do_eval` or `do_predict' must be True."),
    (["--do_train=true", "--max_seq_length=65"],
     "Cannot use sequence length 65 because the BERT model was only trained up to sequence "
     "length 64"),
    (["--do_train=true", "--task_name=nosuchtask"], "Task not found: nosuchtask"),
])
def test_validation_messages(tmp_path, extra, message):
  cmd = _cmd(str(tmp_path / "o"))
  cmd = [c for c in cmd if not (c.startswith("--task_name") and any(
      e.startswith("--task_name") for e in extra))] + extra
  proc = _run(cmd, check=False)
  assert proc.returncode != 0
  assert message in proc.stderr
  assert "Traceback" not in proc.stderr


def test_case_check_runs_first(tmp_path):
  d = tmp_path / "uncased_L-12_H-768_A-12"
  d.mkdir()
  cmd = [c for c in _cmd(str(tmp_path / "o")) if not c.startswith("--init_checkpoint")]
  cmd += ["--init_checkpoint=%s" % (d / "bert_model.ckpt"), "--do_lower_case=false"]
  proc = _run(cmd, check=False)  # also no do_* flag: the case check must come first
  assert proc.returncode != 0
  assert "You passed in `--do_lower_case=False`" in proc.stderr


def test_cola_single_sentence_task(tmp_path):
  out = str(tmp_path / "cola")
  _run(_cmd(out, "--do_train=true", "--do_eval=true", "--num_train_epochs=0.5",
            data_dir=COLA, task="cola"))
  results = dict(_read_results(os.path.join(out, "eval_results.txt")))
  assert results["global_step"] == "2"


def test_evaluate_while_training_keeps_best_and_stops_early(tmp_path):
  out = str(tmp_path / "evaltrain")
  proc = _run(_cmd(out, "--do_train=true", "--num_train_epochs=6.0", "--eval_every_steps=5",
                   "--best_metric=eval_loss", "--early_stopping_patience=1",
                   "--learning_rate=2e-2", "--save_checkpoints_steps=1000", "--seed=3"))
  history = open(os.path.join(out, "eval_history.txt")).read().strip().split("\n\n")
  losses = [float(dict(l.split(" = ") for l in b.splitlines())["eval_loss"]) for b in history]
  steps = [int(dict(l.split(" = ") for l in b.splitlines())["global_step"]) for b in history]
  assert steps == [5 * (i + 1) for i in range(len(steps))]
  best = dict(_read_results(os.path.join(out, "best", "eval_results.txt")))
  assert float(best["eval_loss"]) == pytest.approx(min(losses), abs=1e-6)
  assert os.path.exists(os.path.join(out, "best", "model.ckpt-%s.index" % best["global_step"]))
  # patience 1: training stops at the first evaluation that does not improve on the best so far
  first_bad = next((i for i in range(1, len(losses)) if losses[i] >= min(losses[:i])), None)
  if first_bad is None:
    assert len(steps) == 6 and "Stopping early" not in proc.stderr
  else:
    assert len(steps) == first_bad + 1
    assert "Stopping early at step %d." % steps[-1] in proc.stderr
    again = _run(_cmd(out, "--do_train=true", "--num_train_epochs=6.0", "--eval_every_steps=5"))
    assert "Skipping training: early stopping ended it before" in again.stderr
