"""run_squad.py end to end, through the real script on the tiny config.

The oracle's settings (max_seq_length 64, doc_stride 16, max_query_length 16)
so the records and prediction files can be compared with what the ORIGINAL
run_squad.py wrote (tests/fixtures/squad, from shared/fixtures/original_bert/squad).

The protections of issue 17 (as run_classifier's, tests/e2e/test_ownership.py) on the
module's trained output_dir: a second run while one holds the lock, a resume with other
feature settings (refused, then accepted with --allow_resume_mismatch), numeric flags out
of range (one line, nothing touched), and SIGTERM during training (one line, exit 143, the
rerun resumes to the final step).
"""
import concurrent.futures
import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from e2e_testing import (CKPT, CONFIG, VOCAB, copy_run, error_line, newest_listed,
                         read_results, run_script, script_env, snapshot, wait_for_log)
from helpers import FIXTURES, ROOT

from bert_tf.squad import evaluate as squad_evaluate
from bert_tf.squad import features_fast, postprocess
from bert_tf.squad.examples import read_squad_examples
from bert_tf import checkpoints, output_dir, tokenization

SQUAD = os.path.join(FIXTURES, "squad")
SIZES = {"max_seq_length": 64, "doc_stride": 16, "max_query_length": 16}


def squad_cmd(output_dir, **flags):
  args = dict(vocab_file=VOCAB, bert_config_file=CONFIG, output_dir=output_dir, **SIZES)
  args.update(flags)
  return [sys.executable, os.path.join(ROOT, "run_squad.py")] + [
      "--%s=%s" % (k, v) for k, v in args.items() if v is not None]


def _read(path):
  with open(path, encoding="utf-8") as f:
    return f.read()


def _fixture_json(*parts):
  import gzip
  path = os.path.join(SQUAD, *parts)
  opener = gzip.open if path.endswith(".gz") else open
  with opener(path, "rt", encoding="utf-8") as f:
    return json.load(f)


def _parsed_records(path, gzipped=False):
  out = []
  data = tf.data.TFRecordDataset(path, compression_type="GZIP" if gzipped else "")
  for record in data.as_numpy_iterator():
    example = tf.train.Example.FromString(record)
    out.append({k: list(v.int64_list.value) for k, v in example.features.feature.items()})
  return out


def _assert_same_nbest(got, want, atol=1e-5):
  """Texts exact, probabilities and logits to atol (model logits are float32 to ~1e-6)."""
  assert list(got) == list(want)
  for qid in want:
    assert [e["text"] for e in got[qid]] == [e["text"] for e in want[qid]], qid
    for key in ("probability", "start_logit", "end_logit"):
      np.testing.assert_allclose([e[key] for e in got[qid]], [e[key] for e in want[qid]],
                                 atol=atol, rtol=0, err_msg="%s %s" % (qid, key))


# ------------------------------------------------------------------ a trained run (SQuAD 1.1)


TRAIN_FLAGS = dict(init_checkpoint=CKPT, do_train="true",
                   train_file=os.path.join(SQUAD, "input_v1_train.json"), train_batch_size=4,
                   num_train_epochs=1.0, learning_rate=1e-3, save_checkpoints_steps=2, seed=1234)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  out = str(tmp_path_factory.mktemp("squad") / "out")
  proc = run_script(squad_cmd(
      out, do_predict="true", predict_file=os.path.join(SQUAD, "input_v1_dev.json"),
      **TRAIN_FLAGS))
  assert proc.returncode == 0, proc.stderr[-3000:]
  return out, proc.stderr


def test_train_and_predict_write_the_original_files(trained):
  out, log = trained
  for name in ("train.tf_record", "eval.tf_record", "predictions.json",
               "nbest_predictions.json", "logits.npz", "eval_results.txt"):
    assert os.path.exists(os.path.join(out, name)), name
  assert not os.path.exists(os.path.join(out, "null_odds.json"))  # SQuAD 1.1
  assert not os.path.exists(os.path.join(out, output_dir.LOCK_FILE))  # released at the end
  # What the run was started with, compared by the next run into this output_dir.
  with open(os.path.join(out, "run_config.json")) as f:
    record = json.load(f)
  assert record["script"] == "run_squad.py" and record["bert_config"]["num_hidden_layers"] == 2
  assert (record["max_seq_length"], record["doc_stride"], record["max_query_length"]) == (
      64, 16, 16)
  assert record["do_lower_case"] is True and record["version_2_with_negative"] is False
  assert len(record["vocab_sha256"]) == 64
  # 19 examples / batch 4 * 1 epoch: steps counted in examples (158 features), as the original
  assert newest_listed(out) == 4
  for line in ("***** Running training *****", "  Num orig examples = 19",
               "  Num split examples = 158", "  Batch size = 4", "  Num steps = 4",
               "***** Running predictions *****", "  Batch size = 8", "*** Example ***"):
    assert line in log, line
  # The records are the original's (train: after the Random(12345) shuffle).
  assert _parsed_records(os.path.join(out, "train.tf_record")) == _parsed_records(
      os.path.join(SQUAD, "v1", "train_as_run_squad_writes.tf_record.gz"), gzipped=True)
  assert _parsed_records(os.path.join(out, "eval.tf_record")) == _parsed_records(
      os.path.join(SQUAD, "v1", "eval.tf_record.gz"), gzipped=True)


def test_logits_npz_post_processes_to_the_written_predictions(trained):
  out, _ = trained
  with np.load(os.path.join(out, "logits.npz")) as data:
    assert data["unique_ids"].dtype == np.int64
    assert data["start_logits"].dtype == data["end_logits"].dtype == np.float32
    assert data["start_logits"].shape == data["end_logits"].shape == (158, 64)
    np.testing.assert_array_equal(data["unique_ids"], 1000000000 + np.arange(158))
  # The library, from the file alone, gives the same files byte for byte.
  dev = os.path.join(SQUAD, "input_v1_dev.json")
  examples = read_squad_examples(dev, is_training=False)
  tokenizer = tokenization.FullTokenizer(VOCAB, do_lower_case=True)
  features = features_fast.convert_examples_to_features(
      examples, tokenizer, 64, 16, 16, is_training=False)
  results = postprocess.read_logits(os.path.join(out, "logits.npz"))
  predictions, nbest, _ = postprocess.compute_predictions(
      examples, features, results, 20, 30, True)
  assert _read(os.path.join(out, "predictions.json")) == postprocess.dumps(predictions)
  assert _read(os.path.join(out, "nbest_predictions.json")) == postprocess.dumps(nbest)
  # eval_results.txt: the official 1.1 metrics of those predictions.
  metrics = read_results(os.path.join(out, "eval_results.txt"))
  assert sorted(metrics) == ["exact_match", "f1"]
  want = squad_evaluate.evaluate_v1(squad_evaluate.load_dataset(dev), predictions)
  assert float(metrics["exact_match"]) == pytest.approx(want["exact_match"], abs=1e-12)
  assert float(metrics["f1"]) == pytest.approx(want["f1"], abs=1e-12)


# ------------------------------------------------------------------ drop-in prediction (2.0)


def _squad_init_checkpoint(directory):
  """The oracle's full tiny SQuAD model: the tiny checkpoint's bert/* plus squad_head_ckpt."""
  tensors = {}
  for path in (CKPT, os.path.join(SQUAD, "squad_head_ckpt", "model.ckpt")):
    reader = tf.train.load_checkpoint(path)
    for name in reader.get_variable_to_shape_map():
      tensors[name] = reader.get_tensor(name)
  prefix = os.path.join(directory, "squad_ckpt", "model.ckpt")
  os.makedirs(os.path.dirname(prefix))
  checkpoints.write_bundle(prefix, tensors)
  return prefix


def test_predict_v2_equals_the_original_main_run(tmp_path):
  """The oracle's main_runs/predict_v2 command: same logits, predictions, n-best, null odds."""
  out = str(tmp_path / "out")
  proc = run_script(squad_cmd(
      out, init_checkpoint=_squad_init_checkpoint(str(tmp_path)), do_predict="true",
      predict_file=os.path.join(SQUAD, "input_v2_dev.json"), version_2_with_negative="true",
      predict_batch_size=8))
  assert proc.returncode == 0, proc.stderr[-3000:]
  want = np.load(os.path.join(SQUAD, "v2", "model_logits.npz"))
  with np.load(os.path.join(out, "logits.npz")) as got:
    np.testing.assert_array_equal(got["unique_ids"], want["unique_ids"])
    np.testing.assert_allclose(got["start_logits"], want["start_logits"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(got["end_logits"], want["end_logits"], atol=1e-5, rtol=0)
  oracle = os.path.join("v2", "predict_model_logits")
  with open(os.path.join(out, "predictions.json")) as f:
    assert json.load(f) == _fixture_json(oracle, "predictions.json.gz")
  with open(os.path.join(out, "nbest_predictions.json")) as f:
    _assert_same_nbest(json.load(f), _fixture_json(oracle, "nbest_predictions.json.gz"))
  with open(os.path.join(out, "null_odds.json")) as f:
    got_odds, want_odds = json.load(f), _fixture_json(oracle, "null_odds.json.gz")
  assert list(got_odds) == list(want_odds)
  np.testing.assert_allclose(list(got_odds.values()), list(want_odds.values()), atol=1e-5)
  assert _parsed_records(os.path.join(out, "eval.tf_record")) == _parsed_records(
      os.path.join(SQUAD, "v2", "eval.tf_record.gz"), gzipped=True)
  # The official evaluate-v2.0 figures of these predictions (oracle README).
  metrics = {k: float(v) for k, v in read_results(os.path.join(out, "eval_results.txt")).items()}
  assert metrics["exact"] == pytest.approx(0.0)
  assert metrics["f1"] == pytest.approx(5.789871504157219, abs=1e-9)
  assert metrics["HasAns_f1"] == pytest.approx(13.509700176366843, abs=1e-9)
  assert metrics["NoAns_exact"] == pytest.approx(0.0)
  assert metrics["best_exact"] == metrics["best_f1"] == pytest.approx(57.142857142857146)
  assert metrics["best_f1_thresh"] == 0.0


def test_empty_context_answers_empty_instead_of_the_originals_index_error(tmp_path):
  """#353: a question whose context is empty has no features; the original crashed in 2.0."""
  with open(os.path.join(SQUAD, "input_v2_dev.json")) as f:
    data = json.load(f)
  data["data"][0]["paragraphs"].append(
      {"context": "", "qas": [{"id": "empty-context", "question": "What is here?",
                               "answers": [], "is_impossible": True}]})
  dev = _write(tmp_path / "dev.json", json.dumps(data))
  out = str(tmp_path / "out")
  proc = run_script(squad_cmd(out, init_checkpoint=CKPT, do_predict="true", predict_file=dev,
                              version_2_with_negative="true"))
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "Question empty-context has no features" in proc.stderr
  assert "has no cls/squad/* variables" in proc.stderr  # a pre-trained checkpoint: warned
  with open(os.path.join(out, "predictions.json")) as f:
    predictions = json.load(f)
  assert predictions["empty-context"] == "" and len(predictions) == 22
  with open(os.path.join(out, "nbest_predictions.json")) as f:
    assert json.load(f)["empty-context"] == [
        {"text": "", "probability": 1.0, "start_logit": 0.0, "end_logit": 0.0}]


def test_v1_prediction_on_a_file_with_unanswerable_questions_warns_and_keeps_predictions(
    tmp_path):
  """A 1.1 prediction (no --version_2_with_negative) on a 2.0 dev file: the 1.1 metrics
  cannot score unanswerable questions (the official evaluate-v1.1.py fails with max() of
  nothing), so the run warns, writes its predictions and no eval_results.txt."""
  out = str(tmp_path / "out")
  proc = run_script(squad_cmd(out, init_checkpoint=CKPT, do_predict="true",
                              predict_file=os.path.join(SQUAD, "input_v2_dev.json")))
  assert proc.returncode == 0, proc.stderr[-3000:]
  with open(os.path.join(SQUAD, "input_v2_dev.json")) as f:
    data = json.load(f)
  qas = [qa for article in data["data"] for p in article["paragraphs"] for qa in p["qas"]]
  no_answer = [qa["id"] for qa in qas if not qa["answers"]]
  assert no_answer
  assert ("%d questions have no answer" % len(no_answer)) in proc.stderr
  assert "--version_2_with_negative=True" in proc.stderr
  assert not os.path.exists(os.path.join(out, "eval_results.txt"))
  with open(os.path.join(out, "predictions.json")) as f:
    assert sorted(json.load(f)) == sorted(qa["id"] for qa in qas)


# ------------------------------------------------------------------ --logits_file (no model)


@pytest.mark.parametrize("threshold,oracle,figures", [
    ("0.0", "predict_v2_thr0", {"exact": 52.38095238095238, "f1": 55.01831501831502}),
    ("2.5", "predict_v2_thr2.5", {"exact": 23.80952380952381, "f1": 26.446886446886452,
                                   "HasAns_exact": 44.44444444444444,
                                   "NoAns_exact": 8.333333333333334,
                                   "best_exact": 76.19047619047619,
                                   "best_exact_thresh": -11.164110004901886,
                                   "best_f1": 78.09523809523809,
                                   "best_f1_thresh": -8.2806755900383}),
])
def test_logits_file_rethresholds_without_the_model(tmp_path, threshold, oracle, figures):
  """The oracle's raw results re-thresholded: the original's files byte for byte, no checkpoint,
  and the official evaluate-v2.0 figures (README of the oracle)."""
  out = str(tmp_path / "out")
  t0 = time.time()
  proc = run_script(squad_cmd(
      out, do_predict="true", predict_file=os.path.join(SQUAD, "input_v2_dev.json"),
      version_2_with_negative="true", null_score_diff_threshold=threshold,
      logits_file=os.path.join(SQUAD, "v2", "raw_results.npz")))
  seconds = time.time() - t0
  assert proc.returncode == 0, proc.stderr[-3000:]
  for name in ("predictions.json", "nbest_predictions.json", "null_odds.json"):
    want = _fixture_json("v2", oracle, name + ".gz")
    assert _read(os.path.join(out, name)) == postprocess.dumps(want), name
  assert sorted(os.listdir(out)) == ["eval_results.txt", "nbest_predictions.json",
                                     "null_odds.json", "predictions.json"]
  assert "Restoring" not in proc.stderr and "random weights" not in proc.stderr
  metrics = {k: float(v) for k, v in read_results(os.path.join(out, "eval_results.txt")).items()}
  for key, value in figures.items():
    assert metrics[key] == pytest.approx(value, abs=1e-9), key
  assert seconds < 60, seconds  # a Python start-up and post-processing, not a model run


def test_logits_file_threshold_follows_null_odds(tmp_path):
  """Any threshold: "" exactly where null_odds > threshold, else the best non-null answer."""
  out = str(tmp_path / "out")
  odds = _fixture_json("v2", "predict_v2_thr0", "null_odds.json.gz")
  threshold = float(np.median(list(odds.values())))
  proc = run_script(squad_cmd(
      out, do_predict="true", predict_file=os.path.join(SQUAD, "input_v2_dev.json"),
      version_2_with_negative="true", null_score_diff_threshold=repr(threshold),
      logits_file=os.path.join(SQUAD, "v2", "raw_results.npz")))
  assert proc.returncode == 0, proc.stderr[-3000:]
  with open(os.path.join(out, "predictions.json")) as f:
    predictions = json.load(f)
  with open(os.path.join(out, "nbest_predictions.json")) as f:
    best = postprocess.best_non_null_answers(json.load(f))
  nulls = 0
  for qid, diff in odds.items():
    if diff > threshold:
      assert predictions[qid] == "", qid
      nulls += 1
    else:
      assert predictions[qid] == best[qid], qid
  assert 0 < nulls < len(odds)


# ------------------------------------------------------------------ interrupts, ownership, resume


def test_sigterm_saves_the_step_reached_and_the_rerun_resumes_to_the_final_step(tmp_path):
  """What a preempted machine or a batch scheduler sends: one line, exit 143, a checkpoint of
  the step reached (no periodic one before the end), and the same command resumes from it."""
  out = str(tmp_path / "out")
  cmd = squad_cmd(out, init_checkpoint=CKPT, do_train="true",
                  train_file=os.path.join(SQUAD, "input_v1_train.json"), train_batch_size=4,
                  num_train_epochs=32.0, learning_rate=1e-4, save_checkpoints_steps=100000,
                  seed=7, optimizer="lamb")  # additive flags: the shared Trainer's resume
  num_steps = int(19 / 4 * 32.0)  # 152: the signal comes after step 100
  log_path = str(tmp_path / "first.log")
  with open(log_path, "w") as log:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log,
                            stdin=subprocess.DEVNULL, env=script_env(), cwd=ROOT)
  try:
    wait_for_log(proc, log_path, r"loss = \S+, step = 100$")
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=300)
  finally:
    if proc.poll() is None:
      proc.kill()
      proc.wait()
  first = subprocess.CompletedProcess(cmd, proc.returncode, "", open(log_path).read())
  assert first.returncode == 128 + signal.SIGTERM, first.stderr[-3000:]
  m = re.match(r"interrupted \(SIGTERM\) at step (\d+), saved (\S+); rerun the same command to "
               r"resume from it$", error_line(first, "run_squad.py"))
  assert m, first.stderr[-2000:]
  step, prefix = int(m.group(1)), m.group(2)
  assert 100 <= step < num_steps and prefix == os.path.join(out, "model.ckpt-%d" % step)
  assert newest_listed(out) == step  # complete: every tensor reads, global_step = N
  assert not [n for n in os.listdir(out) if ".tmp" in n or n == output_dir.LOCK_FILE]
  rerun = run_script(cmd)
  assert rerun.returncode == 0, rerun.stderr[-3000:]
  assert "Restoring parameters from %s (global_step = %d)" % (prefix, step) in rerun.stderr
  assert newest_listed(out) == num_steps


PREDICT_FLAGS = dict(do_predict="true", predict_file=os.path.join(SQUAD, "input_v1_dev.json"))


def _fewer_layers(out, d):
  """A predict with a 1-layer bert_config.json into an output_dir without run_config.json (an
  older version's): the restore itself refuses the checkpoint."""
  os.remove(os.path.join(out, "run_config.json"))
  with open(CONFIG) as f:
    config = json.load(f)
  config["num_hidden_layers"] = 1
  path = os.path.join(d, "bert_config_1_layer.json")
  with open(path, "w") as f:
    json.dump(config, f)
  return dict(PREDICT_FLAGS, bert_config_file=path)


# Runs refused into a copy of the trained output_dir: flags, or fn(out, case dir) -> flags.
REFUSED_RUNS = {
    # another run holds the output_dir (this test process, see refused_runs)
    "busy": PREDICT_FLAGS,
    "other_feature_settings": dict(TRAIN_FLAGS, max_seq_length=48, doc_stride=8),
    "fewer_layers": _fewer_layers,
    "train_batch_size_0": dict(TRAIN_FLAGS, train_batch_size=0),
    "num_train_epochs_0": dict(TRAIN_FLAGS, num_train_epochs=0),
    "zero_training_steps": dict(TRAIN_FLAGS, num_train_epochs=0.1),
    "doc_stride_0": dict(PREDICT_FLAGS, doc_stride=0),
}


@pytest.fixture(scope="module")
def refused_runs(trained, tmp_path_factory):
  """Each case of REFUSED_RUNS into its copy of the trained output_dir, two at a time (a
  refused run is mostly start-up): {name: future of (out, flags, proc, before, after)}."""
  base = tmp_path_factory.mktemp("refused")

  def one(name):
    d = str(base / name)
    out = os.path.join(d, "out")
    copy_run(trained[0], out)
    flags = REFUSED_RUNS[name]
    flags = flags(out, d) if callable(flags) else flags
    held = output_dir.acquire(out) if name == "busy" else None
    try:
      before = snapshot(out)
      proc = run_script(squad_cmd(out, **flags))
      return out, flags, proc, before, snapshot(out)
    finally:
      if held is not None:
        held.release()

  with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
    yield {name: pool.submit(one, name) for name in REFUSED_RUNS}


def _refused(refused_runs, name):
  """(out, flags, the error line): exit 1, one line, output_dir unchanged."""
  out, flags, proc, before, after = refused_runs[name].result()
  assert proc.returncode == 1, proc.stderr[-3000:]
  message = error_line(proc, "run_squad.py")
  assert after == before, "output_dir changed"
  return out, flags, message


def test_second_run_into_a_busy_output_dir_is_one_line_naming_the_holder(refused_runs):
  out, _, message = _refused(refused_runs, "busy")
  assert message.startswith("%s: output_dir is in use by another run (pid %d on " %
                            (out, os.getpid())), message
  assert message.endswith("; wait for it to finish or stop it, or pass another --output_dir")


def test_resume_with_other_feature_settings_is_refused_then_accepted_with_the_flag(refused_runs):
  out, flags, message = _refused(refused_runs, "other_feature_settings")
  assert message == (
      "%s/model.ckpt-4: --output_dir holds the checkpoint of a run started with other settings "
      "(then -> now: max_seq_length 64 -> 48; doc_stride 16 -> 8; recorded in "
      "%s/run_config.json); pass a new --output_dir to start over, the recorded settings to "
      "continue it, or --allow_resume_mismatch to continue anyway" % (out, out))
  proc = run_script(squad_cmd(out, allow_resume_mismatch="true", **flags))
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert ("(max_seq_length 64 -> 48; doc_stride 16 -> 8); continuing anyway "
          "(--allow_resume_mismatch)") in proc.stderr
  # Resumed (already at its final step: the Trainer's resume itself is the SIGTERM test's).
  assert "Restoring parameters from %s/model.ckpt-4 (global_step = 4)" % out in proc.stderr
  assert newest_listed(out) == 4
  assert len(_parsed_records(os.path.join(out, "train.tf_record"))[0]["input_ids"]) == 48
  with open(os.path.join(out, "run_config.json")) as f:
    record = json.load(f)
  assert (record["max_seq_length"], record["doc_stride"]) == (48, 8)  # the new settings


def test_a_checkpoint_that_does_not_fit_the_model_is_refused(refused_runs):
  out, _, message = _refused(refused_runs, "fewer_layers")
  assert message.startswith(
      "%s/model.ckpt-4: the checkpoint in --output_dir does not fit the model: 16 of its "
      "variables are not in the model (bert/encoder/layer_1/" % out), message
  assert message.endswith("; it was written with another bert_config.json or task. Pass the "
                          "same settings to continue it, a new --output_dir to start over, or "
                          "--allow_resume_mismatch to load only what fits")


NUMERIC_MESSAGES = {
    "train_batch_size_0": "--train_batch_size=0: must be >= 1; the examples per training step",
    "num_train_epochs_0": "--num_train_epochs=0.0: must be a finite number > 0; with --do_train "
                          "there must be something to train, e.g. --num_train_epochs=2",
    "zero_training_steps": "--num_train_epochs=0.1 with 19 training examples and "
                           "--train_batch_size=4 gives 0 training steps; pass more epochs or a "
                           "smaller batch size",
    "doc_stride_0": "--doc_stride=0: must be >= 1; how far each window of a long document moves "
                    "on, e.g. 128",
}


@pytest.mark.parametrize("name", sorted(NUMERIC_MESSAGES))
def test_numeric_flag_out_of_range_is_one_line_and_touches_nothing(refused_runs, name):
  assert _refused(refused_runs, name)[2] == NUMERIC_MESSAGES[name]


# ------------------------------------------------------------------ bad input: one line


def _good_dev_flags():
  return dict(do_predict="true", predict_file=os.path.join(SQUAD, "input_v1_dev.json"))


def _write(path, text):
  with open(path, "w", encoding="utf-8") as f:
    f.write(text)
  return str(path)


def _v1_train_with(tmp_path, edit):
  with open(os.path.join(SQUAD, "input_v1_train.json")) as f:
    data = json.load(f)
  edit(data)
  return _write(tmp_path / "train.json", json.dumps(data))


def _qa(data):
  return data["data"][0]["paragraphs"][0]["qas"][0]


@pytest.mark.parametrize("case", ["not_json", "no_data", "no_context", "v1_file_with_v2_flag",
                                  "answer_outside_context", "several_answers",
                                  "question_not_string", "logits_width"])
def test_bad_squad_input_is_one_line_before_anything_is_written(tmp_path, case):
  out = tmp_path / "out"
  out.mkdir()
  (out / "keep.txt").write_text("previous run\n")
  before = snapshot(str(out))
  flags = {}
  if case == "not_json":
    path = _write(tmp_path / "dev.json", '{"data": [')
    flags = dict(do_predict="true", predict_file=path)
    expected = "%s: not JSON (" % path
  elif case == "no_data":
    path = _write(tmp_path / "dev.json", '{"version": "1.1"}')
    flags = dict(do_predict="true", predict_file=path)
    expected = '%s: no "data" list at the top level' % path
  elif case == "no_context":
    def edit(data):
      del data["data"][0]["paragraphs"][1]["context"]
    path = _v1_train_with(tmp_path, edit)
    flags = dict(do_predict="true", predict_file=path)
    expected = '%s: article 0 paragraph 1 has no "context" string' % path
  elif case == "several_answers":
    def edit(data):
      _qa(data)["answers"].append(dict(_qa(data)["answers"][0]))
    path = _v1_train_with(tmp_path, edit)
    flags = dict(do_train="true", train_file=path)
    expected = "%s: question %s has 2 answers; for training, each question should have " \
        "exactly 1 answer" % (path, _qa(json.load(open(path)))["id"])
  elif case == "v1_file_with_v2_flag":
    path = os.path.join(SQUAD, "input_v1_train.json")
    flags = dict(do_train="true", train_file=path, version_2_with_negative="true")
    expected = '%s: question %s has no "is_impossible" field' % (
        path, _qa(json.load(open(path)))["id"])
  elif case == "question_not_string":
    def edit(data):
      _qa(data)["question"] = None
    path = _v1_train_with(tmp_path, edit)
    flags = dict(do_predict="true", predict_file=path)
    expected = '%s: article 0 paragraph 0 question 0 (id %r): "question" is NoneType, not a ' \
        'string' % (path, _qa(json.load(open(path)))["id"])
  elif case == "answer_outside_context":
    def edit(data):
      _qa(data)["answers"][0]["answer_start"] = 100000
    path = _v1_train_with(tmp_path, edit)
    flags = dict(do_train="true", train_file=path, init_checkpoint=CKPT)
    expected = "%s: question %s: answer_start 100000" % (
        path, _qa(json.load(open(path)))["id"])
  else:  # logits of another max_seq_length
    logits = str(tmp_path / "logits.npz")
    with open(logits, "wb") as f:
      np.savez(f, unique_ids=1000000000 + np.arange(158, dtype=np.int64),
               start_logits=np.zeros((158, 32), np.float32),
               end_logits=np.zeros((158, 32), np.float32))
    flags = dict(_good_dev_flags(), logits_file=logits)
    expected = "%s: logits of width 32, but the features have max_seq_length 64" % logits
  proc = run_script(squad_cmd(str(out), **flags))
  assert proc.returncode == 1
  assert error_line(proc, "run_squad.py").startswith(expected), proc.stderr[-2000:]
  assert snapshot(str(out)) == before
  if case == "not_json":  # a new output_dir is not even created
    fresh = tmp_path / "fresh"
    proc = run_script(squad_cmd(str(fresh), **flags))
    assert proc.returncode == 1 and not fresh.exists()


def test_validation_order_and_messages_through_the_script(tmp_path):
  out = tmp_path / "out"
  # Neither do_train nor do_predict, and a bad max_seq_length: the first check wins.
  proc = run_script(squad_cmd(str(out), max_seq_length=10))
  assert error_line(proc, "run_squad.py") == (
      "At least one of `do_train` or `do_predict` must be True.")
  proc = run_script(squad_cmd(str(out), do_predict="true", max_seq_length=19))
  assert error_line(proc, "run_squad.py") == (
      "If `do_predict` is True, then `predict_file` must be specified.")
  assert not out.exists()


# ------------------------------------------------------------------ the flags


# The original run_squad.py's flags: name -> (type, default, help).
ORIGINAL_FLAGS = {
    "bert_config_file": ("string", None, "The config json file corresponding to the pre-trained "
                         "BERT model. This specifies the model architecture."),
    "vocab_file": ("string", None, "The vocabulary file that the BERT model was trained on."),
    "output_dir": ("string", None,
                   "The output directory where the model checkpoints will be written."),
    "train_file": ("string", None, "SQuAD json for training. E.g., train-v1.1.json"),
    "predict_file": ("string", None,
                     "SQuAD json for predictions. E.g., dev-v1.1.json or test-v1.1.json"),
    "init_checkpoint": ("string", None,
                        "Initial checkpoint (usually from a pre-trained BERT model)."),
    "do_lower_case": ("bool", True, "Whether to lower case the input text. Should be True for "
                      "uncased models and False for cased models."),
    "max_seq_length": ("int", 384, "The maximum total input sequence length after WordPiece "
                       "tokenization. Sequences longer than this will be truncated, and "
                       "sequences shorter than this will be padded."),
    "doc_stride": ("int", 128, "When splitting up a long document into chunks, how much stride "
                   "to take between chunks."),
    "max_query_length": ("int", 64, "The maximum number of tokens for the question. Questions "
                         "longer than this will be truncated to this length."),
    "do_train": ("bool", False, "Whether to run training."),
    "do_predict": ("bool", False, "Whether to run eval on the dev set."),
    "train_batch_size": ("int", 32, "Total batch size for training."),
    "predict_batch_size": ("int", 8, "Total batch size for predictions."),
    "learning_rate": ("float", 5e-5, "The initial learning rate for Adam."),
    "num_train_epochs": ("float", 3.0, "Total number of training epochs to perform."),
    "warmup_proportion": ("float", 0.1, "Proportion of training to perform linear learning rate "
                          "warmup for. E.g., 0.1 = 10% of training."),
    "save_checkpoints_steps": ("int", 1000, "How often to save the model checkpoint."),
    "iterations_per_loop": ("int", 1000, "How many steps to make in each estimator call."),
    "n_best_size": ("int", 20, "The total number of n-best predictions to generate in the "
                    "nbest_predictions.json output file."),
    "max_answer_length": ("int", 30, "The maximum length of an answer that can be generated. "
                          "This is needed because the start and end predictions are not "
                          "conditioned on one another."),
    "use_tpu": ("bool", False, "Whether to use TPU or GPU/CPU."),
    "tpu_name": ("string", None, "The Cloud TPU to use for training. This should be either the "
                 "name used when creating the Cloud TPU, or a grpc://ip.address.of.tpu:8470 url."),
    "tpu_zone": ("string", None, "[Optional] GCE zone where the Cloud TPU is located in. If not "
                 "specified, we will attempt to automatically detect the GCE project from "
                 "metadata."),
    "gcp_project": ("string", None, "[Optional] Project name for the Cloud TPU-enabled project. "
                    "If not specified, we will attempt to automatically detect the GCE project "
                    "from metadata."),
    "master": ("string", None, "[Optional] TensorFlow master URL."),
    "num_tpu_cores": ("int", 8,
                      "Only used if `use_tpu` is True. Total number of TPU cores to use."),
    "verbose_logging": ("bool", False, "If true, all of the warnings related to data processing "
                        "will be printed. A number of warnings are expected for a normal SQuAD "
                        "evaluation."),
    "version_2_with_negative": ("bool", False, "If true, the SQuAD examples contain some that "
                                "do not have an answer."),
    "null_score_diff_threshold": ("float", 0.0, "If null_score - best_non_null is greater than "
                                  "the threshold predict null."),
}
REQUIRED = {"bert_config_file", "vocab_file", "output_dir"}


def test_every_original_flag_with_its_type_default_help_and_required_mark():
  code = ("import json, run_squad\n"
          "from absl import flags\n"
          "F = flags.FLAGS\n"
          "print(json.dumps({f.name: [f.flag_type(), f.default, f.help] for f in "
          "F.get_key_flags_for_module('run_squad')}))\n"
          "from bert_tf.scripts import run_squad as s\n"
          "print(json.dumps(list(s.REQUIRED)))\n")
  proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                        env=script_env(), timeout=120)
  assert proc.returncode == 0, proc.stderr[-2000:]
  lines = proc.stdout.splitlines()
  defined, required = json.loads(lines[-2]), set(json.loads(lines[-1]))
  for name, (kind, default, text) in ORIGINAL_FLAGS.items():
    assert name in defined, name
    assert defined[name][0] == kind, name
    assert defined[name][1] == default, name
    assert defined[name][2] == text, name
  assert required == REQUIRED
  assert "logits_file" in defined and "seed" in defined and "trim_padding" in defined
