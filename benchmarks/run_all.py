"""bert_tf vs keras-hub vs HF transformers, side by side in one run (`make bench`).

Every measurement runs in its own fresh subprocess (so peak RSS is per system and
per mode), prints one `BENCH_JSON` line, and is collected here into a table of
absolute figures and ratios, written to benchmarks/RESULTS.md (and the raw
numbers to benchmarks/results.json).  See benchmarks/README.md.

Parts (default: fixed, tokenize, pretrain; --real_job adds the MRPC job):
  fixed     (a) fine-tuning ex/s at seq 128, batch 32, random ids: bert_tf Trainer
            (and --use_xla), keras-hub fit (jit off / on), HF torch eager;
            (b) predict ex/s at batch 32 and 128 (same systems).
  tokenize  (d) SST-2 train tokenization + features: fast path vs original path.
  pretrain  (e) create_pretraining_data on >= 10 MB: benchmarks/bench_create_pretraining_data.py.
  profile   bert_tf's step split into forward / backward / optimizer, and raw GEMM speed
            (profile_bert_tf.py; off by default).
  real_job  (c) MRPC train 3 epochs + eval + predict: run_classifier.py with the original
            flags vs keras-hub's pipeline vs HF run_glue-style loop.
  long      (b') predict at seq 384 and 512 (the SQuAD shapes), bert_tf vs HF, repeated and
            interleaved like (b), with the attention share of bert_tf's forward per length.
  squad     (g) SQuAD at seq 384: fine-tuning ex/s (batch 12) and predict ex/s (batch 12,
            32) of bert_tf's BertForSquad + Trainer vs HF BertForQuestionAnswering, then
            the real job on the SQuAD sample split by article: run_squad.py with the
            original README's flags vs an HF run_qa-style run (bench_hf_squad.py).
  text      (h) prediction on real text (not in the default parts): predict.py's
            ClassifierPredictor vs HF's text-classification pipeline on SST-2 dev and
            MRPC test at batch 32 (bench_text.py / bench_hf_text.py), and the serving
            SavedModel (plain tf.saved_model.load) vs the HF pipeline per request of
            1, 8, 32 texts plus a long-lived run of 10,000 single-text requests.
  (f) peak RSS of every subprocess (wait4 ru_maxrss) is in every table.

Usage:
  .venv/bin/python benchmarks/run_all.py [--quick] [--real_job] [--parts fixed,tokenize]
"""

import argparse
import datetime
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import common  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- machine state


def _cpu_jiffies():
  with open("/proc/stat") as f:
    fields = [int(x) for x in f.readline().split()[1:]]
  # user nice system idle iowait irq softirq steal guest guest_nice
  busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + fields[7]
  return busy


def others_busy_cores(seconds=2.0):
  """Cores kept busy by everything on the machine over `seconds` (we are idle)."""
  a = _cpu_jiffies()
  time.sleep(seconds)
  return (_cpu_jiffies() - a) / CLK_TCK / seconds


def wait_for_quiet(max_busy, max_wait_s, log):
  """Waits until the machine's busy cores (sampled over 3 s) drop below max_busy."""
  if max_busy is None:
    return others_busy_cores(1.0)
  t0 = time.time()
  while True:
    busy = others_busy_cores(3.0)
    if busy <= max_busy or time.time() - t0 >= max_wait_s:
      if busy > max_busy:
        log("  machine still busy (%.2f cores) after waiting %.0f s; running anyway" %
            (busy, time.time() - t0))
      return busy
    log("  waiting: other processes keep %.2f cores busy (load1 %.2f)" %
        (busy, os.getloadavg()[0]))
    time.sleep(10)


# --------------------------------------------------------------------------- subprocesses


class Job(object):

  def __init__(self, key, label, argv, timeout, python="main"):
    self.key, self.label, self.argv, self.timeout, self.python = key, label, argv, timeout, python


def run_subprocess(argv, log_path, timeout, env=None):
  """Runs argv with stdout+stderr to log_path; returns dict with wall, rss, cpu, others."""
  j0 = _cpu_jiffies()
  t0 = time.time()
  with open(log_path, "w") as logf:
    proc = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
    deadline = t0 + timeout
    status = usage = None
    while True:
      pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
      if pid:
        break
      if time.time() > deadline:
        proc.kill()
        _, status, usage = os.wait4(proc.pid, 0)
        break
      time.sleep(0.2)
  wall = time.time() - t0
  total_busy = (_cpu_jiffies() - j0) / CLK_TCK
  own_cpu = usage.ru_utime + usage.ru_stime
  return {"exit": os.waitstatus_to_exitcode(status), "wall_s": wall, "t_start": t0,
          "t_end": t0 + wall, "peak_rss_mb": usage.ru_maxrss / 1024.0, "cpu_s": own_cpu,
          "others_cores": max(0.0, (total_busy - own_cpu) / max(wall, 1e-9)),
          "timed_out": wall >= timeout}


def _is_rows(value):
  """A dict of per-key rows (by_batch, by_dataset...): every value has ex_per_s_median."""
  return isinstance(value, dict) and bool(value) and all(
      isinstance(v, dict) and "ex_per_s_median" in v for v in value.values())


# result fields of plain numbers combined over the processes (other plain-number dicts, e.g.
# a profile's, keep the first process's values)
SCALAR_FIELDS = ("long_run",)


def _is_scalars(value):
  """A dict of plain numbers (a serving long run's figures)."""
  return isinstance(value, dict) and bool(value) and all(
      v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))
      for v in value.values())


def _combine_rows(per):
  """One row from the same row (batch size, data set...) of every process: the first
  process's fields, the processes' own median ex/s ("process_ex_per_s", in run order) with
  their min / median / max; "ex_per_s_median" / "gflops_median" are the median process's,
  the slowest / fastest window over all processes is kept."""
  first = per[0]
  rates = [x["ex_per_s_median"] for x in per]
  med = statistics.median(rates)
  row = dict(first)
  row.update({"process_ex_per_s": rates, "processes": len(rates),
              "ex_per_s_median": med, "process_ex_per_s_min": min(rates),
              "process_ex_per_s_max": max(rates),
              "ex_per_s_min": min(x["ex_per_s_min"] for x in per),
              "ex_per_s_max": max(x["ex_per_s_max"] for x in per),
              "slowest_window_s": max(x["slowest_window_s"] for x in per)})
  if first.get("gflops_median"):
    row["gflops_median"] = first["gflops_median"] * med / first["ex_per_s_median"]
  if "req_per_s_median" in first and first.get("batch"):
    row["req_per_s_median"] = med / first["batch"]
  for key in ("cpu_util_median", "step_s_median"):
    if all(key in x for x in per):
      row[key] = statistics.median(x[key] for x in per)
  if all("step_s_max" in x for x in per):
    row["step_s_max"] = max(x["step_s_max"] for x in per)
  return row


def _combine_scalars(per):
  """Plain-number dicts of every process: each field's median over the processes (None
  when a process lacks it), and the processes' own dicts in "per_process"."""
  out = {}
  for key in per[0]:
    values = [x.get(key) for x in per]
    out[key] = statistics.median(values) if all(v is not None for v in values) else None
  out["per_process"] = per
  return out


def combine_runs(runs):
  """One job entry from its repeated processes (run_subprocess dicts with a "result"):
  the first successful run's fields; every dict of per-key rows in the result (by_batch,
  by_dataset, pair_by_batch: values with "ex_per_s_median") combined row by row
  (_combine_rows: the processes' min / median / max ex/s), the SCALAR_FIELDS dicts of
  plain numbers (a serving long run's figures) combined field by field (_combine_scalars:
  medians plus each process's dict), and the processes' own GEMM ceilings
  ("process_gemm_gflops", their median in "gemm_gflops"). Peak RSS and others' CPU are
  the largest of the runs; "runs" keeps each run's log, wall time, RSS and load."""
  ok = [r for r in runs if r["ok"]]
  entry = dict(ok[0] if ok else runs[-1])
  entry["ok"] = bool(ok) and len(ok) == len(runs)
  entry["runs"] = [{k: r.get(k) for k in ("exit", "log", "wall_s", "peak_rss_mb", "others_cores",
                                           "t_start")} for r in runs]
  entry["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
  entry["others_cores"] = max(r["others_cores"] for r in runs)
  if not entry["ok"]:
    return entry
  result = dict(ok[0]["result"])
  for field, first in ok[0]["result"].items():
    if _is_rows(first):
      result[field] = {
          k: _combine_rows([r["result"][field][k] for r in ok
                            if k in (r["result"].get(field) or {})]) for k in first}
    elif field in SCALAR_FIELDS and _is_scalars(first):
      result[field] = _combine_scalars([r["result"][field] for r in ok
                                        if _is_scalars(r["result"].get(field))])
  gemm = [r["result"].get("gemm_gflops") for r in ok]
  if all(g is not None for g in gemm):
    result["process_gemm_gflops"] = gemm
    result["gemm_gflops"] = statistics.median(gemm)
  entry["result"] = result
  return entry


def parse_bench_json(log_path):
  with open(log_path, errors="replace") as f:
    for line in f:
      if line.startswith("BENCH_JSON "):
        return json.loads(line[len("BENCH_JSON "):])
  return None


def tail(path, n=15):
  try:
    with open(path, errors="replace") as f:
      return "".join(f.readlines()[-n:])
  except OSError:
    return ""


# --------------------------------------------------------------------------- real job (bert_tf)

_ABSL = re.compile(r"^[IWEF](\d{4}) (\d\d:\d\d:\d\d\.\d+)\s+\d+\s+\S+\] (.*)$")


def absl_events(log_path, year):
  events = []
  with open(log_path, errors="replace") as f:
    for line in f:
      m = _ABSL.match(line.rstrip("\n"))
      if m:
        ts = datetime.datetime.strptime("%d%s %s" % (year, m.group(1), m.group(2)),
                                        "%Y%m%d %H:%M:%S.%f").timestamp()
        events.append((ts, m.group(3)))
  return events


def bert_tf_stages(log_path, t_start, t_end):
  """Stage wall times of a run_classifier log: setup (start -> first "Writing example
  0"), train (-> "Loss for final step"), eval (-> "***** Eval results *****"),
  predict (-> process end)."""
  events = absl_events(log_path, datetime.datetime.fromtimestamp(t_start).year)

  def first(prefix, after=0.0):
    for ts, msg in events:
      if ts >= after and msg.startswith(prefix):
        return ts
    return None

  marks = {"train_features": first("Writing example 0 of"),
           "running_training": first("***** Running training *****"),
           "train_done": first("Loss for final step"),
           "running_evaluation": first("***** Running evaluation *****"),
           "eval_done": first("***** Eval results *****"),
           "running_prediction": first("***** Running prediction*****")}
  if None in (marks["train_features"], marks["train_done"], marks["eval_done"]):
    return None, marks
  stages = {"setup": marks["train_features"] - t_start,
            "train": marks["train_done"] - marks["train_features"],
            "eval": marks["eval_done"] - marks["train_done"],
            "predict": t_end - marks["eval_done"]}
  stages["train_loop_only"] = marks["train_done"] - marks["running_training"]
  return {k: round(v, 2) for k, v in stages.items()}, marks


def squad_stages(log_path, t_start, t_end):
  """Stage wall times of a run_squad --do_train --do_predict log: setup (start -> the
  first "*** Example ***" of the training features), train_features (-> "Running
  training"), train (-> "Loss for final step"), predict_features (restore for inference
  + eval features, -> "Running predictions"), predict (-> "Writing predictions to"),
  postprocess_eval (-> process end: answers, n-best files, logits.npz... and the
  official metrics)."""
  events = absl_events(log_path, datetime.datetime.fromtimestamp(t_start).year)

  def first(prefix, after=0.0):
    for ts, msg in events:
      if ts >= after and msg.startswith(prefix):
        return ts
    return None

  marks = {"train_features": first("*** Example ***")}
  marks["running_training"] = first("***** Running training *****")
  marks["train_done"] = first("Loss for final step")
  marks["running_predictions"] = first("***** Running predictions *****")
  marks["writing_predictions"] = first("Writing predictions to")
  if None in marks.values():
    return None, marks
  stages = {"setup": marks["train_features"] - t_start,
            "train_features": marks["running_training"] - marks["train_features"],
            "train": marks["train_done"] - marks["running_training"],
            "predict_features": marks["running_predictions"] - marks["train_done"],
            "predict": marks["writing_predictions"] - marks["running_predictions"],
            "postprocess_eval": t_end - marks["writing_predictions"]}
  return {k: round(v, 2) for k, v in stages.items()}, marks


SQUAD_INPUT = os.path.join("data", "squad", "squad_v2.0_dev_first5articles.json")
SQUAD_TRAIN_ARTICLES = "Normans,Computational_complexity_theory,Southern_California," \
                       "Sky_(United_Kingdom)"
SQUAD_EVAL_ARTICLES = "Victoria_(Australia)"


def squad_split(python, out_dir, v2):
  """The train / eval files of `make squad` (bert_tf.squad.articles): (train, predict)."""
  form = "v2.0" if v2 else "v1.1"
  files = (os.path.join(out_dir, "train-%s.json" % form), os.path.join(out_dir, "dev-%s.json" % form))
  os.makedirs(out_dir, exist_ok=True)
  for path, articles, train in ((files[0], SQUAD_TRAIN_ARTICLES, True),
                                (files[1], SQUAD_EVAL_ARTICLES, False)):
    argv = [python, "-m", "bert_tf.squad.articles", "--input_file", SQUAD_INPUT,
            "--articles", articles, "--output_file", path]
    if not v2:
      argv.append("--answerable_only")
    if train:
      argv.append("--first_answer_only")
    subprocess.run(argv, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
  return files


def squad_fixed_jobs(a):
  tr = ["--warmup", str(a.warmup), "--steps", str(a.squad_steps), "--windows", str(a.windows),
        "--batch", str(a.squad_batch), "--seq", str(a.squad_seq)]
  pr = ["--warmup", str(a.pred_warmup), "--windows", str(a.windows), "--seq", str(a.squad_seq),
        "--examples_per_window", str(a.squad_examples_per_window), "--batches"] + \
       [str(b) for b in a.squad_predict_batches]
  bt, hf = "benchmarks/bench_squad.py", "benchmarks/bench_hf_squad.py"
  t_train = 900 + 120 * a.squad_steps * a.windows
  jobs = [
      Job("squad_train/bert_tf", "bert_tf BertForSquad Trainer", [bt, "--mode", "train"] + tr,
          t_train),
      Job("squad_train/hf", "HF BertForQuestionAnswering", [hf, "--mode", "train"] + tr,
          t_train, python="bench"),
      Job("squad_predict/bert_tf", "bert_tf BertForSquad predict",
          [bt, "--mode", "predict"] + pr, 1800),
      Job("squad_predict/hf", "HF BertForQuestionAnswering", [hf, "--mode", "predict"] + pr,
          1800, python="bench"),
  ]
  if a.skip_hf:
    jobs = [j for j in jobs if j.python != "bench"]
  return jobs


def text_jobs(a, work_dir):
  """Part "text": predict.py's path and HF's pipeline on real text, the serving SavedModel
  and the HF pipeline per request; all run repeated and interleaved (run_repeated)."""
  common_args = ["--texts_per_window", str(a.text_texts_per_window), "--warmup",
                 str(a.pred_warmup)] + (["--limit", str(a.text_limit)] if a.text_limit else [])
  text = common_args + ["--windows", str(a.text_windows)]
  serving = common_args + ["--windows", str(a.windows), "--long_requests",
                           str(a.long_requests), "--long_window", str(a.long_window),
                           "--batches"] + [str(b) for b in a.serving_batches] + \
      ["--pair_batches"] + [str(b) for b in a.serving_pair_batches]
  bt, hf = "benchmarks/bench_text.py", "benchmarks/bench_hf_text.py"
  jobs = [
      Job("text/bert_tf_predict_py", "bert_tf predict.py (ClassifierPredictor)",
          [bt, "--mode", "predict_py", "--work_dir", work_dir] + text, 3600),
      Job("text/hf_pipeline", "HF pipeline(\"text-classification\")",
          [hf, "--mode", "pipeline"] + text, 3600, python="bench"),
      Job("serving/bert_tf_savedmodel", "bert_tf serving SavedModel",
          [bt, "--mode", "serving", "--work_dir", work_dir] + serving, 3600),
      Job("serving/hf_pipeline", "HF pipeline per request", [hf, "--mode", "serving"] + serving,
          3600, python="bench"),
  ]
  if a.skip_hf:
    jobs = [j for j in jobs if j.python != "bench"]
  return jobs


def run_squad_argv(output_dir, train_file, predict_file, a):
  """run_squad.py with the original README's SQuAD command line (--learning_rate /
  --num_train_epochs from --squad_lr / --squad_epochs)."""
  m = os.path.relpath(common.MINILM, ROOT)
  argv = ["run_squad.py", "--vocab_file=%s/vocab.txt" % m,
          "--bert_config_file=%s/bert_config.json" % m,
          "--init_checkpoint=%s/bert_model.ckpt" % m, "--do_train=True",
          "--train_file=%s" % train_file, "--do_predict=True",
          "--predict_file=%s" % predict_file, "--train_batch_size=12",
          "--learning_rate=%s" % a.squad_lr, "--num_train_epochs=%s" % a.squad_epochs,
          "--max_seq_length=384", "--doc_stride=128", "--output_dir=%s" % output_dir]
  if a.squad_v2:
    argv.append("--version_2_with_negative=True")
  if a.squad_seed is not None:
    argv.append("--seed=%d" % a.squad_seed)
  return argv


# --------------------------------------------------------------------------- create_pretraining_data

_CPD_ROW = re.compile(r"^((?:original|fast) path.*?)\s+([\d.]+)\s+([\d.]+)\s+(\d+)\s+(\d+)\s*$")
_CPD_RUN = re.compile(r"^\s+((?:original|fast) path.*?) run (\d+): ([\d.]+) s")


def parse_pretrain(log_path):
  out = {"rows": {}, "runs": {}}
  with open(log_path, errors="replace") as f:
    for line in f:
      line = line.rstrip("\n")
      m = _CPD_ROW.match(line)
      if m:
        out["rows"][m.group(1).strip()] = {
            "s_min": float(m.group(2)), "s_median": float(m.group(3)),
            "max_process_rss_mb": float(m.group(4)), "peak_tree_rss_mb": float(m.group(5))}
      m = _CPD_RUN.match(line)
      if m:
        out["runs"].setdefault(m.group(1).strip(), []).append(float(m.group(3)))
      if line.startswith("corpus:"):
        out["corpus"] = line[len("corpus:"):].strip()
        m = re.search(r"([\d.]+) MB", line)
        if m:
          out["corpus_mb"] = float(m.group(1))
      if line.startswith("speed-up:"):
        nums = re.findall(r"([\d.]+)x", line)
        if len(nums) >= 2:
          out["speedup_min"], out["speedup_median"] = float(nums[0]), float(nums[1])
      if line.startswith("instances written:"):
        out["instances"] = line.split(":", 1)[1].strip()
  if not out["rows"] and out["runs"]:  # summary table format changed: rebuild from the runs
    for label, secs in out["runs"].items():
      out["rows"][label] = {"s_min": min(secs), "s_median": statistics.median(secs)}
  if "speedup_median" not in out:
    o = next((v for k, v in out["runs"].items() if k.startswith("original")), None)
    f = next((v for k, v in out["runs"].items() if k.startswith("fast")), None)
    if o and f:
      out["speedup_median"] = statistics.median(o) / statistics.median(f)
      out["speedup_min"] = min(o) / min(f)
  return out


# --------------------------------------------------------------------------- the plan


def fixed_jobs(a):
  tr = ["--warmup", str(a.warmup), "--steps", str(a.steps), "--windows", str(a.windows),
        "--batch", str(a.batch), "--seq", str(a.seq)]
  pr = ["--warmup", str(a.pred_warmup), "--windows", str(a.windows), "--seq", str(a.seq),
        "--examples_per_window", str(a.examples_per_window), "--batches"] + \
       [str(b) for b in a.predict_batches]
  bt, kh, hf = "benchmarks/bench_bert_tf.py", "benchmarks/bench_keras_hub.py", \
      "benchmarks/bench_hf.py"
  t_train = 900 + 60 * a.steps * a.windows
  jobs = [
      Job("train/bert_tf", "bert_tf Trainer", [bt, "--mode", "train"] + tr, t_train),
      Job("train/keras_hub", "keras-hub fit", [kh, "--mode", "train"] + tr, t_train),
      Job("train/keras_hub_jit", "keras-hub fit jit", [kh, "--mode", "train", "--jit"] + tr,
          t_train),
      Job("train/hf", "HF torch eager", [hf, "--mode", "train"] + tr, t_train, python="bench"),
      Job("train/bert_tf_xla", "bert_tf Trainer --use_xla",
          [bt, "--mode", "train", "--use_xla"] + tr, t_train),
      Job("train/bert_tf_bf16", "bert_tf Trainer --dtype=bfloat16",
          [bt, "--mode", "train", "--dtype", "bfloat16"] + tr, t_train),
      Job("predict/bert_tf", "bert_tf predict", [bt, "--mode", "predict"] + pr, 1800),
      Job("predict/bert_tf_xla", "bert_tf predict --use_xla",
          [bt, "--mode", "predict", "--use_xla"] + pr, 1800),
      Job("predict/bert_tf_autotune", "bert_tf predict, tf.data autotune on (stall check)",
          [bt, "--mode", "predict", "--input", "autotune"] + pr, 1800),
      Job("predict/bert_tf_direct", "bert_tf predict, no tf.data (tensors fed directly)",
          [bt, "--mode", "predict", "--input", "direct"] + pr, 1800),
      Job("predict/keras_hub", "keras-hub predict", [kh, "--mode", "predict"] + pr, 1800),
      Job("predict/keras_hub_jit", "keras-hub predict jit",
          [kh, "--mode", "predict", "--jit"] + pr, 1800),
      Job("predict/hf", "HF torch eager", [hf, "--mode", "predict"] + pr, 1800,
          python="bench"),
  ]
  if a.skip_hf:
    jobs = [j for j in jobs if j.python != "bench"]
  if a.skip_xla:
    jobs = [j for j in jobs if "xla" not in j.key]
  return jobs


def long_jobs(a):
  """Predict at the SQuAD lengths (issue 20 item 4): bert_tf's classifier forward and HF's
  at seq 384 and 512, repeated and interleaved like (b); with the attention share of
  bert_tf's forward at each length (bench_squad.py --mode=profile)."""
  jobs, profiles = [], []
  for seq in a.long_seqs:
    pr = ["--warmup", str(a.pred_warmup), "--windows", str(a.windows), "--seq", str(seq),
          "--examples_per_window", str(a.long_examples_per_window), "--batches"] + \
         [str(b) for b in a.long_batches]
    jobs.append(Job("predict%d/bert_tf" % seq, "bert_tf predict",
                    ["benchmarks/bench_bert_tf.py", "--mode", "predict"] + pr, 3600))
    if not a.skip_hf:
      jobs.append(Job("predict%d/hf" % seq, "HF torch eager",
                      ["benchmarks/bench_hf.py", "--mode", "predict"] + pr, 3600,
                      python="bench"))
    profiles.append(Job("profile%d/bert_tf" % seq, "bert_tf attention share",
                        ["benchmarks/bench_squad.py", "--mode", "profile", "--seq", str(seq),
                         "--batch", str(a.long_batches[0]), "--reps", "2" if a.quick else "3"],
                        3600))
  return jobs, profiles


def run_classifier_argv(output_dir, a):
  m = os.path.relpath(common.MINILM, ROOT)
  return ["run_classifier.py", "--task_name=MRPC", "--do_train=true", "--do_eval=true",
          "--do_predict=true", "--data_dir=data/glue/MRPC", "--vocab_file=%s/vocab.txt" % m,
          "--bert_config_file=%s/bert_config.json" % m,
          "--init_checkpoint=%s/bert_model.ckpt" % m, "--max_seq_length=128",
          "--train_batch_size=32", "--learning_rate=2e-5",
          "--num_train_epochs=%s" % a.real_job_epochs, "--output_dir=%s" % output_dir]


def main():
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--parts", default="fixed,tokenize,pretrain",
                 help="comma list of fixed, long, tokenize, pretrain, profile, real_job, "
                      "squad")
  p.add_argument("--real_job", action="store_true", help="add the MRPC job (~45 min)")
  p.add_argument("--quick", action="store_true",
                 help="smoke settings: tiny windows, 2k SST-2 examples, 1 MB corpus, "
                      "MRPC 0.05 epochs")
  p.add_argument("--batch", type=int, default=32)
  p.add_argument("--seq", type=int, default=128)
  p.add_argument("--warmup", type=int, default=2)
  p.add_argument("--steps", type=int, default=6, help="train steps per window")
  p.add_argument("--windows", type=int, default=3)
  p.add_argument("--pred_warmup", type=int, default=2)
  p.add_argument("--predict_batches", type=int, nargs="+", default=[32, 128])
  p.add_argument("--examples_per_window", type=int, default=256)
  p.add_argument("--repeats", type=int, default=3,
                 help="predict jobs (fixed and squad): run each this many times, each in a "
                      "fresh process, interleaved with the other systems' (round r runs every "
                      "predict job once); tables show min / median / max over the processes "
                      "and targets are judged on bert_tf's slowest process against the peer's "
                      "fastest")
  p.add_argument("--long_seqs", type=int, nargs="+", default=[384, 512],
                 help="long: predict sequence lengths")
  p.add_argument("--long_batches", type=int, nargs="+", default=[12],
                 help="long: predict batch sizes (the first is the profile's)")
  p.add_argument("--long_examples_per_window", type=int, default=48)
  p.add_argument("--tokenize_repeats", type=int, default=3)
  p.add_argument("--tokenize_limit", type=int, default=0)
  p.add_argument("--pretrain_mb", type=float, default=10.0)
  p.add_argument("--pretrain_repeats", type=int, default=3)
  p.add_argument("--real_job_epochs", type=float, default=3.0)
  p.add_argument("--squad_seq", type=int, default=384, help="squad: fixed-shape rows' length")
  p.add_argument("--squad_batch", type=int, default=12, help="squad: fixed-shape train batch")
  p.add_argument("--squad_steps", type=int, default=4, help="squad: train steps per window")
  p.add_argument("--squad_predict_batches", type=int, nargs="+", default=[12, 32])
  p.add_argument("--squad_examples_per_window", type=int, default=96)
  p.add_argument("--squad_v2", action="store_true",
                 help="squad: the real job in the SQuAD 2.0 form (default 1.1: answerable "
                      "questions only)")
  p.add_argument("--squad_lr", type=float, default=3e-5, help="squad real job learning rate")
  p.add_argument("--squad_epochs", type=float, default=2.0, help="squad real job epochs")
  p.add_argument("--squad_seed", type=int, default=None,
                 help="squad real job: run_squad.py --seed and the HF reference's seed "
                      "(default: run_squad unseeded, HF seed 0)")
  p.add_argument("--squad_hf_no_bias_correction", action="store_true",
                 help="squad real job: the HF reference trains with the original BERT "
                      "optimizer's update (no Adam bias correction) instead of AdamW")
  p.add_argument("--squad_hf_original_input", action="store_true",
                 help="squad_job/hf: train on run_squad's input order and schedule (the "
                      "Random(12345) pre-shuffle, shuffle buffer 100, its step count and "
                      "learning-rate schedule) instead of run_qa's")
  p.add_argument("--squad_skip_fixed", action="store_true",
                 help="squad: only the real job")
  p.add_argument("--squad_profile", action="store_true",
                 help="squad: also attention's share of bert_tf's forward / forward+backward "
                      "time at the squad shape (bench_squad.py --mode=profile)")
  p.add_argument("--text_texts_per_window", type=int, default=256,
                 help="text: texts per timed window (one predict call / that many texts of "
                      "requests)")
  p.add_argument("--text_windows", type=int, default=0,
                 help="text: windows per data set (0: every full window of SST-2 dev / MRPC "
                      "test, i.e. one pass over each)")
  p.add_argument("--text_limit", type=int, default=0,
                 help="text: only the first N texts of each data set")
  p.add_argument("--serving_batches", type=int, nargs="+", default=[1, 8, 32],
                 help="text: serving request sizes (SST-2 dev, single sentences)")
  p.add_argument("--serving_pair_batches", type=int, nargs="*", default=[32],
                 help="text: serving request sizes for MRPC test pairs")
  p.add_argument("--long_requests", type=int, default=10000,
                 help="text: requests of the serving long-lived run (batch 1)")
  p.add_argument("--long_window", type=int, default=1000,
                 help="text: the long run's first / last N requests compared")
  p.add_argument("--jobs", default="",
                 help="comma list of job keys or prefixes to run (e.g. train/bert_tf,predict/); "
                      "default all jobs of the chosen parts")
  p.add_argument("--merge", action="store_true",
                 help="start from the existing --json results and replace only the jobs run "
                      "now (re-measure one system when the machine was busy during it)")
  p.add_argument("--skip_hf", action="store_true")
  p.add_argument("--skip_xla", action="store_true")
  p.add_argument("--max_busy", type=float, default=None,
                 help="before each job wait until other processes keep fewer than this many "
                      "cores busy (e.g. 0.25)")
  p.add_argument("--max_wait_s", type=float, default=300.0)
  p.add_argument("--retry_busy", type=float, default=None,
                 help="re-run a job whose run saw other processes keep more than this many "
                      "cores busy (e.g. 0.3); the least contended run is kept")
  p.add_argument("--max_retries", type=int, default=1)
  p.add_argument("--peak_gflops", type=float, default=common.DEFAULT_PEAK_GFLOPS)
  p.add_argument("--main_python", default=os.path.join(ROOT, ".venv", "bin", "python"))
  p.add_argument("--bench_python", default=os.path.join(ROOT, ".venv-bench", "bin", "python"))
  p.add_argument("--results", default=os.path.join(HERE, "RESULTS.md"))
  p.add_argument("--json", default=os.path.join(HERE, "results.json"))
  p.add_argument("--log_dir", default=os.path.join(HERE, "logs"))
  a = p.parse_args()
  if a.quick:
    a.warmup, a.steps, a.windows, a.batch = 1, 1, 3, 32
    a.pred_warmup, a.examples_per_window, a.predict_batches = 1, 32, [32]
    a.repeats = min(a.repeats, 2)
    a.long_examples_per_window = 12
    a.tokenize_repeats, a.tokenize_limit = 3, 2000
    a.pretrain_mb, a.pretrain_repeats = 1.0, 3
    a.real_job_epochs = 0.05
    a.squad_steps, a.squad_predict_batches, a.squad_examples_per_window = 1, [12], 12
    a.squad_epochs = min(a.squad_epochs, 0.1)
    a.text_texts_per_window, a.text_windows = 64, 2
    a.long_requests, a.long_window = min(a.long_requests, 600), min(a.long_window, 200)
    if a.results == os.path.join(HERE, "RESULTS.md"):
      a.results = os.path.join(a.log_dir, "RESULTS.quick.md")
      a.json = os.path.join(a.log_dir, "results.quick.json")
  parts = [x.strip() for x in a.parts.split(",") if x.strip()]
  if a.real_job and "real_job" not in parts:
    parts.append("real_job")
  os.makedirs(a.log_dir, exist_ok=True)
  started = time.time()

  def log(msg):
    sys.stdout.write(msg + "\n")
    sys.stdout.flush()

  pythons = {"main": a.main_python, "bench": a.bench_python}
  results = {"started": datetime.datetime.now().isoformat(timespec="seconds"),
             "argv": sys.argv[1:], "parts": parts, "machine": common.machine_info(),
             "peak_gflops": a.peak_gflops, "settings": vars(a), "jobs": {}}
  if a.merge and os.path.exists(a.json):
    with open(a.json) as f:
      previous = json.load(f)
    previous.setdefault("merged_runs", []).append(
        {"started": results["started"], "argv": results["argv"]})
    previous["settings_last_merge"] = vars(a)
    results = previous
  selected = [x.strip() for x in a.jobs.split(",") if x.strip()]

  def wanted(key):
    return not selected or any(key == s or key.startswith(s) for s in selected)
  try:
    with open("/proc/sys/kernel/sched_autogroup_enabled") as f:
      if f.read().strip() == "1":
        log("note: the kernel's autogroup scheduling is on: `nice` does not keep work in "
            "other sessions from taking CPU from these jobs (benchmarks/README.md)")
  except OSError:
    pass
  log("bench: parts %s; machine %s, %s cores; load average %s" %
      (",".join(parts), results["machine"].get("cpu"), os.cpu_count(),
       " ".join("%.2f" % x for x in os.getloadavg())))

  def run_job(key, label, argv, timeout, python="main", parse=parse_bench_json, env=None,
              retry=True):
    """Runs the job; with --retry_busy (and retry), runs it again (up to --max_retries
    times) while other processes kept more than that many cores busy, and keeps the least
    contended run."""
    if not wanted(key):
      return results["jobs"].get(key)
    best = None
    tries = []
    retries = a.max_retries if (retry and a.retry_busy is not None) else 0
    for attempt in range(1 + max(0, retries)):
      r = run_job_once(key, label, argv, timeout, python, parse, env, attempt)
      tries.append(round(r["others_cores"], 2))
      if best is None or (r["ok"] and (not best["ok"] or r["others_cores"] < best["others_cores"])):
        best = r
      if not retries or not r["ok"] or r["others_cores"] <= a.retry_busy:
        break
      log("    others kept %.2f cores busy (> %.2f): measuring again" %
          (r["others_cores"], a.retry_busy))
    best["others_cores_per_try"] = tries
    results["jobs"][key] = best
    with open(a.json, "w") as f:
      json.dump(results, f, indent=1, sort_keys=True, default=str)
    return best

  def run_job_once(key, label, argv, timeout, python, parse, env, attempt, suffix="try"):
    busy_before = wait_for_quiet(a.max_busy, a.max_wait_s, log)
    log_path = os.path.join(a.log_dir, key.replace("/", "__") +
                            (".%s%d" % (suffix, attempt + 1) if attempt else "") + ".log")
    full = [pythons[python]] + argv
    log("[%s] %s  (others busy %.2f cores, load1 %.2f)" %
        (time.strftime("%H:%M:%S"), key, busy_before, os.getloadavg()[0]))
    r = run_subprocess(full, log_path, timeout, env=env)
    r.update({"label": label, "cmd": " ".join(shlex.quote(x) for x in full),
              "log": os.path.relpath(log_path, ROOT), "others_busy_before": busy_before,
              "load1_after": os.getloadavg()[0]})
    r["result"] = parse(log_path) if parse else None
    ok = r["exit"] == 0 and r["result"] is not None
    r["ok"] = ok
    log("    %s in %.0f s, peak RSS %.0f MiB, others' CPU during run %.2f cores%s" %
        ("ok" if ok else "FAILED (exit %s)" % r["exit"], r["wall_s"], r["peak_rss_mb"],
         r["others_cores"], "" if ok else "\n" + tail(log_path)))
    return r

  def run_repeated(jobs):
    """Each job --repeats times in fresh processes, interleaved: round r runs every job
    once, in order, so that a slow spell of the machine hits every system alike."""
    jobs = [j for j in jobs if wanted(j.key)]
    runs = {j.key: [] for j in jobs}
    for rnd in range(max(1, a.repeats)):
      if a.repeats > 1:
        log("  round %d of %d" % (rnd + 1, a.repeats))
      for j in jobs:
        runs[j.key].append(run_job_once(j.key, j.label, j.argv, j.timeout, j.python,
                                        parse_bench_json, None, rnd, suffix="run"))
    for key, rs in runs.items():
      results["jobs"][key] = combine_runs(rs)
    with open(a.json, "w") as f:
      json.dump(results, f, indent=1, sort_keys=True, default=str)

  if "fixed" in parts:
    fixed = fixed_jobs(a)
    for j in fixed:
      if not j.key.startswith("predict/"):
        run_job(j.key, j.label, j.argv, j.timeout, j.python)
    run_repeated([j for j in fixed if j.key.startswith("predict/")])

  if "long" in parts:
    predicts, profiles = long_jobs(a)
    run_repeated(predicts)
    for j in profiles:
      run_job(j.key, j.label, j.argv, j.timeout, j.python)

  if "tokenize" in parts:
    argv = ["benchmarks/bench_tokenize.py", "--repeats", str(a.tokenize_repeats)]
    if a.tokenize_limit:
      argv += ["--limit", str(a.tokenize_limit)]
    run_job("tokenize/sst2", "SST-2 tokenization + features", argv, 3600)

  if "pretrain" in parts:
    work = os.path.join(a.log_dir, "pretrain_work")
    argv = ["benchmarks/bench_create_pretraining_data.py", "--corpus_mb", str(a.pretrain_mb),
            "--repeats", str(a.pretrain_repeats), "--work_dir", work]

    def parse_cpd(path):
      out = parse_pretrain(path)
      return out if out.get("rows") else None

    run_job("pretrain/create_pretraining_data", "create_pretraining_data", argv, 5400,
            parse=parse_cpd)

  if "profile" in parts:
    run_job("profile/bert_tf", "bert_tf step breakdown",
            ["benchmarks/profile_bert_tf.py", "--reps", "2" if a.quick else "5",
             "--batch", str(a.batch), "--seq", str(a.seq)], 3600)

  if "real_job" in parts:
    out_dir = os.path.join(a.log_dir, "mrpc_bert_tf_output")
    if os.path.isdir(out_dir):
      import shutil
      shutil.rmtree(out_dir)

    def parse_rc(path):
      return {"log_path": path}

    r = run_job("real_job/bert_tf", "bert_tf run_classifier.py", run_classifier_argv(out_dir, a),
                7200, parse=parse_rc, retry=False)
  if "real_job" in parts and wanted("real_job/bert_tf"):
    stages, marks = bert_tf_stages(os.path.join(ROOT, r["log"]), r["t_start"], r["t_end"])
    r["result"] = {"stages_s": stages, "marks": marks}
    try:
      with open(os.path.join(out_dir, "eval_results.txt")) as f:
        r["result"]["eval_results"] = dict(l.strip().split(" = ") for l in f if " = " in l)
    except OSError:
      pass
    r["ok"] = r["exit"] == 0 and stages is not None
  if "real_job" in parts:
    epochs = ["--epochs", str(a.real_job_epochs)]
    run_job("real_job/keras_hub", "keras-hub pipeline",
            ["benchmarks/bench_keras_hub.py", "--mode", "real_job"] + epochs, 7200,
            retry=False)
    if not a.skip_hf:
      run_job("real_job/hf", "HF run_glue-style", ["benchmarks/bench_hf.py", "--mode",
                                                   "real_job"] + epochs, 7200, python="bench",
              retry=False)

  if "squad" in parts:
    if not a.squad_skip_fixed:
      squad_fixed = squad_fixed_jobs(a)
      for j in squad_fixed:
        if not j.key.startswith("squad_predict/"):
          run_job(j.key, j.label, j.argv, j.timeout, j.python)
      run_repeated([j for j in squad_fixed if j.key.startswith("squad_predict/")])
    if a.squad_profile:
      run_job("squad_profile/bert_tf", "bert_tf attention share",
              ["benchmarks/bench_squad.py", "--mode", "profile", "--batch", str(a.squad_batch),
               "--seq", str(a.squad_seq), "--reps", "2" if a.quick else "5"], 3600)
    train_file, predict_file = squad_split(a.main_python, os.path.join(a.log_dir, "squad_data"),
                                           a.squad_v2)
    out_dir = os.path.join(a.log_dir, "squad_bert_tf_output")
    if os.path.isdir(out_dir) and wanted("squad_job/bert_tf"):
      import shutil
      shutil.rmtree(out_dir)
    r = run_job("squad_job/bert_tf", "bert_tf run_squad.py",
                run_squad_argv(out_dir, train_file, predict_file, a), 7200,
                parse=lambda path: {"log_path": path}, retry=False)
    if wanted("squad_job/bert_tf"):
      stages, marks = squad_stages(os.path.join(ROOT, r["log"]), r["t_start"], r["t_end"])
      r["result"] = {"stages_s": stages, "marks": marks, "form": "2.0" if a.squad_v2 else "1.1",
                     "learning_rate": a.squad_lr, "epochs": a.squad_epochs,
                     "seed": a.squad_seed}
      try:
        with open(os.path.join(out_dir, "eval_results.txt")) as f:
          r["result"]["eval"] = {k: float(v) for k, v in
                                 (l.strip().split(" = ") for l in f if " = " in l)}
      except (OSError, ValueError):
        pass
      r["ok"] = r["exit"] == 0 and stages is not None
      with open(a.json, "w") as f:
        json.dump(results, f, indent=1, sort_keys=True, default=str)
    if not a.skip_hf:
      argv = ["benchmarks/bench_hf_squad.py", "--mode", "real_job", "--train_file", train_file,
              "--predict_file", predict_file, "--learning_rate", str(a.squad_lr), "--epochs",
              str(a.squad_epochs), "--seed", str(a.squad_seed or 0),
              "--output_dir", os.path.join(a.log_dir, "squad_hf_output")]
      if a.squad_v2:
        argv.append("--version_2_with_negative")
      if a.squad_hf_no_bias_correction:
        argv.append("--no_bias_correction")
      if a.squad_hf_original_input:
        argv.append("--original_input")
      run_job("squad_job/hf", "HF run_qa-style", argv, 7200, python="bench", retry=False)

  if "text" in parts:
    work = os.path.join(a.log_dir, "text_model")
    jobs = [j for j in text_jobs(a, work) if wanted(j.key)]
    if any(j.python == "main" for j in jobs):
      # the fine-tuned stand-in (checkpoint + serving export) once, outside the timed
      # processes (bench_text.py reuses it while the model dir and length agree)
      log("[%s] text: preparing the classifier checkpoint and serving export in %s" %
          (time.strftime("%H:%M:%S"), os.path.relpath(work, ROOT)))
      prepare_log = os.path.join(a.log_dir, "text__prepare.log")
      with open(prepare_log, "w") as f:
        code = subprocess.run([pythons["main"], "benchmarks/bench_text.py", "--mode",
                               "prepare", "--export", "--work_dir", work], cwd=ROOT,
                              stdout=f, stderr=subprocess.STDOUT).returncode
      if code:
        raise SystemExit("text: preparing the model failed (exit %s):\n%s" %
                         (code, tail(prepare_log)))
    run_repeated(jobs)

  results["finished"] = datetime.datetime.now().isoformat(timespec="seconds")
  results["total_wall_s"] = time.time() - started
  results["versions"] = collect_versions(results, pythons)
  results["files"] = {"json": os.path.relpath(a.json, ROOT),
                      "log_dir": os.path.relpath(a.log_dir, ROOT) + "/"}
  with open(a.json, "w") as f:
    json.dump(results, f, indent=1, sort_keys=True, default=str)
  import report
  text = report.render(results)
  with open(a.results, "w") as f:
    f.write(text)
  log("\n" + text)
  log("written: %s, %s (total %.1f min)" % (os.path.relpath(a.results, ROOT),
                                            os.path.relpath(a.json, ROOT),
                                            results["total_wall_s"] / 60))


def collect_versions(results, pythons):
  versions = {"python": platform.python_version()}
  for job in results["jobs"].values():
    res = job.get("result") or {}
    versions.update(res.get("versions") or {})
  for name, py in pythons.items():
    try:
      out = subprocess.run([py, "-c", "import numpy; print(numpy.__version__)"],
                           capture_output=True, text=True, timeout=60).stdout.strip()
      versions["numpy (%s venv)" % name] = out
    except (OSError, subprocess.SubprocessError):
      pass
  return versions


if __name__ == "__main__":
  main()
