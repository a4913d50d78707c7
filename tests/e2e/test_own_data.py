"""Users' own labelled data: the popular "abuse --task_name=cola" recipe and --task_name=tsv/csv."""
import csv
import os
import random
import subprocess
import sys

import numpy as np
import pytest

from helpers import ROOT, TINY

pytestmark = pytest.mark.slow

POS = ["great food and friendly staff", "I loved it , will come back", "best pizza in town",
       "wonderful service and tasty dishes", "amazing place , highly recommended"]
NEG = ["terrible service , cold food", "never again , awful", "the worst meal I ever had",
       "rude staff and dirty tables", "overpriced and bland"]


def _reviews(n, seed):
  rng = random.Random(seed)
  rows = []
  for i in range(n):
    label = rng.randint(1, 2)  # Yelp polarity: 1 = negative, 2 = positive
    text = rng.choice(POS if label == 2 else NEG)
    rows.append((i, label, text.capitalize() + " !"))
  return rows


def _run(args, check=True):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)
  out = subprocess.run([sys.executable, os.path.join(ROOT, "run_classifier.py")] + args,
                       capture_output=True, text=True, env=env, cwd=ROOT)
  if check:
    assert out.returncode == 0, out.stderr[-3000:]
  return out


def _common(data_dir, output_dir):
  return ["--data_dir=%s" % data_dir, "--vocab_file=%s" % os.path.join(TINY, "vocab.txt"),
          "--bert_config_file=%s" % os.path.join(TINY, "bert_config.json"),
          "--max_seq_length=32", "--train_batch_size=8", "--learning_rate=1e-3",
          "--num_train_epochs=2.0", "--output_dir=%s" % output_dir]


def test_yelp_tutorial_recipe_through_cola(tmp_path):
  """train/dev.tsv: id, 0/1 label, throw-away letter, text, no header; test.tsv: header + id, text."""
  data = tmp_path / "yelp"
  data.mkdir()
  for split, seed in (("train", 1), ("dev", 2)):
    with open(data / ("%s.tsv" % split), "w") as f:
      for i, label, text in _reviews(32, seed):
        f.write("%d\t%d\ta\t%s\n" % (i, label - 1, text))
  test_rows = _reviews(12, 3)
  with open(data / "test.tsv", "w") as f:
    f.write("id\tsentence\n")
    for i, _, text in test_rows:
      f.write("%d\t%s\n" % (i, text))
  out = tmp_path / "bert_output"
  _run(["--task_name=cola", "--do_train=true", "--do_eval=true", "--do_predict=true",
        "--do_lower_case=False", "--init_checkpoint=%s" % os.path.join(TINY, "bert_model.ckpt")]
       + _common(data, out))
  results = dict(l.split(" = ") for l in open(out / "eval_results.txt").read().splitlines())
  assert results["global_step"] == "8"
  assert len(open(out / "test_results.tsv").read().splitlines()) == 12
  # later: predict on new data with the highest model.ckpt-N as --init_checkpoint
  steps = sorted(int(f.split("-")[1].split(".")[0]) for f in os.listdir(out)
                 if f.startswith("model.ckpt-") and f.endswith(".index"))
  new_out = tmp_path / "predict_new"
  _run(["--task_name=cola", "--do_predict=true", "--do_lower_case=False",
        "--init_checkpoint=%s" % (out / ("model.ckpt-%d" % steps[-1]))] + _common(data, new_out))
  a = np.loadtxt(out / "test_results.tsv")
  b = np.loadtxt(new_out / "test_results.tsv")
  np.testing.assert_allclose(a, b, atol=1e-6)


def test_generic_csv_task_with_header_names_and_saved_labels(tmp_path):
  data = tmp_path / "csvdata"
  data.mkdir()
  labels = {1: "negative", 2: "positive"}
  for split, seed in (("train", 1), ("dev", 2), ("test", 3)):
    with open(data / ("%s.csv" % split), "w", newline="") as f:
      w = csv.writer(f)
      w.writerow(["review", "stars", "id"] if split != "test" else ["review", "id"])
      for i, label, text in _reviews(24, seed):
        w.writerow([text + ', "really"', labels[label], i] if split != "test" else [text, i])
  out = tmp_path / "out"
  _run(["--task_name=csv", "--text_a_column=review", "--label_column=stars",
        "--do_train=true", "--do_eval=true", "--do_predict=true",
        "--init_checkpoint=%s" % os.path.join(TINY, "bert_model.ckpt")] + _common(data, out))
  assert open(out / "label_list.txt").read().split() == ["negative", "positive"]
  results = dict(l.split(" = ") for l in open(out / "eval_results.txt").read().splitlines())
  assert set(results) == {"eval_accuracy", "eval_loss", "global_step", "loss"}
  assert len(open(out / "test_results.tsv").read().splitlines()) == 24


def test_generic_tsv_row_that_does_not_fit_is_one_line_error(tmp_path):
  data = tmp_path / "bad"
  data.mkdir()
  (data / "train.tsv").write_text("text\tlabel\nfine\tpos\nno label column here\n")
  (data / "dev.tsv").write_text("text\tlabel\nok\tpos\n")
  proc = _run(["--task_name=tsv", "--do_train=true",
               "--init_checkpoint=%s" % os.path.join(TINY, "bert_model.ckpt")] +
              _common(data, tmp_path / "o"), check=False)
  assert proc.returncode != 0 and "Traceback" not in proc.stderr
  assert "train.tsv line 3" in proc.stderr


def test_regression_task_writes_pearson_and_spearman(tmp_path):
  data = tmp_path / "stsb"
  data.mkdir()
  rng = random.Random(0)
  header = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"
  for split in ("train", "dev"):
    with open(data / ("%s.tsv" % split), "w") as f:
      f.write(header)
      for i in range(24):
        a, b = rng.choice(POS), rng.choice(POS + NEG)
        score = 5.0 if a == b else (2.5 if b in POS else 0.5)
        f.write("%d\tx\tx\t2020\t%d\tx\tx\t%s\t%s\t%.3f\n" % (i, i, a, b, score))
  out = tmp_path / "out"
  _run(["--task_name=sts-b", "--do_train=true", "--do_eval=true",
        "--init_checkpoint=%s" % os.path.join(TINY, "bert_model.ckpt")] + _common(data, out))
  results = dict(l.split(" = ") for l in open(out / "eval_results.txt").read().splitlines())
  assert set(results) == {"eval_loss", "eval_pearson", "eval_spearman", "global_step", "loss"}
  assert -1.0 <= float(results["eval_pearson"]) <= 1.0


def test_make_sst2_command_on_a_slice_of_the_real_files(tmp_path):
  """`make sst2`'s run_classifier command, as written in the Makefile, on the first rows of the
  real SST-2 files, with the tiny model (its 64 positions) in place of the MiniLM."""
  src = os.path.join(ROOT, "data", "glue", "SST-2")
  data = tmp_path / "SST-2"
  data.mkdir()
  for name, rows in (("train.tsv", 49), ("dev.tsv", 17), ("test.tsv", 13)):
    with open(os.path.join(src, name), encoding="utf-8") as f:
      head = [next(f) for _ in range(rows)]  # the header line + rows - 1 examples
    (data / name).write_text("".join(head), encoding="utf-8")
  recipe = open(os.path.join(ROOT, "Makefile")).read().split("\nsst2:")[1].split("\n\t@")[0]
  command = recipe.split("\n", 1)[1].replace("\\\n", " ").split()
  assert command[:2] == ["$(PY)", "run_classifier.py"], command
  subst = {"$(GLUE)/SST-2": str(data), "$(MINILM)": TINY, "$(OUT)": str(tmp_path / "out")}
  args = []
  for word in command[2:]:
    for k, v in subst.items():
      word = word.replace(k, v)
    args.append(word)
  assert "--task_name=SST-2" in args and "--do_predict=true" in args
  out_dir = tmp_path / "out" / "sst2_output"
  proc = _run(args + ["--max_seq_length=64", "--num_train_epochs=1.0", "--train_batch_size=8",
                      "--eval_batch_size=8", "--predict_batch_size=8", "--seed=3"])
  assert proc.returncode == 0, proc.stderr[-3000:]
  results = dict(l.split(" = ") for l in (out_dir / "eval_results.txt").read_text().splitlines())
  assert sorted(results) == ["eval_accuracy", "eval_loss", "global_step", "loss"]
  assert results["global_step"] == "6"  # int(48 / 8 * 1.0)
  assert 0.0 <= float(results["eval_accuracy"]) <= 1.0
  # 16 dev examples: accuracy is a multiple of 1/16
  assert abs(float(results["eval_accuracy"]) * 16 - round(float(results["eval_accuracy"]) * 16)) < 1e-5
  probs = np.loadtxt(out_dir / "test_results.tsv", delimiter="\t")
  assert probs.shape == (12, 2)
  np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
