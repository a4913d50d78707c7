"""Chooses `make squad`'s small-data setting by cross-validation on the TRAINING articles only.

The original README's SQuAD recipe (learning rate 3e-5, 2 epochs) was made for
88k training questions; on the 581 answerable questions of the four training
articles it barely moves the span head.  This script picks a learning rate and
an epoch count without ever looking at the evaluation article
(Victoria_(Australia)):

* two folds by article (a split by question would leak passages):
  A = Normans + Sky_(United_Kingdom), B = Computational_complexity_theory +
  Southern_California; train on one, evaluate on the other, both ways;
* for each learning rate, one run of `--max_epochs` epochs per fold with a
  checkpoint every `--every` epochs; each checkpoint is evaluated on the held-out
  fold (run_squad.py --do_predict --init_checkpoint=...).  The epoch count is
  chosen from those checkpoints: the learning rate still decays linearly to
  zero at max_epochs, so "4 epochs" here means 4 epochs of a 6-epoch schedule
  (the cost of one run per learning rate instead of one per pair);
* the score of a (learning rate, epochs) pair is the question-weighted mean F1
  over the two held-out folds (SQuAD 1.1 form).

  python examples/squad_cv.py --model_dir=checkpoints/minilm_L6_H384_A12 \\
      --output_dir=output/squad_cv [--learning_rates=3e-5,5e-5,1e-4] [--max_epochs=6]

Writes <output_dir>/cv_results.json and prints the table and the choice.
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import squad_demo  # noqa: E402

FOLDS = {"A": ("Normans", "Sky_(United_Kingdom)"),
         "B": ("Computational_complexity_theory", "Southern_California")}


def fold_files(output_dir):
  """{fold: (train_path, heldout_path, n_train, n_heldout)}: 1.1 form, first answers for training."""
  from bert_tf.squad import articles
  from bert_tf.squad.examples import load_squad_json
  data = load_squad_json(squad_demo.SAMPLE)
  out = {}
  for name, titles in FOLDS.items():
    other = [t for f, ts in FOLDS.items() if f != name for t in ts]
    train = articles.answerable_only(articles.first_answer_only(
        articles.split_articles(data, other)))
    heldout = articles.answerable_only(articles.split_articles(data, list(titles)))
    tp = os.path.join(output_dir, "data", "train_without_%s.json" % name)
    hp = os.path.join(output_dir, "data", "heldout_%s.json" % name)
    articles.write_squad_json(tp, train, "1.1")
    articles.write_squad_json(hp, heldout, "1.1")
    out[name] = (tp, hp, articles.count_questions(train), articles.count_questions(heldout))
  return out


def run(argv, log_path):
  code, wall, _ = squad_demo.run_measured(argv, log_path)
  if code != 0:
    sys.exit("failed (exit %d): see %s" % (code, log_path))
  return wall


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--model_dir", required=True)
  p.add_argument("--output_dir", required=True)
  p.add_argument("--learning_rates", default="3e-5,5e-5,1e-4")
  p.add_argument("--max_epochs", type=int, default=6)
  p.add_argument("--every", type=int, default=2, help="evaluate every this many epochs")
  a = p.parse_args(argv)
  m = a.model_dir
  folds = fold_files(a.output_dir)
  results_path = os.path.join(a.output_dir, "cv_results.json")
  results = json.load(open(results_path)) if os.path.exists(results_path) else []
  # A result belongs to (learning rate, fold, epochs reached, epochs of the schedule); rows
  # written before the schedule was recorded are from the default 6-epoch schedule.
  done = {(r["learning_rate"], r["fold"], r["epochs"], r.get("max_epochs", 6)) for r in results}
  for lr in [float(x) for x in a.learning_rates.split(",")]:
    for fold, (train, heldout, n_train, n_heldout) in sorted(folds.items()):
      epochs = list(range(a.every, a.max_epochs + 1, a.every))
      if all((lr, fold, e, a.max_epochs) in done for e in epochs):
        continue
      steps_per_epoch = n_train / 12.0
      save_steps = int(steps_per_epoch * a.every)
      schedule = "" if a.max_epochs == 6 else "_of%d" % a.max_epochs
      run_dir = os.path.join(a.output_dir, "lr%g%s_without_%s" % (lr, schedule, fold))
      argv = [sys.executable, "run_squad.py", "--vocab_file=%s/vocab.txt" % m,
              "--bert_config_file=%s/bert_config.json" % m,
              "--init_checkpoint=%s/bert_model.ckpt" % m, "--do_train=True",
              "--train_file=%s" % train, "--train_batch_size=12", "--learning_rate=%g" % lr,
              "--num_train_epochs=%d" % a.max_epochs, "--max_seq_length=384",
              "--doc_stride=128", "--save_checkpoints_steps=%d" % save_steps,
              "--output_dir=%s" % run_dir]  # the Trainer keeps the newest 5 checkpoints
      print("train lr %g without fold %s (%d questions, %d epochs)" % (
          lr, fold, n_train, a.max_epochs), flush=True)
      wall = run(argv, run_dir + ".log")
      print("  %.0f s" % wall, flush=True)
      for e in epochs:
        # The Trainer saves every save_steps steps and at the last step.
        step = (e // a.every) * save_steps if e < a.max_epochs else int(n_train / 12.0 * e)
        pred_dir = "%s_epoch%d" % (run_dir, e)
        argv = [sys.executable, "run_squad.py", "--vocab_file=%s/vocab.txt" % m,
                "--bert_config_file=%s/bert_config.json" % m,
                "--init_checkpoint=%s/model.ckpt-%d" % (run_dir, step), "--do_predict=True",
                "--predict_file=%s" % heldout, "--max_seq_length=384", "--doc_stride=128",
                "--output_dir=%s" % pred_dir]
        run(argv, pred_dir + ".log")
        metrics = squad_demo.read_results(os.path.join(pred_dir, "eval_results.txt"))
        results.append({"learning_rate": lr, "fold": fold, "epochs": e,
                        "max_epochs": a.max_epochs, "step": step,
                        "n_heldout": n_heldout, "exact_match": metrics["exact_match"],
                        "f1": metrics["f1"]})
        print("  epoch %d (step %d): held-out %s EM %.1f F1 %.1f" % (
            e, step, fold, metrics["exact_match"], metrics["f1"]), flush=True)
        with open(results_path, "w") as f:
          json.dump(results, f, indent=2)
  table = {}
  for r in results:
    table.setdefault((r["learning_rate"], r["epochs"], r.get("max_epochs", 6)), []).append(r)
  print("\nlearning rate  epochs (of)  mean F1 (question-weighted, held-out folds)  EM")
  best = None
  for key in sorted(table):
    rows = table[key]
    n = sum(r["n_heldout"] for r in rows)
    f1 = sum(r["f1"] * r["n_heldout"] for r in rows) / n
    em = sum(r["exact_match"] * r["n_heldout"] for r in rows) / n
    print("%12g  %6d (%d)  %6.1f  %6.1f  (%s)" % (key[0], key[1], key[2], f1, em,
                                                   ",".join(r["fold"] for r in rows)))
    if len(rows) == len(FOLDS) and (best is None or f1 > best[0]):
      best = (f1, key)
  if best:
    print("chosen: --learning_rate=%g --num_train_epochs=%d (mean held-out F1 %.1f; reached "
          "in a %d-epoch schedule)" % (best[1][0], best[1][1], best[0], best[1][2]))


if __name__ == "__main__":
  main()
