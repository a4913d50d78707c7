"""`make squad`: SQuAD 1.1 and 2.0 on real data with the original command line.

Splits the shipped SQuAD 2.0 sample (data/squad/) by article -- train on
Normans, Computational_complexity_theory, Southern_California and
Sky_(United_Kingdom), evaluate on Victoria_(Australia) -- then, for each form
(1.1: answerable questions only; 2.0: with unanswerable ones) and each
setting, runs run_squad.py exactly as a user would (a subprocess, the
original README's flags), evaluates with the built-in official metrics
(eval_results.txt) and, for 2.0, re-thresholds the same logits at the
best_f1_thresh the run found (run_squad.py --logits_file).  Every step's wall
time and peak RSS (wait4) is measured; a summary table is printed at the end
and written to <output_dir>/summary.json.

Settings:
  original  the original README's SQuAD recipe: --learning_rate=3e-5
            --num_train_epochs=2.0 --train_batch_size=12 --max_seq_length=384
            --doc_stride=128.  Made for 88k training questions.
  tuned     a setting that learns from these few hundred questions, chosen by
            cross-validation on the four training articles only (see
            docs/squad_real_data.md; examples/squad_cv.py ran it).

  python examples/squad_demo.py --model_dir=checkpoints/minilm_L6_H384_A12 \\
      --output_dir=output/squad [--forms=1.1,2.0] [--settings=original,tuned]
"""

import argparse
import json
import os
import shlex
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

SAMPLE = os.path.join(ROOT, "data", "squad", "squad_v2.0_dev_first5articles.json")
TRAIN_ARTICLES = ("Normans", "Computational_complexity_theory", "Southern_California",
                  "Sky_(United_Kingdom)")
EVAL_ARTICLES = ("Victoria_(Australia)",)

# The original README's SQuAD hyperparameters, and the tuned small-data setting
# (learning rate, epochs) chosen by examples/squad_cv.py on the training articles.
SETTINGS = {
    "original": {"learning_rate": 3e-5, "num_train_epochs": 2.0},
    "tuned": {"learning_rate": 3e-5, "num_train_epochs": 6.0},  # make squad-cv, 2026-12-05
}
COMMON = {"train_batch_size": 12, "max_seq_length": 384, "doc_stride": 128}

# HF transformers run_qa-style reference (same weights, split and settings), as
# recorded by `benchmarks/run_all.py --parts squad` (see docs/squad_real_data.md).
HF_REFERENCE = os.path.join(ROOT, "examples", "squad_hf_reference.json")


def split(output_dir):
  """The four split files (train/dev x 1.1/2.0) under output_dir/data; returns their paths."""
  from bert_tf.squad import articles
  from bert_tf.squad.examples import load_squad_json
  data = load_squad_json(SAMPLE)
  train = articles.first_answer_only(articles.split_articles(data, TRAIN_ARTICLES, SAMPLE))
  dev = articles.split_articles(data, EVAL_ARTICLES, SAMPLE)
  paths = {}
  for form, version, convert in (("1.1", "1.1", articles.answerable_only),
                                 ("2.0", "v2.0", lambda d: d)):
    for role, part in (("train", train), ("dev", dev)):
      path = os.path.join(output_dir, "data", "%s-v%s.json" % (role, form))
      articles.write_squad_json(path, convert(part), version)
      paths[(role, form)] = path
      print("%s: %d questions" % (path, articles.count_questions(convert(part))))
  return paths


def run_measured(argv, log_path):
  """Runs argv (stdout+stderr to log_path); returns (exit code, wall s, peak RSS MB)."""
  t0 = time.time()
  with open(log_path, "w") as log:
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
  return os.waitstatus_to_exitcode(status), time.time() - t0, usage.ru_maxrss / 1024.0


def read_results(path):
  out = {}
  with open(path) as f:
    for line in f:
      key, _, value = line.strip().partition(" = ")
      if key:
        out[key] = float(value)
  return out


def run_squad_command(model_dir, out, train_file, predict_file, setting, version_2,
                      extra=()):
  s = dict(COMMON, **SETTINGS[setting])
  argv = [sys.executable, "run_squad.py",
          "--vocab_file=%s/vocab.txt" % model_dir,
          "--bert_config_file=%s/bert_config.json" % model_dir,
          "--init_checkpoint=%s/bert_model.ckpt" % model_dir,
          "--do_train=True", "--train_file=%s" % train_file,
          "--do_predict=True", "--predict_file=%s" % predict_file,
          "--train_batch_size=%d" % s["train_batch_size"],
          "--learning_rate=%g" % s["learning_rate"],
          "--num_train_epochs=%.1f" % s["num_train_epochs"],
          "--max_seq_length=%d" % s["max_seq_length"], "--doc_stride=%d" % s["doc_stride"],
          "--output_dir=%s" % out]
  if version_2:
    argv.append("--version_2_with_negative=True")
  return argv + list(extra)


def run_one(model_dir, output_dir, paths, form, setting):
  """One fine-tuning + prediction + evaluation (+ re-threshold for 2.0); its summary row."""
  version_2 = form == "2.0"
  out = os.path.join(output_dir, "v%s_%s" % (form, setting))
  done = os.path.join(output_dir, "v%s_%s.json" % (form, setting))
  if os.path.exists(done):
    print("\n%s: done by an earlier run, figures from %s (delete both to run again)"
          % (out, done))
    with open(done) as f:
      return json.load(f)
  argv = run_squad_command(model_dir, out, paths[("train", form)], paths[("dev", form)],
                           setting, version_2)
  print("\n== SQuAD %s, %s setting ==\n%s" % (
      form, setting, " \\\n    ".join(shlex.quote(a) for a in argv[1:])))
  os.makedirs(output_dir, exist_ok=True)
  code, wall, rss = run_measured(argv, os.path.join(output_dir, "v%s_%s.log" % (form, setting)))
  if code != 0:
    sys.exit("run_squad.py failed (exit %d); see %s.log" % (code, out))
  row = {"form": form, "setting": setting, "output_dir": out, "wall_s": wall,
         "peak_rss_mb": rss, "metrics": read_results(os.path.join(out, "eval_results.txt"))}
  if version_2:
    thresh = row["metrics"]["best_f1_thresh"]
    out_t = out + "_best_f1_thresh"
    argv_t = [a for a in argv if not a.startswith(("--do_train", "--train_file",
                                                   "--init_checkpoint", "--output_dir"))]
    argv_t += ["--output_dir=%s" % out_t, "--logits_file=%s/logits.npz" % out,
               "--null_score_diff_threshold=%r" % thresh]
    print("re-threshold at best_f1_thresh %.4f (no model run):\n  %s" % (
        thresh, " ".join(shlex.quote(a) for a in argv_t[1:])))
    code, wall_t, _ = run_measured(argv_t, out_t + ".log")
    if code != 0:
      sys.exit("run_squad.py --logits_file failed (exit %d); see %s.log" % (code, out_t))
    row["rethreshold"] = {"output_dir": out_t, "threshold": thresh, "wall_s": wall_t,
                          "metrics": read_results(os.path.join(out_t, "eval_results.txt"))}
  with open(done, "w") as f:
    json.dump(row, f, indent=2)
  return row


def headline(row):
  m = row["metrics"]
  if row["form"] == "1.1":
    return "EM %.1f  F1 %.1f" % (m["exact_match"], m["f1"])
  r = row["rethreshold"]["metrics"]
  return ("EM %.1f  F1 %.1f at threshold 0 (HasAns F1 %.1f, NoAns %.1f); at best_f1_thresh "
          "%.2f: EM %.1f  F1 %.1f" % (m["exact"], m["f1"], m["HasAns_f1"], m["NoAns_f1"],
                                      row["rethreshold"]["threshold"], r["exact"], r["f1"]))


def print_summary(rows):
  print("\n==== SQuAD on real data: train 4 articles, evaluate on Victoria_(Australia) ====")
  for row in rows:
    print("v%s %-8s  %s  | wall %.0f s, peak RSS %.0f MB" % (
        row["form"], row["setting"], headline(row), row["wall_s"], row["peak_rss_mb"]))
    print("    predictions:  %s/predictions.json" % row["output_dir"])
    print("    eval results: %s/eval_results.txt" % row["output_dir"])
    if "rethreshold" in row:
      print("    re-thresholded: %s/predictions.json" % row["rethreshold"]["output_dir"])
  if os.path.exists(HF_REFERENCE):
    with open(HF_REFERENCE) as f:
      ref = json.load(f)
    print("\nHF transformers run_qa-style reference (same weights, split and settings; %s):"
          % ref.get("recorded", "recorded"))
    for r in ref.get("rows", []):
      print("v%s %-8s  %s" % (r["form"], r["setting"], r["summary"]))


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--model_dir", required=True,
                 help="bert_model.ckpt + bert_config.json + vocab.txt (the converted MiniLM)")
  p.add_argument("--output_dir", required=True)
  p.add_argument("--forms", default="1.1,2.0")
  p.add_argument("--settings", default="original,tuned")
  a = p.parse_args(argv)
  paths = split(a.output_dir)
  rows = []
  for form in [f for f in a.forms.split(",") if f]:
    for setting in [s for s in a.settings.split(",") if s]:
      rows.append(run_one(a.model_dir, a.output_dir, paths, form, setting))
      with open(os.path.join(a.output_dir, "summary.json"), "w") as f:
        json.dump(rows, f, indent=2)
  print_summary(rows)


if __name__ == "__main__":
  main()
