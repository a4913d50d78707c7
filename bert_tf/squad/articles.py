"""Splitting a SQuAD file by article, and its SQuAD 1.1 form.

`make squad` trains on some articles of the shipped SQuAD 2.0 sample and
evaluates on another, so that no question of the evaluation article is seen in
training (a split by question would leak the passage).  `split_articles`
selects articles by title; `answerable_only` gives the SQuAD 1.1 form of a
2.0 file (answerable questions only, without `is_impossible` and
`plausible_answers`, `"version": "1.1"`); `first_answer_only` makes a dev
file (several reference answers per question) a training file (the original
run_squad.py refuses a training question with more than one answer; the
first is the one SQuAD's train files keep, and the one HF's run_qa trains on).

  python -m bert_tf.squad.articles --input_file=data/squad/squad_v2.0_dev_first5articles.json \\
    --articles=Normans,Sky_(United_Kingdom) --output_file=/tmp/train-v2.0.json [--answerable_only] [--first_answer_only]
"""

import copy
import json
import os

from bert_tf.squad.examples import SquadInputError, load_squad_json


def split_articles(data, titles, input_file="input"):
  """The articles of `data` (a SQuAD "data" list) whose title is in `titles`, in file order.

  Every title must exist (SquadInputError naming the missing ones and the
  titles the file has).
  """
  have = [article.get("title") for article in data]
  missing = [t for t in titles if t not in have]
  if missing:
    raise SquadInputError("%s: no article titled %s; the file has: %s"
                          % (input_file, ", ".join(missing), ", ".join(map(str, have))))
  wanted = set(titles)
  return [article for article in data if article.get("title") in wanted]


def answerable_only(data):
  """A deep copy of `data` with the unanswerable questions dropped (the 1.1 form)."""
  out = []
  for article in copy.deepcopy(data):
    paragraphs = []
    for paragraph in article["paragraphs"]:
      qas = [qa for qa in paragraph["qas"] if not qa.get("is_impossible", False)]
      for qa in qas:
        qa.pop("is_impossible", None)
        qa.pop("plausible_answers", None)
      if qas:
        paragraph["qas"] = qas
        paragraphs.append(paragraph)
    if paragraphs:
      article["paragraphs"] = paragraphs
      out.append(article)
  return out


def first_answer_only(data):
  """A deep copy of `data` where every question keeps only its first answer."""
  out = copy.deepcopy(data)
  for article in out:
    for paragraph in article["paragraphs"]:
      for qa in paragraph["qas"]:
        if qa.get("answers"):
          qa["answers"] = qa["answers"][:1]
  return out


def count_questions(data):
  return sum(len(p["qas"]) for article in data for p in article["paragraphs"])


def write_squad_json(path, data, version):
  """Writes {"version", "data"} through a temporary file (no half-written file on failure)."""
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  tmp = "%s.tmp-%d" % (path, os.getpid())
  with open(tmp, "w", encoding="utf-8") as f:
    json.dump({"version": version, "data": data}, f, ensure_ascii=False)
  os.replace(tmp, path)


def main(argv=None):
  import argparse
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--input_file", required=True)
  parser.add_argument("--articles", required=True, help="comma-separated article titles")
  parser.add_argument("--output_file", required=True)
  parser.add_argument("--answerable_only", action="store_true",
                      help="write the SQuAD 1.1 form (answerable questions only)")
  parser.add_argument("--first_answer_only", action="store_true",
                      help="keep only each question's first answer (a training file)")
  args = parser.parse_args(argv)
  try:
    data = split_articles(load_squad_json(args.input_file),
                          [t for t in args.articles.split(",") if t], args.input_file)
  except SquadInputError as e:
    parser.exit(1, "%s: error: %s\n" % (parser.prog, e))
  version = "v2.0"
  if args.answerable_only:
    data, version = answerable_only(data), "1.1"
  if args.first_answer_only:
    data = first_answer_only(data)
  write_squad_json(args.output_file, data, version)
  print("%s: %d articles, %d questions" % (args.output_file, len(data), count_questions(data)))


if __name__ == "__main__":
  main()
