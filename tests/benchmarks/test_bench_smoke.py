"""The benchmark scripts still run: a broken bench is otherwise found only by `make bench`.

bench_bert_tf.py is run as `make bench` runs it (a subprocess printing one
BENCH_JSON line), on the tiny config instead of the converted MiniLM
(BENCH_MODEL_DIR) and with a handful of steps.  Speed is not asserted here
(figures live in benchmarks/RESULTS.md); what is asserted is that each mode
completes, reports its rows and that the numbers it reports are sane.
"""

import json
import math
import os
import subprocess
import sys

import pytest

from helpers import ROOT, TINY

BENCH = os.path.join(ROOT, "benchmarks", "bench_bert_tf.py")


def _bench(*args):
  env = dict(os.environ, BENCH_MODEL_DIR=TINY, PYTHONPATH=ROOT)
  proc = subprocess.run([sys.executable, BENCH] + list(args), capture_output=True, text=True,
                        env=env, cwd=ROOT, timeout=600, stdin=subprocess.DEVNULL)
  assert proc.returncode == 0, proc.stderr[-3000:]
  lines = [l for l in proc.stdout.splitlines() if l.startswith("BENCH_JSON ")]
  assert len(lines) == 1, proc.stdout[-2000:]
  return json.loads(lines[0][len("BENCH_JSON "):])


def _positive(value):
  return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


@pytest.mark.slow
def test_train_mode_runs_and_reports_a_finite_loss_and_speed():
  out = _bench("--mode=train", "--batch=2", "--seq=16", "--warmup=1", "--steps=2",
               "--windows=2")
  assert out["mode"] == "train" and out["batch"] == 2 and out["seq"] == 16
  assert math.isfinite(out["final_loss"])
  speeds = [v for k, v in out.items() if "per_s" in k and not isinstance(v, list)]
  assert speeds and all(_positive(v) for v in speeds), out
  assert len(out["windows_s"]) == 2, out


@pytest.mark.slow
def test_predict_mode_reports_every_batch_size():
  out = _bench("--mode=predict", "--batches", "2", "4", "--seq=16", "--warmup=1",
               "--windows=2", "--examples_per_window=8")
  assert out["mode"] == "predict"
  assert sorted(out["by_batch"]) == ["2", "4"]
  for row in out["by_batch"].values():
    speeds = [v for k, v in row.items() if "per_s" in k and not isinstance(v, list)]
    assert speeds and all(_positive(v) for v in speeds), row
    assert len(row["windows_s"]) == 2, row
