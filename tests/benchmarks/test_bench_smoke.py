"""The benchmark scripts still run: a broken bench is otherwise found only by `make bench`.

bench_bert_tf.py is run as `make bench` runs it (a subprocess printing one
BENCH_JSON line), on the tiny config instead of the converted MiniLM
(BENCH_MODEL_DIR) and with a handful of steps.  Speed is not asserted here
(figures live in benchmarks/RESULTS.md); what is asserted is that each mode
completes, reports its rows and that the numbers it reports are sane.
"""

import math
import os
import sys

import pytest

from helpers import ROOT, positive, run_bench

BENCH = os.path.join(ROOT, "benchmarks", "bench_bert_tf.py")


def _bench(*args):
  return run_bench("bench_bert_tf.py", *args)


@pytest.mark.slow
def test_train_mode_runs_and_reports_a_finite_loss_and_speed():
  out = _bench("--mode=train", "--batch=2", "--seq=16", "--warmup=1", "--steps=2",
               "--windows=2")
  assert out["mode"] == "train" and out["batch"] == 2 and out["seq"] == 16
  assert math.isfinite(out["final_loss"])
  speeds = [v for k, v in out.items() if "per_s" in k and not isinstance(v, list)]
  assert speeds and all(positive(v) for v in speeds), out
  assert len(out["windows_s"]) == 2, out


@pytest.mark.slow
def test_predict_mode_reports_every_batch_size():
  out = _bench("--mode=predict", "--batches", "2", "4", "--seq=16", "--warmup=1",
               "--windows=2", "--examples_per_window=8")
  assert out["mode"] == "predict"
  assert sorted(out["by_batch"]) == ["2", "4"]
  for row in out["by_batch"].values():
    speeds = [v for k, v in row.items() if "per_s" in k and not isinstance(v, list)]
    assert speeds and all(positive(v) for v in speeds), row
    assert len(row["windows_s"]) == 2, row
  assert row["step_s_median"] > 0 and row["step_s_max"] >= row["step_s_median"], row
  assert positive(out["gemm_gflops"]), out


@pytest.mark.slow
def test_predict_inputs_give_the_same_row_shape():
  """--input=direct (no tf.data) and --input=autotune run the same forward."""
  for name in ("direct", "autotune"):
    out = _bench("--mode=predict", "--batches", "2", "--seq=16", "--warmup=1", "--windows=2",
                 "--examples_per_window=4", "--input", name)
    assert out["input"] == name and positive(out["by_batch"]["2"]["ex_per_s_median"]), out


def _run(rates, windows, gemm, ok=True):
  """A run_subprocess-shaped dict of a predict job whose windows ran at `windows` ex/s."""
  return {"ok": ok, "exit": 0 if ok else 1, "log": "x.log", "wall_s": 10.0, "t_start": 0.0,
          "peak_rss_mb": 1000.0 + rates, "others_cores": 0.01 * rates, "label": "bert_tf predict",
          "result": {"mode": "predict", "gemm_gflops": gemm, "by_batch": {"32": {
              "ex_per_s_median": rates, "ex_per_s_min": min(windows),
              "ex_per_s_max": max(windows), "slowest_window_s": 32 / min(windows),
              "gflops_median": rates * 2.869, "step_s_median": 1.0, "step_s_max": 1.5,
              "cpu_util_median": 1.9}}}}


def test_repeated_predict_processes_combine_into_min_median_max():
  sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
  import run_all
  entry = run_all.combine_runs([_run(20.0, [19, 21], 60), _run(30.0, [29, 31], 70),
                                _run(25.0, [24, 26], 65)])
  row = entry["result"]["by_batch"]["32"]
  assert entry["ok"] and len(entry["runs"]) == 3
  assert row["process_ex_per_s"] == [20.0, 30.0, 25.0]
  assert (row["process_ex_per_s_min"], row["ex_per_s_median"], row["process_ex_per_s_max"]) \
      == (20.0, 25.0, 30.0)
  assert (row["ex_per_s_min"], row["ex_per_s_max"]) == (19, 31)  # windows over every process
  assert row["gflops_median"] == pytest.approx(25.0 * 2.869)
  assert entry["peak_rss_mb"] == 1030.0 and entry["result"]["gemm_gflops"] == 65
  # one failed process fails the row (a crash is not averaged away)
  assert not run_all.combine_runs([_run(20.0, [19, 21], 60), _run(0, [1], 1, ok=False)])["ok"]


def test_report_judges_repeated_predict_targets_on_the_worst_case():
  """bert_tf's median beats HF's by 1.6x but its slowest process is only 1.2x HF's
  fastest: the target row reports both and is judged missed."""
  sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
  import report
  import run_all
  ours = run_all.combine_runs([_run(r, [r], 60) for r in (24.0, 32.0, 33.0)])
  hf = run_all.combine_runs([_run(r, [r], 60) for r in (19.0, 20.0, 20.0)])
  hf["label"] = "HF torch eager"
  results = {"machine": {}, "jobs": {"predict/bert_tf": ours, "predict/hf": hf}}
  text = report.render(results)
  line = next(l for l in text.splitlines() if l.startswith("| (b) predict batch 32 vs HF"))
  assert "(worst)" in line and "1.600×" in line and "1.200×" in line and "missed" in line
  assert "24.00 / 32.00 / 33.00" in text
  assert "raw numbers in `benchmarks/results.json`, per-job logs in `benchmarks/logs/`" in text
  results["files"] = {"json": "benchmarks/results_inference.json",
                      "log_dir": "benchmarks/logs/inference/"}
  assert ("raw numbers in `benchmarks/results_inference.json`, per-job logs in "
          "`benchmarks/logs/inference/`") in report.render(results)


def test_report_renders_the_long_sequence_rows_with_their_attention_share():
  sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
  import report
  import run_all
  ours = run_all.combine_runs([_run(r, [r], 60) for r in (6.0, 6.4, 6.5)])
  hf = run_all.combine_runs([_run(r, [r], 60) for r in (5.0, 5.5, 5.6)])
  hf["label"] = "HF torch eager"
  profile = {"label": "bert_tf attention share", "ok": True, "exit": 0, "log": "p.log",
             "wall_s": 90.0, "peak_rss_mb": 3000.0, "others_cores": 0.0, "result": {
                 "batch": 12, "seq": 384, "attention_flop_share": 0.14,
                 "ms": {"forward": 2000.0, "forward: attention matmuls": 240.0},
                 "share": {"forward: attention matmuls": 0.12}}}
  results = {"machine": {}, "jobs": {"predict384/bert_tf": ours, "predict384/hf": hf,
                                     "profile384/bert_tf": profile}}
  text = report.render(results)
  assert "## (b') Predict at seq 384" in text
  assert "| forward: attention matmuls | 240.0 | 12% |" in text
  line = next(l for l in text.splitlines() if l.startswith("| (b') predict batch 32 at seq 384"))
  assert "(worst)" in line and "1.164×" in line and "1.071×" in line and "missed" in line


def test_report_names_the_processes_the_machine_slowed():
  """A process whose start-up GEMM probe fell below 80% of the table's median probe is
  named under the table with its own ex/s; it still sets the worst case."""
  sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
  import report
  import run_all
  ours = run_all.combine_runs([_run(r, [r], g) for r, g in ((23.0, 65.0), (12.0, 46.0),
                                                            (22.0, 64.0))])
  hf = run_all.combine_runs([_run(r, [r], g) for r, g in ((19.0, 65.0), (20.0, 66.0),
                                                          (19.5, 67.0))])
  hf["label"] = "HF torch eager"
  results = {"machine": {}, "jobs": {"predict/bert_tf": ours, "predict/hf": hf}}
  text = report.render(results)
  note = next(l for l in text.splitlines() if l.startswith("Processes the machine slowed"))
  assert "bert_tf predict, process 2 of 3: probe 46 GFLOP/s, b32 12.00 ex/s" in note
  assert "HF torch eager" not in note and "process 1 " not in note
  line = next(l for l in text.splitlines() if l.startswith("| (b) predict batch 32 vs HF"))
  assert "0.600×" in line  # the slowed process still decides the worst case
  # Every probe alike: no note.
  even = run_all.combine_runs([_run(r, [r], 65.0) for r in (23.0, 12.0, 22.0)])
  results["jobs"]["predict/bert_tf"] = even
  assert "Processes the machine slowed" not in report.render(results)
