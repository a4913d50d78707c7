"""Shared pieces of the SQuAD tests: the fixture folder and its gz readers."""
import gzip
import json
import os

from helpers import FIXTURES

SQUAD = os.path.join(FIXTURES, "squad")
# The oracle's conversion settings.
MAX_SEQ_LENGTH, DOC_STRIDE, MAX_QUERY_LENGTH = 64, 16, 16


def squad_path(*parts):
  return os.path.join(SQUAD, *parts)


def read_text(*parts):
  path = squad_path(*parts)
  if path.endswith(".gz"):
    with gzip.open(path, "rt", encoding="utf-8") as f:
      return f.read()
  with open(path, encoding="utf-8") as f:
    return f.read()


def read_json(*parts):
  return json.loads(read_text(*parts))


def absl_messages(caplog):
  return [r.getMessage() for r in caplog.records if r.name == "absl"]
