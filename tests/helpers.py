"""Paths and settings the tests share (imported as `helpers`; conftest only holds fixtures)."""
import os

TESTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS)
FIXTURES = os.path.join(TESTS, "fixtures")
TINY = os.path.join(FIXTURES, "tiny_uncased")
GLUE = os.path.join(ROOT, "data", "glue")


def run_bench(script, *args):
  """Runs benchmarks/<script> as `make bench` does (a subprocess), on the tiny config
  (BENCH_MODEL_DIR), and returns its one BENCH_JSON result."""
  import json
  import subprocess
  import sys
  env = dict(os.environ, BENCH_MODEL_DIR=TINY, PYTHONPATH=ROOT)
  proc = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", script)] + list(args),
                        capture_output=True, text=True, env=env, cwd=ROOT, timeout=600,
                        stdin=subprocess.DEVNULL)
  assert proc.returncode == 0, proc.stderr[-3000:]
  lines = [l for l in proc.stdout.splitlines() if l.startswith("BENCH_JSON ")]
  assert len(lines) == 1, proc.stdout[-2000:]
  return json.loads(lines[0][len("BENCH_JSON "):])


def positive(value):
  """A finite number above zero (a speed, a size)."""
  import math
  return isinstance(value, (int, float)) and math.isfinite(value) and value > 0
