"""The real-text and serving benchmark (`run_all.py --parts text`) still runs, on the tiny config.

bench_text.py in a subprocess, as run_all runs it (one BENCH_JSON line): --mode=serving
(which also makes the fine-tuned stand-in and its serving export in --work_dir) and
--mode=predict_py reusing that work dir.  Real behaviour, not speed: the SavedModel's
probabilities for the first texts must equal ClassifierPredictor's (predict.py's path) on
the same checkpoint.  The HF side needs torch (the bench venv) and is not run here; its
pure-Python parts are, and bench_hf_text imports without torch.  run_all.combine_runs
combines the text / serving result shapes, and report.render writes section (h) with its
target rows from a hand-made results dict.
"""

import copy
import os
import subprocess
import sys

import numpy as np
import pytest

from helpers import ROOT, positive, run_bench

BENCHMARKS = os.path.join(ROOT, "benchmarks")
sys.path.insert(0, BENCHMARKS)

import bench_hf_text  # noqa: E402  (no torch at import time)
import common  # noqa: E402
import report  # noqa: E402
import run_all  # noqa: E402

LIMIT = 24  # texts of each data set
SIZES = ["--limit", str(LIMIT), "--texts_per_window", "8", "--warmup", "1"]


def _bench(*args):
  return run_bench("bench_text.py", *args)


def _check_row(row, texts_per_window):
  for key in ("ex_per_s_median", "ex_per_s_min", "ex_per_s_max", "slowest_window_s",
              "median_window_s"):
    assert positive(row[key]), (key, row)
  assert row["examples_per_window"] == texts_per_window, row
  assert all(positive(s) for s in row["windows_s"]), row


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
  """(serving output, predict_py output, work dir): serving first, so that it prepares the
  checkpoint and the export; predict_py reuses the checkpoint."""
  work = str(tmp_path_factory.mktemp("bench_text"))
  serving = _bench("--mode=serving", "--work_dir", work, "--windows", "2", "--batches", "1",
                   "8", "--pair_batches", "8", "--long_requests", "50", "--long_window", "10",
                   "--dump_probabilities", "5", *SIZES)
  predict_py = _bench("--mode=predict_py", "--work_dir", work, *SIZES)
  return serving, predict_py, work


@pytest.mark.slow
def test_predict_py_mode_reports_both_data_sets(runs):
  _, out, _ = runs
  assert out["mode"] == "predict_py" and out["batch"] == 32
  assert out["max_seq_length"] == 64  # the tiny model's positions (128 asked)
  assert sorted(out["by_dataset"]) == ["mrpc_test", "sst2_dev"]
  for row in out["by_dataset"].values():
    _check_row(row, 8)
    assert row["texts"] == LIMIT and len(row["windows_s"]) == LIMIT // 8, row
  assert positive(out["vm_hwm_mb"]) and positive(out["load_s"])


@pytest.mark.slow
def test_serving_mode_reports_batches_pairs_and_the_long_run(runs):
  out, _, _ = runs
  assert out["mode"] == "serving" and sorted(out["by_batch"]) == ["1", "8"]
  assert sorted(out["pair_by_batch"]) == ["8"]
  for rows in (out["by_batch"], out["pair_by_batch"]):
    for b, row in rows.items():
      _check_row(row, 8)
      assert len(row["windows_s"]) == 2 and row["requests_per_window"] == 8 // int(b)
      assert row["req_per_s_median"] == pytest.approx(row["ex_per_s_median"] / int(b))
      assert positive(row["step_s_median"]) and positive(row["step_s_max"])
  lr = out["long_run"]
  assert lr["requests"] == 50 and lr["window"] == 10
  for key in ("first_req_per_s", "last_req_per_s", "last_over_first", "req_per_s",
              "rss_start_mb", "rss_end_mb"):
    assert positive(lr[key]), (key, lr)
  assert lr["last_over_first"] == pytest.approx(lr["last_req_per_s"] / lr["first_req_per_s"])


@pytest.mark.slow
def test_serving_probabilities_equal_classifier_predictor(runs):
  out, _, work = runs
  from bert_tf.inference import predictor
  model = predictor.load_classifier(output_dir=os.path.join(work, "output_dir"))
  sst2, _ = common.read_sst2("dev")
  a, b, _ = common.read_mrpc("test")
  got = out["probabilities"]
  want_single = model.predict(sst2[:5]).values
  want_pair = model.predict(list(zip(a[:5], b[:5]))).values
  np.testing.assert_allclose(got["sst2_dev"], want_single, atol=2e-6, rtol=0)
  np.testing.assert_allclose(got["mrpc_test"], want_pair, atol=2e-6, rtol=0)
  assert np.ptp(np.asarray(want_single)[:, 1]) > 1e-4  # the head tells texts apart


# --------------------------------------------------------------------------- pure Python


def test_hf_side_imports_without_torch_and_builds_pair_inputs():
  # importing it loads neither torch nor transformers (a fresh interpreter, no TF either)
  probe = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, %r); "
                          "import bench_hf_text; print(sorted({'torch', 'transformers'} & "
                          "set(sys.modules)))" % BENCHMARKS], capture_output=True, text=True,
                         timeout=120)
  assert probe.returncode == 0 and probe.stdout.strip() == "[]", probe.stderr[-2000:]
  assert bench_hf_text.pair_inputs([("a", "b"), ("c", "d")]) == [
      {"text": "a", "text_pair": "b"}, {"text": "c", "text_pair": "d"}]
  data = bench_hf_text.datasets(limit=3)
  sst2, _ = common.read_sst2("dev")
  a, b, _ = common.read_mrpc("test")
  assert data["sst2_dev"] == sst2[:3]
  assert data["mrpc_test"] == [{"text": x, "text_pair": y} for x, y in zip(a[:3], b[:3])]


def test_real_data_sizes():
  sst2, labels = common.read_sst2("dev")
  assert len(sst2) == 872 and set(labels) == {0, 1}
  assert sst2[0].startswith("it 's a charming")
  assert len(common.read_mrpc("test")[0]) == 1725


def test_cyclic_requests_and_chunks():
  items = list("abcde")
  assert common.cyclic_request(items, 2, 0) == ["a", "b"]
  assert common.cyclic_request(items, 2, 2) == ["e", "a"]
  assert common.cyclic_request(items, 8, 1) == list("deabcdea")
  assert common.chunks(items, 2) == [["a", "b"], ["c", "d"]]  # remainder dropped
  assert common.chunks(items, 2, 3) == [["a", "b"], ["c", "d"], ["e", "a"]]


def test_long_run_stats():
  # 10 requests: the first 3 take 1 s each, the last 3 take 2 s each
  steps = [1, 1, 1, 1.5, 1.5, 1.5, 1.5, 2, 2, 2]
  marks = [100.0]
  for s in steps:
    marks.append(marks[-1] + s)
  out = common.long_run_stats(marks, 3, 500.0, 510.0)
  assert out["requests"] == 10 and out["window"] == 3
  assert out["first_req_per_s"] == pytest.approx(1.0)
  assert out["last_req_per_s"] == pytest.approx(0.5)
  assert out["last_over_first"] == pytest.approx(0.5)
  assert out["req_per_s"] == pytest.approx(10 / sum(steps))
  assert out["request_s_max"] == 2 and out["request_s_median"] == 1.5
  assert out["rss_growth_mb"] == 10.0
  assert common.long_run_stats(marks, 50)["window"] == 10  # capped to the run


# --------------------------------------------------------------------------- run_all, report


def _row(rate, batch=None):
  row = {"ex_per_s_median": rate, "ex_per_s_min": rate * 0.9, "ex_per_s_max": rate * 1.1,
         "slowest_window_s": 1.0, "cpu_util_median": 1.8, "examples_per_window": 256,
         "windows_s": [1.0]}
  if batch:
    row.update({"batch": batch, "req_per_s_median": rate / batch, "step_s_median": batch / rate,
                "step_s_max": 2 * batch / rate})
  return row


def _run(label, result, rss=1000.0):
  return {"ok": True, "exit": 0, "log": "x.log", "wall_s": 60.0, "peak_rss_mb": rss,
          "others_cores": 0.1, "t_start": 0.0, "label": label, "result": result}


def _text(scale):
  return {"mode": "predict_py", "batch": 32, "max_seq_length": 128, "versions": {"x": "1"},
          "by_dataset": {"sst2_dev": _row(300.0 * scale), "mrpc_test": _row(100.0 * scale)}}


def _serving(scale, last_over_first=1.0, rss_end=800.0):
  return {"mode": "serving", "max_seq_length": 128,
          "by_batch": {str(b): _row(r * scale, b) for b, r in ((1, 50.0), (8, 150.0),
                                                               (32, 200.0))},
          "pair_by_batch": {"32": _row(80.0 * scale, 32)},
          "long_run": {"requests": 10000, "window": 1000, "first_req_per_s": 50.0 * scale,
                       "last_req_per_s": 50.0 * scale * last_over_first,
                       "last_over_first": last_over_first, "req_per_s": 50.0 * scale,
                       "request_s_median": 0.02, "request_s_max": 0.1,
                       "rss_start_mb": 800.0, "rss_end_mb": rss_end,
                       "rss_growth_mb": rss_end - 800.0}}


def test_combine_runs_combines_text_and_serving_shapes():
  runs = [_run("s", _serving(1.0, 1.0, 800.0)), _run("s", _serving(1.2, 0.95, 804.0)),
          _run("s", _serving(0.9, 1.02, 801.0))]
  entry = run_all.combine_runs(copy.deepcopy(runs))
  assert entry["ok"] and len(entry["runs"]) == 3
  r = entry["result"]
  row = r["by_batch"]["8"]
  assert row["process_ex_per_s"] == pytest.approx([150.0, 180.0, 135.0])
  assert row["ex_per_s_median"] == pytest.approx(150.0)
  assert row["req_per_s_median"] == pytest.approx(150.0 / 8)
  assert row["process_ex_per_s_min"] == pytest.approx(135.0)
  assert row["step_s_max"] == pytest.approx(max(2 * 8 / (150.0 * s) for s in (1, 1.2, 0.9)))
  assert r["pair_by_batch"]["32"]["processes"] == 3
  lr = r["long_run"]
  assert lr["last_over_first"] == pytest.approx(1.0)  # the median process's
  assert [p["last_over_first"] for p in lr["per_process"]] == [1.0, 0.95, 1.02]
  assert lr["rss_growth_mb"] == pytest.approx(1.0)
  text = run_all.combine_runs([_run("t", _text(1.0)), _run("t", _text(2.0))])["result"]
  assert text["by_dataset"]["sst2_dev"]["process_ex_per_s"] == [300.0, 600.0]
  assert text["versions"] == {"x": "1"}
  failed = run_all.combine_runs([_run("t", _text(1.0)), dict(_run("t", None), ok=False)])
  assert not failed["ok"]


def test_report_renders_section_h_with_targets():
  def job(label, results):
    return run_all.combine_runs([_run(label, copy.deepcopy(r)) for r in results])

  hf_text = [dict(_text(0.5), mode="pipeline"), dict(_text(0.6), mode="pipeline")]
  jobs = {
      "text/bert_tf_predict_py": job("bert_tf predict.py (ClassifierPredictor)",
                                     [_text(1.0), _text(0.8)]),
      "text/hf_pipeline": job("HF pipeline(\"text-classification\")", hf_text),
      "serving/bert_tf_savedmodel": job("bert_tf serving SavedModel",
                                        [_serving(1.0, 0.95, 802.0), _serving(1.1, 0.85)]),
      "serving/hf_pipeline": job("HF pipeline per request", [_serving(0.5), _serving(0.5)]),
  }
  text = report.render({"machine": {}, "jobs": jobs})
  assert "## (h) Prediction on real text and the serving SavedModel" in text
  # predict.py vs the pipeline: medians 270 / 165; worst = the slowest bert_tf process (240)
  # ÷ the fastest HF process (180)
  assert ("| (h) predict.py on SST-2 dev sentences vs HF pipeline (worst) | ≥ 1.5× | 1.636× | "
          "1.333× | **missed** |") in text
  assert "| (h) predict.py on MRPC test pairs vs HF pipeline (worst) | ≥ 1.5× |" in text
  for b in (1, 8, 32):
    assert ("| (h) serving SavedModel, SST-2 dev sentences per request of %d, vs HF pipeline "
            "(worst) | ≥ 1.5× | 2.100× | 2.000× | met |" % b) in text
  assert "(h) serving SavedModel, MRPC test pairs per request of 32, vs HF pipeline" in text
  # serving b32 (200 x 1.05 median) vs predict.py SST-2 (300 x 0.9 median)
  assert ("| (h) serving SavedModel vs predict.py, SST-2 dev sentences at batch 32 (worst) | "
          "≥ 1.0× | 0.778× |") in text
  assert "| (h) serving SavedModel vs predict.py, MRPC test pairs at batch 32 (worst) |" in text
  assert ("| (h) serving SavedModel long-lived run: last ÷ first 1000 requests/s (worst) | "
          "≥ 0.9× | 0.900× | 0.850× | **missed** |") in text
  assert "| (h) serving SavedModel long-lived run: RSS start ÷ end (no growth) (worst) |" in text
  assert "| bert_tf serving SavedModel | 10000 | " in text
  assert "| HF pipeline per request | 10000 | " in text
  assert "| system | sst2_dev texts/s min / median / max | sst2_dev slowest window s |" in text
  assert ("| bert_tf predict.py (ClassifierPredictor) | 240.00 / 270.00 / 300.00 | 1.00 | 1.80 "
          "| 1.00× | 80.00 / 90.00 / 100.00 |") in text
  assert "| b1 texts/s min / median / max | b1 req/s (median) | b1 request s (median) |" in text
  assert "| bert_tf serving SavedModel | 10000 | 52.50 | 47.12 | 0.850 / 0.900 |" in text
