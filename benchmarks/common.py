"""Shared helpers of the benchmark scripts: shapes, inputs, FLOP counts, timing, output.

Imports only the standard library and numpy, so the PyTorch script (run by the
separate `.venv-bench` interpreter) can use it too.

FLOP count (also in benchmarks/README.md).  Per token and per encoder layer the
matrix multiplies do

    4 H^2   multiply-adds  (query, key, value, attention-output projections)
    2 H I   multiply-adds  (intermediate and output dense layers)
    2 S H   multiply-adds  (scores Q K^T: S keys x H, context P V: S x H)

so one forward pass of a [B, S] batch costs

    F_fwd = 2 * B * S * L * (4 H^2 + 2 H I + 2 S H)   FLOP   (1 multiply-add = 2 FLOP)

and a training step (forward + backward; the backward pass computes two
products per forward product: the gradient of the input and of the weight)

    F_train = 3 * F_fwd = 6 * B*S * L*(4H^2 + 2HI) + 12 * B * S^2 * L * H.

The first term is the usual "6 x non-embedding parameters x tokens"; the
second is the attention term.  Not counted (small): the pooler and classifier
(2 H^2 + 2 H K per example), embedding look-ups, softmax, GELU, LayerNorm,
dropout and the optimizer update (~10 FLOP per parameter).  At MiniLM size (L=6,
H=384, I=1536, S=128) that is 2.869 GFLOP per example forward and 8.607 GFLOP
per example per training step.  All systems do the same matrix work on the
same shapes, so examples/s ratios equal FLOP/s ratios.
"""

import json
import os
import platform
import resource
import statistics
import sys
import time

import numpy as np

PROCESS_T0 = time.perf_counter()  # ~ interpreter start: common is imported first

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The model every bench row uses: the converted MiniLM, or BENCH_MODEL_DIR (a dir with
# bert_config.json + bert_model.ckpt; the suite's smoke test points it at the tiny config).
MINILM = os.environ.get("BENCH_MODEL_DIR") or os.path.join(ROOT, "checkpoints",
                                                           "minilm_L6_H384_A12")
GLUE = os.path.join(ROOT, "data", "glue")


def _config_of(model_dir):
  """The sizes the FLOP counts need, from model_dir's bert_config.json; MiniLM-L6-H384's
  when the checkpoint is not converted yet (`make minilm`)."""
  path = os.path.join(model_dir, "bert_config.json")
  if not os.path.exists(path):
    return dict(vocab_size=30522, num_layers=6, hidden=384, heads=12, intermediate=1536,
                max_positions=512, type_vocab=2)
  with open(path) as f:
    c = json.load(f)
  return dict(vocab_size=c["vocab_size"], num_layers=c["num_hidden_layers"],
              hidden=c["hidden_size"], heads=c["num_attention_heads"],
              intermediate=c["intermediate_size"], max_positions=c["max_position_embeddings"],
              type_vocab=c["type_vocab_size"])


CONFIG = _config_of(MINILM)
NUM_LABELS = 2

# 2 Zen 3 cores x 2 FMA pipes x 8 fp32 lanes x 2 FLOP x ~3.0 GHz (boost).
DEFAULT_PEAK_GFLOPS = 190.0


def flops_per_example(seq_len, training, cfg=CONFIG):
  """Matrix-multiply FLOP of one example of length seq_len (see the module docstring)."""
  L, H, I, S = cfg["num_layers"], cfg["hidden"], cfg["intermediate"], seq_len
  macs_per_token = L * (4 * H * H + 2 * H * I + 2 * S * H)
  forward = 2.0 * S * macs_per_token
  return 3.0 * forward if training else forward


def non_embedding_params(cfg=CONFIG):
  L, H, I = cfg["num_layers"], cfg["hidden"], cfg["intermediate"]
  per_layer = 4 * (H * H + H) + (H * I + I) + (I * H + H) + 2 * 2 * H
  return L * per_layer


def random_batch(batch_size, seq_len, seed=0, cfg=CONFIG):
  """Fixed-shape random inputs: [CLS] + random word ids, all real (mask 1),
  segment 0 for the first half and 1 for the second, random 0/1 labels."""
  rng = np.random.RandomState(seed)
  ids = rng.randint(1000, cfg["vocab_size"], size=(batch_size, seq_len)).astype(np.int32)
  ids[:, 0] = 101
  mask = np.ones((batch_size, seq_len), np.int32)
  segments = np.zeros((batch_size, seq_len), np.int32)
  segments[:, seq_len // 2:] = 1
  labels = rng.randint(0, NUM_LABELS, size=(batch_size,)).astype(np.int32)
  return {"input_ids": ids, "input_mask": mask, "segment_ids": segments, "label_ids": labels}


def windows_from_marks(marks, warmup, steps_per_window, num_windows):
  """Per-window seconds from a list of step-end timestamps marks[0..] (marks[0] = start).

  Steps 1..warmup are excluded; then consecutive windows of steps_per_window steps.
  """
  out = []
  for w in range(num_windows):
    a = warmup + w * steps_per_window
    b = a + steps_per_window
    if b >= len(marks):
      break
    out.append(marks[b] - marks[a])
  return out


def step_times(marks, warmup):
  return [marks[i + 1] - marks[i] for i in range(warmup, len(marks) - 1)]


def summarize(window_seconds, examples_per_window, flops_per_ex=None, step_seconds=None,
              cpu_seconds=None):
  """ex/s median/min/max over windows, the slowest window, GFLOP/s, and the CPU
  utilisation (process CPU seconds / wall seconds; 2.0 = both cores busy)."""
  rates = [examples_per_window / s for s in window_seconds]
  out = {
      "windows_s": [round(s, 4) for s in window_seconds],
      "examples_per_window": examples_per_window,
      "ex_per_s_median": statistics.median(rates),
      "ex_per_s_min": min(rates),   # = the slowest window
      "ex_per_s_max": max(rates),
      "slowest_window_s": max(window_seconds),
      "median_window_s": statistics.median(window_seconds),
  }
  if flops_per_ex:
    out["gflops_median"] = out["ex_per_s_median"] * flops_per_ex / 1e9
    out["gflops_min"] = out["ex_per_s_min"] * flops_per_ex / 1e9
  if cpu_seconds:
    out["cpu_util_median"] = statistics.median(c / w for c, w in zip(cpu_seconds, window_seconds))
  if step_seconds:
    out["step_s_median"] = statistics.median(step_seconds)
    out["step_s_max"] = max(step_seconds)
  return out


def vm_hwm_mb():
  """Peak resident set of this process (VmHWM), MiB."""
  try:
    with open("/proc/self/status") as f:
      for line in f:
        if line.startswith("VmHWM:"):
          return int(line.split()[1]) / 1024.0
  except OSError:
    pass
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def load1():
  return round(os.getloadavg()[0], 2)


def emit(result):
  """Prints the one JSON result line (prefixed so the runner can find it among logs)."""
  result.setdefault("vm_hwm_mb", round(vm_hwm_mb(), 1))
  result.setdefault("load1_end", load1())
  sys.stdout.write("BENCH_JSON " + json.dumps(result, sort_keys=True) + "\n")
  sys.stdout.flush()


def machine_info():
  info = {"python": platform.python_version(), "platform": platform.platform(),
          "cpus": os.cpu_count()}
  try:
    with open("/proc/cpuinfo") as f:
      text = f.read()
    for line in text.splitlines():
      if line.startswith("model name"):
        info["cpu"] = line.split(":", 1)[1].strip()
        break
    flags = next((l for l in text.splitlines() if l.startswith("flags")), "")
    info["simd"] = " ".join(f for f in ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16")
                            if (" %s " % f) in (flags + " "))
  except OSError:
    pass
  try:
    with open("/proc/meminfo") as f:
      info["mem_gib"] = round(int(f.readline().split()[1]) / 1024.0 / 1024.0, 1)
  except OSError:
    pass
  return info


class Marks(object):
  """Step-end timestamps: wall (perf_counter) in .t, process CPU seconds in .c."""

  def __init__(self):
    self.t = []
    self.c = []

  def __call__(self, *unused):
    self.t.append(time.perf_counter())
    self.c.append(time.process_time())
    return False


class Window(object):
  """with Window() as w: ...  -> w.wall, w.cpu (process CPU seconds, all threads)."""

  def __enter__(self):
    self._t, self._c = time.perf_counter(), time.process_time()
    return self

  def __exit__(self, *exc):
    self.wall = time.perf_counter() - self._t
    self.cpu = time.process_time() - self._c
    return False


def timed_batches(one_pass, batches_per_window, num_windows, warmup, examples_per_batch,
                  flops_per_ex=None):
  """The predict rows' timing: one_pass(n) is a generator running n batches and yielding
  after each (outputs fetched to host memory). One warm-up pass of `warmup` batches, then
  `num_windows` windows of batches_per_window batches; returns common.summarize's dict
  with the per-batch times (step_s_median / step_s_max) and the CPU utilisation."""
  for _ in one_pass(warmup):
    pass
  windows, cpu, steps = [], [], []
  for _ in range(num_windows):
    with Window() as w:
      t = time.perf_counter()
      for _ in one_pass(batches_per_window):
        now = time.perf_counter()
        steps.append(now - t)
        t = now
    windows.append(w.wall)
    cpu.append(w.cpu)
  return summarize(windows, batches_per_window * examples_per_batch, flops_per_ex,
                   step_seconds=steps, cpu_seconds=cpu)


def gemm_ceiling(matmul, m=4096, k=384, n=1536, seconds=2.0):
  """GFLOP/s of this process's stack on the model's largest product (the feed-forward's
  [B*S,H] x [H,I] at batch 32, seq 128): `matmul()` runs it once and returns only when
  done. Measured in each predict process at its start, so a row's speed can be read
  against what the machine gave that process (its load, its clock) and not only against
  the nominal peak."""
  for _ in range(3):
    matmul()
  times = []
  t_end = time.perf_counter() + seconds
  while time.perf_counter() < t_end or len(times) < 5:
    t = time.perf_counter()
    matmul()
    times.append(time.perf_counter() - t)
  return 2.0 * m * k * n / statistics.median(times) / 1e9


def read_mrpc(split):
  """MRPC split as (text_a list, text_b list, int labels) like the original processor:
  tab-separated, quotes literal, header skipped, a = column 3, b = column 4, label =
  column 0 (0 for test)."""
  import csv
  path = os.path.join(GLUE, "MRPC", "%s.tsv" % split)
  with open(path, encoding="utf-8", errors="ignore", newline="") as f:
    rows = list(csv.reader(f, delimiter="\t", quotechar=None))[1:]
  a = [r[3] for r in rows]
  b = [r[4] for r in rows]
  labels = [0 if split == "test" else int(r[0]) for r in rows]
  return a, b, labels


class StageClock(object):
  """Wall seconds per named stage, in order."""

  def __init__(self, start=None):
    """start: perf_counter origin of the first stage (default: when common was imported,
    so a "setup" stage includes the imports, as a subprocess's wall time does)."""
    self.stages = {}
    self._t = PROCESS_T0 if start is None else start

  def lap(self, name):
    now = time.perf_counter()
    self.stages[name] = round(now - self._t, 2)
    self._t = now


def read_sst2(split):
  """SST-2 split as (sentences, int labels): tab-separated with a header, sentence in
  column 0, label in column 1 (dev/train; the test split has index, sentence and labels 0)."""
  import csv
  path = os.path.join(GLUE, "SST-2", "%s.tsv" % split)
  with open(path, encoding="utf-8", errors="ignore", newline="") as f:
    rows = list(csv.reader(f, delimiter="\t", quotechar=None))[1:]
  if split == "test":
    return [r[1] for r in rows], [0] * len(rows)
  return [r[0] for r in rows], [int(r[1]) for r in rows]


def vm_rss_mb():
  """Current resident set of this process (VmRSS), MiB; None where /proc is missing."""
  try:
    with open("/proc/self/status") as f:
      for line in f:
        if line.startswith("VmRSS:"):
          return int(line.split()[1]) / 1024.0
  except OSError:
    pass
  return None


def cyclic_request(items, batch_size, index):
  """The index-th request of batch_size items drawn cyclically from items (request 0 =
  items[0:batch_size], wrapping round at the end), so any number of requests of any size
  can be made from a fixed list of texts."""
  n = len(items)
  start = (index * batch_size) % n
  return [items[(start + k) % n] for k in range(batch_size)]


def real_text_sets(limit=0):
  """The real text the text rows run on: {"sst2_dev": [sentence], "mrpc_test": [(a, b)]}
  (SST-2 dev, MRPC test), the first `limit` of each if > 0."""
  sst2, _ = read_sst2("dev")
  a, b, _ = read_mrpc("test")
  out = {"sst2_dev": sst2, "mrpc_test": list(zip(a, b))}
  if limit:
    out = {k: v[:limit] for k, v in out.items()}
  return out


def timed_requests(call, items, batch_size, texts_per_window, windows, warmup):
  """Serving-style timing: call(request) once per request of batch_size items drawn
  cyclically from items (cyclic_request); `warmup` requests excluded, then `windows`
  windows of texts_per_window // batch_size requests (at least 1). ex/s = texts/s;
  req_per_s_median = requests/s; step_s_* = one request's seconds."""
  per_window = max(1, texts_per_window // batch_size)
  counter = [0]

  def one_pass(n):
    for _ in range(n):
      yield call(cyclic_request(items, batch_size, counter[0]))
      counter[0] += 1

  out = timed_batches(one_pass, per_window, windows, warmup, batch_size)
  out["req_per_s_median"] = out["ex_per_s_median"] / batch_size
  out["requests_per_window"] = per_window
  out["batch"] = batch_size
  return out


def timed_texts(predict, texts, batch_size, texts_per_window, windows, warmup):
  """Windows of predict(chunk) over consecutive chunks of texts_per_window texts (every
  full chunk of the data when windows is 0, else that many, cycling); one warm-up call on
  `warmup` batches of batch_size texts first.  summarize's dict: ex/s = texts/s."""
  predict(texts[:max(1, warmup) * batch_size])
  windows_s, cpu = [], []
  for chunk in chunks(texts, texts_per_window, windows):
    with Window() as w:
      predict(chunk)
    windows_s.append(w.wall)
    cpu.append(w.cpu)
  out = summarize(windows_s, texts_per_window, cpu_seconds=cpu)
  out.update({"texts": len(texts), "batch": batch_size})
  return out


def long_run(call, items, requests, window, warmup):
  """A long-lived server: `requests` requests of one item in a row (after `warmup`), each
  end timestamped; long_run_stats of them with VmRSS at the start and the end."""
  for i in range(warmup):
    call(cyclic_request(items, 1, i))
  rss_start = vm_rss_mb()
  marks = [time.perf_counter()]
  for i in range(requests):
    call(cyclic_request(items, 1, i))
    marks.append(time.perf_counter())
  return long_run_stats(marks, window, rss_start, vm_rss_mb())


def chunks(items, size, count=0):
  """Consecutive full chunks of `size` items (a remainder shorter than size is dropped);
  count > 0: exactly that many, cycling round the items when they run out."""
  if count <= 0:
    count = len(items) // size
  return [cyclic_request(items, size, i) for i in range(count)]


def long_run_stats(marks, window, rss_start=None, rss_end=None):
  """A long-lived run's steadiness from request-end timestamps marks[0..n] (marks[0] = the
  start of the first timed request): requests/s of the first and the last `window`
  requests, their ratio last/first (< 1 = the server slowed down), the whole run's
  requests/s, the slowest request, and the resident set at start and end (MiB)."""
  n = len(marks) - 1
  window = max(1, min(window, n))
  first = window / (marks[window] - marks[0])
  last = window / (marks[n] - marks[n - window])
  steps = [marks[i + 1] - marks[i] for i in range(n)]
  out = {"requests": n, "window": window, "first_req_per_s": first, "last_req_per_s": last,
         "last_over_first": last / first, "req_per_s": n / (marks[n] - marks[0]),
         "request_s_median": statistics.median(steps), "request_s_max": max(steps),
         "rss_start_mb": rss_start, "rss_end_mb": rss_end}
  if rss_start and rss_end:
    out["rss_growth_mb"] = rss_end - rss_start
  return out
