"""Helpers the tests of bert_tf/data share (tests/data/conftest.py puts this folder on sys.path)."""
import os

import tensorflow as tf

from helpers import FIXTURES

FEATURES = os.path.join(FIXTURES, "classifier_features")


def write_text(path, text, encoding="utf-8"):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "w", encoding=encoding, newline="") as f:
    f.write(text)
  return str(path)


def assert_one_line_data_error(excinfo, *parts):
  assert isinstance(excinfo.value, ValueError)
  message = str(excinfo.value)
  assert "\n" not in message
  for part in parts:
    assert part in message, (part, message)


def log_sections(task):
  """{"train.tf_record": [messages...]} from the original's conversion.log."""
  sections = {}
  with open(os.path.join(FEATURES, task, "conversion.log"), encoding="utf-8") as f:
    current = None
    for line in f.read().split("\n"):
      if line.startswith("### file: "):
        current = sections.setdefault(line[len("### file: "):], [])
      elif line and current is not None:
        current.append(line)
  return sections


def parse_records(path):
  """[{feature name: list of values}] of a TFRecord file, in file order."""
  out = []
  for record in tf.data.TFRecordDataset(path):
    example = tf.train.Example.FromString(record.numpy())
    row = {}
    for name, feature in example.features.feature.items():
      kind = feature.WhichOneof("kind")
      row[name] = list(getattr(feature, kind).value)
    out.append(row)
  return out
