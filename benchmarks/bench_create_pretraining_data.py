"""Benchmark: create_pretraining_data.py, original path vs fast path.

Builds a deterministic >= 10 MB corpus, then runs the script as a subprocess
with `--num_workers=1` (the original algorithm restated step by step: GFile
line reading, `FullTokenizer.tokenize_exact` per line, string instances, one
`tf.train.Example` per record) and with `--num_workers=2` (parallel
tokenization, id-based rng pass, direct wire-format writing).  Every run's
output is parsed and checked equal to the first original-path run.  Prints
min/median wall time of each, the ratio, and peak memory.

The corpus is SYNTHETIC in its document structure: real English sentences
(data/pretrain/sample_text.txt and the GLUE CoLA, MRPC and SST-2 training
sentences) shuffled with a fixed seed into documents of 3-30 sentences,
separated by blank lines.  Sentences repeat across documents once the pool is
used up (the pool holds about 4.5 MB of text).

Usage: .venv/bin/python benchmarks/bench_create_pretraining_data.py
         [--corpus_mb 10] [--dupe_factor 5] [--repeats 3] [--work_dir DIR]
"""

import argparse
import csv
import hashlib
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "create_pretraining_data.py")
VOCAB = os.path.join(ROOT, "tests", "fixtures", "tiny_uncased", "vocab.txt")
SAMPLE_TEXT = os.path.join(ROOT, "data", "pretrain", "sample_text.txt")
GLUE = os.path.join(ROOT, "data", "glue")
# (task, columns holding a sentence, has a header line)
GLUE_SENTENCES = (("CoLA", (3,), False), ("MRPC", (3, 4), True),
                  ("SST-2", (0,), True))


def sentence_pool():
  """Every non-empty sentence of sample_text.txt and the GLUE training files."""
  pool = []
  with open(SAMPLE_TEXT, encoding="utf-8") as f:
    pool.extend(line.strip() for line in f if line.strip())
  for task, columns, has_header in GLUE_SENTENCES:
    path = os.path.join(GLUE, task, "train.tsv")
    with open(path, encoding="utf-8-sig", newline="") as f:
      rows = csv.reader(f, delimiter="\t", quotechar=None)
      if has_header:
        next(rows)
      for row in rows:
        for column in columns:
          if column < len(row) and row[column].strip():
            pool.append(row[column].strip())
  return pool


def build_corpus(path, target_bytes, seed=0):
  """Writes documents of 3-30 pooled sentences, blank-line separated; returns stats."""
  rng = random.Random(seed)
  pool = sentence_pool()
  order = []
  written = documents = lines = 0
  with open(path, "w", encoding="utf-8") as f:
    while written < target_bytes:
      size = rng.randint(3, 30)
      sentences = []
      for _ in range(size):
        if not order:
          order = list(pool)
          rng.shuffle(order)
        sentences.append(order.pop())
      text = "\n".join(sentences) + "\n\n"
      f.write(text)
      written += len(text.encode("utf-8"))
      documents += 1
      lines += size
  return {"bytes": written, "documents": documents, "sentences": lines,
          "pool_sentences": len(pool)}


def _status_kb(pid, key):
  """A kB value of /proc/<pid>/status (VmRSS, VmHWM), or 0 if gone."""
  try:
    with open("/proc/%d/status" % pid) as f:
      for line in f:
        if line.startswith(key + ":"):
          return int(line.split()[1])
  except OSError:
    pass
  return 0


def _children(pid):
  """Pids whose parent is `pid` (the pool workers of a run)."""
  children = []
  for name in os.listdir("/proc"):
    if not name.isdigit():
      continue
    try:
      with open("/proc/%s/stat" % name) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
      continue
    if int(fields[1]) == pid:
      children.append(int(name))
  return children


def timed_run(args):
  """Runs the script; returns (seconds, main peak RSS MB, peak tree RSS MB).

  Memory is sampled from /proc every 20 ms: VmHWM (peak RSS) of the main
  process, and the sum of VmRSS over it and its worker processes.  (wait4's
  ru_maxrss is not used: on Linux it includes the forked image of this
  benchmark process before exec.)
  """
  start = time.perf_counter()
  proc = subprocess.Popen([sys.executable, SCRIPT] + args,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
  peaks = {"main": 0, "tree": 0}
  done = threading.Event()

  def sample():
    while not done.is_set():
      peaks["main"] = max(peaks["main"], _status_kb(proc.pid, "VmHWM"))
      tree = _status_kb(proc.pid, "VmRSS") + sum(
          _status_kb(child, "VmRSS") for child in _children(proc.pid))
      peaks["tree"] = max(peaks["tree"], tree)
      done.wait(0.02)

  sampler = threading.Thread(target=sample, daemon=True)
  sampler.start()
  stderr = proc.stderr.read()
  proc.wait()
  seconds = time.perf_counter() - start
  done.set()
  sampler.join()
  if proc.returncode != 0:
    sys.stderr.write(stderr.decode("utf-8", "replace"))
    raise SystemExit("run failed: %s" % " ".join(args))
  return seconds, peaks["main"] / 1024.0, peaks["tree"] / 1024.0


def parsed_digest(path, max_seq_length, max_predictions_per_seq):
  """(record count, sha256 of every parsed feature) of a TFRecord file.

  Parsed with tf.io.parse_example against the original's feature spec (int64
  features, float masked_lm_weights), so two files agree exactly when every
  record has the same feature values, whatever the byte order of the maps.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  seq, preds = max_seq_length, max_predictions_per_seq
  spec = {
      "input_ids": tf.io.FixedLenFeature([seq], tf.int64),
      "input_mask": tf.io.FixedLenFeature([seq], tf.int64),
      "segment_ids": tf.io.FixedLenFeature([seq], tf.int64),
      "masked_lm_positions": tf.io.FixedLenFeature([preds], tf.int64),
      "masked_lm_ids": tf.io.FixedLenFeature([preds], tf.int64),
      "masked_lm_weights": tf.io.FixedLenFeature([preds], tf.float32),
      "next_sentence_labels": tf.io.FixedLenFeature([1], tf.int64),
  }
  dataset = tf.data.TFRecordDataset(path).batch(4096).map(
      lambda records: tf.io.parse_example(records, spec))
  digest = hashlib.sha256()
  count = 0
  for batch in dataset.as_numpy_iterator():
    for name in sorted(batch):
      digest.update(name.encode())
      digest.update(batch[name].tobytes())
    count += len(batch["input_ids"])
  return count, digest.hexdigest()


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--corpus_mb", type=float, default=10.0)
  parser.add_argument("--dupe_factor", type=int, default=5)
  parser.add_argument("--max_seq_length", type=int, default=128)
  parser.add_argument("--max_predictions_per_seq", type=int, default=20)
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--fast_workers", type=int, default=2)
  parser.add_argument("--work_dir", default=None)
  args = parser.parse_args()

  work_dir = args.work_dir or tempfile.mkdtemp(prefix="bench_pretraining_data_")
  os.makedirs(work_dir, exist_ok=True)
  corpus = os.path.join(work_dir, "corpus.txt")
  stats = build_corpus(corpus, int(args.corpus_mb * 1e6))
  print("corpus: %s  %.2f MB, %d documents, %d sentence lines (pool of %d "
        "distinct sentences; SYNTHETIC document structure)" %
        (corpus, stats["bytes"] / 1e6, stats["documents"], stats["sentences"],
         stats["pool_sentences"]))
  common = ["--input_file=%s" % corpus, "--vocab_file=%s" % VOCAB,
            "--do_lower_case=True", "--max_seq_length=%d" % args.max_seq_length,
            "--max_predictions_per_seq=%d" % args.max_predictions_per_seq,
            "--masked_lm_prob=0.15", "--random_seed=12345",
            "--dupe_factor=%d" % args.dupe_factor, "--short_seq_prob=0.1"]
  print("flags: %s" % " ".join(common[1:]))
  print("cpus: %d, python %s, load average before: %.1f" %
        (os.cpu_count(), sys.version.split()[0], os.getloadavg()[0]))

  paths = (("original path (--num_workers=1)", 1),
           ("fast path (--num_workers=%d)" % args.fast_workers, args.fast_workers))
  results = {label: [] for label, _ in paths}
  reference = None
  # Interleaved (original, fast, original, fast, ...) so that a change in the
  # machine's load affects both sides alike.
  for repeat in range(args.repeats):
    for label, workers in paths:
      output = os.path.join(work_dir, "out_w%d_r%d.tfrecord" % (workers, repeat))
      seconds, max_rss, tree_rss = timed_run(
          common + ["--output_file=%s" % output, "--num_workers=%d" % workers])
      digest = parsed_digest(output, args.max_seq_length,
                             args.max_predictions_per_seq)
      if reference is None:
        reference = digest
      if digest != reference:
        raise SystemExit("OUTPUT MISMATCH: %s run %d" % (label, repeat + 1))
      os.remove(output)
      results[label].append((seconds, max_rss, tree_rss))
      print("  %s run %d: %.2f s, peak RSS main process %.0f MB, peak RSS "
            "main + workers %.0f MB (load average %.1f)" %
            (label, repeat + 1, seconds, max_rss, tree_rss, os.getloadavg()[0]))
      sys.stdout.flush()

  print("\ninstances written: %d (parsed outputs identical in all %d runs)" %
        (reference[0], 2 * args.repeats))
  print("%-34s %8s %8s %14s %14s" % ("", "min s", "median s", "main peak MB",
                                      "+workers MB"))
  summary = {}
  for label, runs in results.items():
    times = [r[0] for r in runs]
    summary[label] = (min(times), statistics.median(times))
    print("%-34s %8.2f %8.2f %14.0f %14.0f" %
          (label, min(times), statistics.median(times),
           max(r[1] for r in runs), max(r[2] for r in runs)))
  (orig_min, orig_med), (fast_min, fast_med) = summary.values()
  print("speed-up: %.2fx (min), %.2fx (median)" %
        (orig_min / fast_min, orig_med / fast_med))


if __name__ == "__main__":
  main()
