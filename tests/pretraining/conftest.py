"""Fixtures of the create_pretraining_data tests: tokenizer, fixture records, a corpus."""
import csv
import json
import os
import random

import pytest
import tensorflow as tf

from bert_tf import tokenization
from helpers import FIXTURES, ROOT, TINY

VOCAB = os.path.join(TINY, "vocab.txt")
FIXTURE_DIR = os.path.join(FIXTURES, "pretraining_data")


@pytest.fixture(scope="session")
def uncased():
  return tokenization.FullTokenizer(VOCAB, True)


@pytest.fixture(scope="session")
def expected_records():
  with open(os.path.join(FIXTURE_DIR, "tf_examples.json"), encoding="utf-8") as f:
    return json.load(f)


@pytest.fixture(scope="session")
def parse_records():
  """The function parsing a TFRecord file of tf.train.Examples (read by TF)."""
  return _parse_records


def _parse_records(path):
  """Every record of a TFRecord file as {feature: list of values} (read by TF)."""
  records = []
  for raw in tf.data.TFRecordDataset(path).as_numpy_iterator():
    example = tf.train.Example.FromString(raw)
    record = {}
    for name, feature in example.features.feature.items():
      kind = feature.WhichOneof("kind")
      record[name] = (kind, list(getattr(feature, kind).value))
    records.append(record)
  return records


def _tricky_lines():
  """Unicode / control / long lines from the tokenizer fixture's tricky strings."""
  lines = []
  with open(os.path.join(FIXTURES, "tokenization.jsonl"), encoding="utf-8") as f:
    for line in f:
      row = json.loads(line)
      if row["source"].startswith("tricky") and row["do_lower_case"]:
        lines.append(row["text"].replace("\n", " ").replace("\r", " "))
  return lines


def _cola_sentences(limit):
  path = os.path.join(ROOT, "data", "glue", "CoLA", "train.tsv")
  with open(path, encoding="utf-8", newline="") as f:
    rows = csv.reader(f, delimiter="\t", quotechar=None)
    return [row[3] for _, row in zip(range(limit), rows)]


@pytest.fixture(scope="session")
def corpus_files(tmp_path_factory):
  """Two input files with documents of 1-25 sentences, and some awkward bytes.

  File 1 ends without a blank line, so its last document continues in file 2
  (as in the original).  Contains CRLF, a lone CR inside a line, a BOM,
  whitespace-only and control-only lines, long lines (truncation), one-line
  documents (forced random next) and repeated blank lines.
  """
  rng = random.Random(7)
  sentences = _cola_sentences(900) + _tricky_lines()
  with open(os.path.join(FIXTURE_DIR, "sample_text.txt"), encoding="utf-8") as f:
    sample = f.read()
  rng.shuffle(sentences)
  long_line = " ".join(sentences[:40])
  docs = []
  while sentences:
    size = rng.choice([1, 1, 2, 3, 5, 8, 13, 25])
    docs.append(sentences[:size])
    sentences = sentences[size:]
  docs[3].insert(1, long_line)
  docs[10].append("\x00\x07\u200b")  # tokenizes to nothing: dropped
  docs[11].append("   \t ")           # whitespace only: a document break
  text1 = "\ufeff" + sample + "\n".join("\n".join(d) + "\n" for d in docs[:30])
  text1 = text1.replace("\n", "\r\n", 40)
  text1 = text1.replace("the ", "the\rsame ", 3)
  text2 = "\n\n\n".join("\n".join(d) for d in docs[30:])
  directory = tmp_path_factory.mktemp("corpus")
  path1, path2 = directory / "part1.txt", directory / "part2.txt"
  path1.write_bytes(text1.encode("utf-8"))
  path2.write_bytes(text2.encode("utf-8"))  # no final newline
  return str(path1), str(path2)
