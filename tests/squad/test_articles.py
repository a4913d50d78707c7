"""The split make squad uses: by article, and the 1.1 form of the shipped 2.0 sample."""

import json
import os
import subprocess
import sys

import pytest

from bert_tf.squad import articles
from bert_tf.squad.examples import SquadInputError, load_squad_json, read_squad_examples

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLE = os.path.join(ROOT, "data", "squad", "squad_v2.0_dev_first5articles.json")
TRAIN = ["Normans", "Computational_complexity_theory", "Southern_California",
         "Sky_(United_Kingdom)"]


def test_split_by_article_keeps_file_order_and_every_question():
  data = load_squad_json(SAMPLE)
  train = articles.split_articles(data, TRAIN[::-1])
  dev = articles.split_articles(data, ["Victoria_(Australia)"])
  assert [a["title"] for a in train] == TRAIN
  assert articles.count_questions(train) == 1160
  assert articles.count_questions(dev) == 247
  assert articles.count_questions(train) + articles.count_questions(dev) == 1407
  train_ids = {qa["id"] for a in train for p in a["paragraphs"] for qa in p["qas"]}
  dev_ids = {qa["id"] for a in dev for p in a["paragraphs"] for qa in p["qas"]}
  assert not train_ids & dev_ids


def test_answerable_only_is_the_11_form():
  data = load_squad_json(SAMPLE)
  v11 = articles.answerable_only(articles.split_articles(data, TRAIN))
  assert articles.count_questions(v11) == 581
  assert articles.count_questions(articles.answerable_only(data)) == 705
  for article in v11:
    for paragraph in article["paragraphs"]:
      for qa in paragraph["qas"]:
        assert "is_impossible" not in qa and "plausible_answers" not in qa
        assert qa["answers"]
  # The input is not changed.
  assert articles.count_questions(articles.split_articles(data, TRAIN)) == 1160


def test_first_answer_only_makes_a_training_file():
  data = articles.split_articles(load_squad_json(SAMPLE), TRAIN)
  several = sum(1 for a in data for p in a["paragraphs"] for qa in p["qas"]
                if len(qa["answers"]) > 1)
  assert several > 100  # a dev file: several reference answers per question
  one = articles.first_answer_only(data)
  pairs = zip([qa for a in data for p in a["paragraphs"] for qa in p["qas"]],
              [qa for a in one for p in a["paragraphs"] for qa in p["qas"]])
  for before, after in pairs:
    assert after["answers"] == before["answers"][:1]
    assert after.get("plausible_answers") == before.get("plausible_answers")


def test_unknown_title_is_one_line():
  with pytest.raises(SquadInputError, match=r"no article titled Nowhere; the file has: Normans"):
    articles.split_articles(load_squad_json(SAMPLE), ["Nowhere"], "x.json")


def test_command_writes_files_run_squad_reads(tmp_path):
  out11 = str(tmp_path / "train-v1.1.json")
  out20 = str(tmp_path / "dev-v2.0.json")
  run = lambda *a: subprocess.run([sys.executable, "-m", "bert_tf.squad.articles",
                                   "--input_file", SAMPLE] + list(a), cwd=ROOT,
                                  capture_output=True, text=True)
  r = run("--articles", ",".join(TRAIN), "--output_file", out11, "--answerable_only",
          "--first_answer_only")
  assert r.returncode == 0, r.stderr
  assert "581 questions" in r.stdout
  assert json.load(open(out11))["version"] == "1.1"
  assert len(read_squad_examples(out11, is_training=True)) == 581
  r = run("--articles", "Victoria_(Australia)", "--output_file", out20)
  assert r.returncode == 0, r.stderr
  examples = read_squad_examples(out20, is_training=False, version_2_with_negative=True)
  assert len(examples) == 247
  r = run("--articles", "Nowhere", "--output_file", str(tmp_path / "x.json"))
  assert r.returncode == 1 and r.stderr.count("\n") == 1 and "no article titled" in r.stderr
  assert not os.path.exists(tmp_path / "x.json")
