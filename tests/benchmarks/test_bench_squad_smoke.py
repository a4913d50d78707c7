"""The SQuAD benchmark (`run_all.py --parts squad`) still runs, on the tiny config.

The bert_tf side as `make bench` runs it: bench_squad.py in a subprocess printing one
BENCH_JSON line (train and predict), and run_squad.py's real log parsed into the
stages the report prints (run_all.squad_stages).  The HF side needs torch (the bench
venv) and is not run here; its pure-Python post-processing (utils_qa's rules) and its
by-path load of the official metrics are, on hand-made logits.  report.py renders
section (g) with the ratios and target rows.  Speed is not asserted.
"""

import json
import math
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from helpers import FIXTURES, ROOT, TINY, positive, run_bench

BENCHMARKS = os.path.join(ROOT, "benchmarks")
sys.path.insert(0, BENCHMARKS)

import bench_hf_squad  # noqa: E402  (no torch at import time)
import report  # noqa: E402
import run_all  # noqa: E402

SQUAD = os.path.join(FIXTURES, "squad")


def _bench(*args):
  return run_bench("bench_squad.py", *args)


@pytest.fixture(scope="module")
def squad_job(tmp_path_factory):
  """run_squad.py --do_train --do_predict on the tiny config, its log in a file, as
  run_all runs it: (log path, start, end, output_dir)."""
  work = tmp_path_factory.mktemp("squad_job")
  out = str(work / "out")
  log = str(work / "run_squad.log")
  argv = [sys.executable, os.path.join(ROOT, "run_squad.py"),
          "--vocab_file=%s/vocab.txt" % TINY, "--bert_config_file=%s/bert_config.json" % TINY,
          "--init_checkpoint=%s/bert_model.ckpt" % TINY, "--do_train=True",
          "--train_file=%s" % os.path.join(SQUAD, "input_v1_train.json"), "--do_predict=True",
          "--predict_file=%s" % os.path.join(SQUAD, "input_v1_dev.json"),
          "--train_batch_size=4", "--learning_rate=3e-5", "--num_train_epochs=1.0",
          "--max_seq_length=64", "--doc_stride=16", "--max_query_length=16",
          "--output_dir=%s" % out]
  t0 = time.time()
  with open(log, "w") as f:
    proc = subprocess.run(argv, stdout=f, stderr=subprocess.STDOUT, cwd=ROOT, timeout=600,
                          stdin=subprocess.DEVNULL)
  t1 = time.time()
  assert proc.returncode == 0, run_all.tail(log, 30)
  return log, t0, t1, out


@pytest.mark.slow
def test_train_mode_runs_at_a_squad_shape():
  out = _bench("--mode=train", "--batch=2", "--seq=32", "--warmup=1", "--steps=2",
               "--windows=2")
  assert out["mode"] == "train" and out["batch"] == 2 and out["seq"] == 32
  assert math.isfinite(out["final_loss"]) and out["final_loss"] > 0
  assert positive(out["ex_per_s_median"]) and positive(out["gflops_median"]), out
  assert len(out["windows_s"]) == 2, out


@pytest.mark.slow
def test_predict_mode_reports_every_batch_size():
  out = _bench("--mode=predict", "--batches", "2", "4", "--seq=32", "--warmup=1",
               "--windows=2", "--examples_per_window=8")
  assert out["mode"] == "predict" and sorted(out["by_batch"]) == ["2", "4"]
  for row in out["by_batch"].values():
    assert positive(row["ex_per_s_median"]) and len(row["windows_s"]) == 2, row


@pytest.mark.slow
def test_profile_mode_reports_attention_shares():
  out = _bench("--mode=profile", "--batch=2", "--seq=32", "--reps=1")
  assert out["mode"] == "profile" and out["seq"] == 32
  assert set(out["ms"]) == {
      "forward", "forward: attention matmuls", "forward: attention + mask + softmax",
      "forward+backward", "forward+backward: attention matmuls",
      "forward+backward: attention + mask + softmax", "forward+backward: attention + dropout"}
  assert all(positive(v) for v in out["ms"].values()), out
  for name, share in out["share"].items():
    assert share == pytest.approx(out["ms"][name] / out["ms"][name.split(":")[0]], abs=1e-3)


@pytest.mark.slow
def test_run_squad_log_gives_every_stage(squad_job):
  log, t0, t1, out = squad_job
  stages, marks = run_all.squad_stages(log, t0, t1)
  assert stages is not None, marks
  assert list(stages) == ["setup", "train_features", "train", "predict_features", "predict",
                          "postprocess_eval"]
  assert all(v >= 0 for v in stages.values()), stages
  assert stages["train"] > 0 and stages["setup"] > 0, stages
  # the stages tile the process's wall time (log timestamps have 1 us resolution)
  assert abs(sum(stages.values()) - (t1 - t0)) < 0.1, (stages, t1 - t0)
  assert os.path.exists(os.path.join(out, "eval_results.txt"))


def test_hf_postprocess_follows_utils_qa_rules():
  context = "The cat sat on the mat."
  questions = [{"id": "q1", "question": "Where?", "context": context, "answers": [],
                "is_impossible": False}]
  # one window: [CLS] where ? [SEP] the cat sat on the mat . [SEP]
  offsets = [(0, 0), (0, 5), (5, 6), (0, 0), (0, 3), (4, 7), (8, 11), (12, 14), (15, 18),
             (19, 22), (22, 23), (0, 0)]
  seq_ids = [None, 0, 0, None, 1, 1, 1, 1, 1, 1, 1, None]
  rows = [{"offset_mapping": offsets, "sequence_ids": seq_ids, "sample": 0}]
  start = np.full([1, 12], -10.0)
  end = np.full([1, 12], -10.0)
  start[0, 1] = 9.0  # best start in the question: not a context token, skipped
  start[0, 8], end[0, 9] = 5.0, 4.0  # "the mat"
  end[0, 2] = 9.0
  start[0, 0], end[0, 0] = 3.0, 3.0  # null score 6 < 9: answerable
  preds, odds = bench_hf_squad.postprocess(questions, rows, start, end, 20, 30, False, 0.0)
  assert preds == {"q1": "the mat"} and not odds
  preds, odds = bench_hf_squad.postprocess(questions, rows, start, end, 20, 30, True, 0.0)
  assert preds == {"q1": "the mat"} and odds["q1"] == pytest.approx(6.0 - 9.0)
  start[0, 0] = 7.0  # null 10 > 9: the null answer wins at threshold 0 ...
  preds, odds = bench_hf_squad.postprocess(questions, rows, start, end, 20, 30, True, 0.0)
  assert preds == {"q1": ""} and odds["q1"] == pytest.approx(1.0)
  preds, _ = bench_hf_squad.postprocess(questions, rows, start, end, 20, 30, True, 1.5)
  assert preds == {"q1": "the mat"}  # ... not above a threshold of 1.5
  # max_answer_length: the 2-token span is too long for 1
  preds, _ = bench_hf_squad.postprocess(questions, rows, start, end, 20, 1, False, 0.0)
  assert preds["q1"] != "the mat"


def test_hf_training_labels_are_run_qas():
  context = "The cat sat on the mat."
  q = {"answers": [{"text": "the mat", "answer_start": 15}], "is_impossible": False}
  offsets = [(0, 0), (0, 5), (0, 0), (0, 3), (4, 7), (8, 11), (12, 14), (15, 18), (19, 22),
             (22, 23), (0, 0), (0, 0)]
  seq_ids = [None, 0, None, 1, 1, 1, 1, 1, 1, 1, None, None]
  ids = [101, 5, 102, 1, 2, 3, 4, 5, 6, 7, 102, 0]
  row = {"input_ids": ids, "offset_mapping": offsets, "sequence_ids": seq_ids, "sample": 0}
  assert context[15:22] == "the mat"
  assert bench_hf_squad.training_labels([row], [q], 101) == ([7], [8])
  # a window that does not hold the whole answer is labelled [CLS]
  cut = dict(row, sequence_ids=[None, 0, None, 1, 1, 1, 1, 1, None, None, None, None])
  assert bench_hf_squad.training_labels([cut], [q], 101) == ([0], [0])


def test_hf_original_input_follows_run_squads_schedule_and_buffer():
  """--original_input: run_squad's step count, optimization.py's schedule (checked against
  bert_tf's own, which is tested against the original) and a 100-record shuffle buffer."""
  from bert_tf import optimization
  assert bench_hf_squad.original_steps(581, 12, 6.0, 0.1) == (290, 29)
  assert bench_hf_squad.original_steps(581, 12, 2.0, 0.1) == (96, 9)
  schedule = optimization.learning_rate_schedule(3e-5, 290, 29)
  for step in (0, 1, 28, 29, 30, 150, 289, 290, 300):
    want = float(schedule(step)) / 3e-5
    assert abs(bench_hf_squad.original_lr_factor(step, 290, 29) - want) < 1e-5, step
  assert bench_hf_squad.original_lr_factor(29, 290, 29) == 1.0 - 29 / 290  # not 1.0 (HF's)

  batches = bench_hf_squad.original_batches(584, 12, 290, seed=3)
  assert len(batches) == 290 and all(len(b) == 12 for b in batches)
  draws = [i for b in batches for i in b]
  assert all(0 <= i < 584 for i in draws)
  # A draw comes from the buffer: the k-th draw of the first pass is one of the first
  # 100 + k records, and no record is drawn twice before the stream wraps.
  first = draws[:584 - 100]
  assert all(i < 100 + k for k, i in enumerate(first))
  assert len(set(first)) == len(first)
  assert first != sorted(first)  # shuffled, but only locally
  counts = np.bincount(draws, minlength=584)
  assert counts.min() >= 3 and counts.sum() == 290 * 12
  assert bench_hf_squad.original_batches(584, 12, 5, seed=3) == batches[:5]
  assert bench_hf_squad.original_batches(584, 12, 5, seed=4) != batches[:5]


def test_official_metrics_are_the_packages_and_import_without_tensorflow(tmp_path):
  """The HF reference is scored by bert_tf.squad.evaluate itself; the bench venv has no
  TensorFlow, so that module must import and score without it (a `tensorflow` that fails
  to import is put first on the path)."""
  from bert_tf.squad import evaluate as package_evaluate
  assert bench_hf_squad.squad_metrics_module() is package_evaluate
  fake = tmp_path / "tensorflow"
  fake.mkdir()
  (fake / "__init__.py").write_text("raise ImportError('tensorflow was imported')\n")
  code = ("import json, sys\n"
          "from bert_tf.squad import evaluate\n"
          "data = json.load(open(sys.argv[1]))['data']\n"
          "preds = {qa['id']: (qa['answers'][0]['text'] if qa.get('answers') and i % 2 else 'zzz')\n"
          "         for i, qa in enumerate(qa for a in data for p in a['paragraphs'] for qa in p['qas'])}\n"
          "odds = {k: float(i % 3 - 1) for i, k in enumerate(preds)}\n"
          "print(json.dumps(evaluate.evaluate(data, preds, True, odds), sort_keys=True))\n")
  path = os.path.join(SQUAD, "input_v2_dev.json")
  env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), ROOT]))
  proc = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True,
                        env=env, timeout=120)
  assert proc.returncode == 0, proc.stderr[-3000:]
  with open(path, encoding="utf-8") as f:
    data = json.load(f)["data"]
  preds = {qa["id"]: (qa["answers"][0]["text"] if qa.get("answers") and i % 2 else "zzz")
           for i, qa in enumerate(qa for a in data for p in a["paragraphs"] for qa in p["qas"])}
  odds = {k: float(i % 3 - 1) for i, k in enumerate(preds)}
  expected = package_evaluate.evaluate(data, preds, True, odds)
  assert json.loads(proc.stdout) == json.loads(json.dumps(expected, sort_keys=True))
  assert 0 < expected["f1"] < 100, expected


def _job(label, result, wall, rss, key_ok=True):
  return {"label": label, "ok": key_ok, "exit": 0, "log": "x.log", "wall_s": wall,
          "peak_rss_mb": rss, "others_cores": 0.1, "result": result}


def test_report_renders_section_g_with_ratios_and_targets():
  train = {"seq": 384, "batch": 12, "ex_per_s_median": 3.0, "ex_per_s_min": 2.5,
           "ex_per_s_max": 3.2, "gflops_median": 3.0 * 25.8, "step_s_max": 5.0,
           "cpu_util_median": 1.9}
  hf_train = dict(train, ex_per_s_median=2.0, ex_per_s_min=1.9, ex_per_s_max=2.1,
                  gflops_median=2.0 * 25.8)

  def pred(rate):
    return {"seq": 384, "by_batch": {b: {"ex_per_s_median": rate, "ex_per_s_min": rate,
                                         "ex_per_s_max": rate, "gflops_median": rate * 8.6}
                                     for b in ("12", "32")}}

  stages = {"setup": 5.0, "train_features": 1.0, "train": 100.0, "predict_features": 1.0,
            "predict": 10.0, "postprocess_eval": 1.0}
  results = {"machine": {}, "jobs": {
      "squad_train/bert_tf": _job("bert_tf BertForSquad Trainer", train, 60, 1500),
      "squad_train/hf": _job("HF BertForQuestionAnswering", hf_train, 80, 3000),
      "squad_predict/bert_tf": _job("bert_tf BertForSquad predict", pred(12.0), 60, 1000),
      "squad_predict/hf": _job("HF BertForQuestionAnswering", pred(6.0), 60, 1200),
      "squad_job/bert_tf": _job("bert_tf run_squad.py",
                                {"stages_s": stages, "form": "1.1",
                                 "eval": {"exact_match": 10.0, "f1": 20.0}}, 118, 2000),
      "squad_job/hf": _job("HF run_qa-style",
                           {"stages_s": stages, "eval": {"exact_match": 9.0, "f1": 19.0},
                            "settings": {"version_2_with_negative": False}}, 236, 3500),
      "squad_profile/bert_tf": _job("bert_tf attention share", {
          "batch": 12, "seq": 384, "attention_flop_share": 1 / 7.0,
          "ms": {"forward": 1000.0, "forward: attention matmuls": 250.0},
          "share": {"forward: attention matmuls": 0.25}}, 100, 2000)}}
  text = report.render(results)
  assert "## (g) SQuAD" in text
  assert "| (g) SQuAD fine-tuning ex/s at 384 vs HF | ≥ 1.5× | 1.500× |" in text
  assert "| (g) SQuAD predict batch 12 at 384 vs HF (worst) | ≥ 1.5× | 2.000× | 2.000× | met |" \
      in text
  assert "| (g) SQuAD real job wall time vs HF run_qa-style | ≥ 2.0× | 2.000× |" in text
  assert "(f) peak RSS squad_job: HF ÷ bert_tf" in text
  assert "| HF run_qa-style | 5.0 | 1.0 | 100.0 | 1.0 | 10.0 | 1.0 | 236.0 | 2.00× | 9.00 |" \
      in text
  assert "| forward: attention matmuls | 250.0 | 25% |" in text
  assert "attention is 14% of the matrix FLOP here" in text
