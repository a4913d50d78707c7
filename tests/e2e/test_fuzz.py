"""Fuzzing the readers of user files (issue 8): bad bytes give a clear one-line error naming
the file, never another exception type, a crash or a hang.

* TSV: `read_rows` on random bytes and on random rows with random column counts, and every
  task processor (GLUE/XNLI and the generic tsv/csv one) plus featurization on random files.
* Checkpoints: `open_checkpoint` / `init_from_checkpoint` on truncated and corrupted copies
  of tests/fixtures/tiny_uncased/bert_model.ckpt.*.  When loading succeeds the values must
  be exactly the original ones (the bundle format checksums every block and tensor).
(The tokenizer fuzz is in tests/test_tokenization.py.)

Cases found by fuzzing are kept below as explicit regression tests.
"""
import faulthandler
import os
import shutil
import tempfile

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings, strategies as st

from bert_tf import checkpoints, modeling, tokenization
from bert_tf.data import features_fast, readers, tasks
from bert_tf.errors import DataError
from bert_tf.configuration import BertConfig
from helpers import TINY

CKPT = os.path.join(TINY, "bert_model.ckpt")
SUFFIXES = (".index", ".data-00000-of-00001")
FUZZ = settings(deadline=None, derandomize=bool(os.environ.get("CI")),
                suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module", autouse=True)
def watchdog():
  """A hang in the C++ readers fails the run (traceback dump + exit) instead of blocking CI."""
  faulthandler.dump_traceback_later(240, exit=True)
  yield
  faulthandler.cancel_dump_traceback_later()


def _one_line_naming(error, path):
  message = str(error)
  assert "\n" not in message.strip(), message
  assert path in message, message
  return message


# --------------------------------------------------------------------------- TSV


def _write(directory, name, data):
  path = os.path.join(directory, name)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "wb") as f:
    f.write(data)
  return path


@FUZZ
@given(data=st.binary(max_size=400), delimiter=st.sampled_from(["\t", ","]),
       quotechar=st.sampled_from([None, '"']))
def test_read_rows_random_bytes(data, delimiter, quotechar):
  with tempfile.TemporaryDirectory() as d:
    path = _write(d, "train.tsv", data)
    try:
      rows = readers.read_rows(path, delimiter, quotechar)
    except DataError as e:
      _one_line_naming(e, path)
      return
  lines = [n for n, _ in rows]
  assert lines == sorted(set(lines)) and all(n >= 1 for n in lines)
  assert all(isinstance(f, str) for _, fields in rows for f in fields)
  assert any(f.strip() for _, fields in rows for f in fields)


_FIELD = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\t\n\r"),
                 max_size=12)


@FUZZ
@given(rows=st.lists(st.lists(_FIELD, max_size=7), min_size=1, max_size=12))
def test_read_rows_round_trips_tab_separated_rows(rows):
  text = "".join("\t".join(r) + "\n" for r in rows)
  with tempfile.TemporaryDirectory() as d:
    path = _write(d, "x.tsv", text.encode("utf-8"))
    if not any(f.strip() for r in rows for f in r):
      with pytest.raises(DataError, match="file is empty"):
        readers.read_rows(path)
      return
    parsed = readers.read_rows(path)
  # csv yields [] for an empty line, which is what a row of one empty field writes
  assert parsed == [(i + 1, [] if r in ([], [""]) else r) for i, r in enumerate(rows)]


TASKS = sorted(tasks.PROCESSORS) + ["tsv", "csv"]


@pytest.fixture(scope="module")
def tokenizer():
  return tokenization.FullTokenizer(os.path.join(TINY, "vocab.txt"), do_lower_case=True)


def _cell(labels):
  return st.one_of(_FIELD, st.sampled_from(labels + ["", "0.5", "x y", "contradictory", "zh"]))


@st.composite
def _task_file(draw):
  task = draw(st.sampled_from(TASKS))
  processor = tasks.get_processor(task) if task not in ("tsv", "csv") else None
  labels = [l for l in (processor.get_labels() if processor else ["a", "b"]) if l is not None]
  split = draw(st.sampled_from(["train", "dev"] + ([] if task == "xnli" else ["test"])))
  rows = draw(st.lists(st.lists(_cell(labels), max_size=12), max_size=8))
  delimiter = "," if task == "csv" else "\t"
  raw = "".join(delimiter.join(r) + "\n" for r in rows).encode("utf-8")
  if draw(st.booleans()):
    raw = draw(st.binary(max_size=200)) + raw  # junk (maybe not UTF-8, maybe \r) in front
  return task, split, raw


@FUZZ
@given(case=_task_file())
def test_processors_and_featurization_on_random_files(case, tokenizer):
  task, split, raw = case
  with tempfile.TemporaryDirectory() as d:
    data_dir, out = os.path.join(d, "data"), os.path.join(d, "out")
    os.makedirs(out)
    options = {"data_dir": data_dir, "output_dir": out} if task in ("tsv", "csv") else {}
    processor = tasks.get_processor(task, **options)
    name = dict(processor.splits)[split][0] if hasattr(processor, "splits") else \
        "%s.%s" % (split, task)
    if task in ("tsv", "csv") and split != "train":
      _write(data_dir, "train.%s" % task, b"text\tlabel\nhello\ta\n".replace(
          b"\t", b"," if task == "csv" else b"\t"))
    path = _write(data_dir, name, raw)
    get = {"train": processor.get_train_examples, "dev": processor.get_dev_examples,
           "test": processor.get_test_examples}[split]
    try:
      examples = get(data_dir)
      labels = processor.get_labels()
      features = features_fast.convert_examples_to_features(examples, labels, 16, tokenizer)
    except DataError as e:
      message = str(e)
      assert "\n" not in message.strip(), message
      assert data_dir in message or out in message, message
      return
  assert examples and len(features) == len(examples)
  for example, feature in zip(examples, features):
    assert isinstance(example.text_a, str) and example.source_file == path
    assert len(feature.input_ids) == 16 and feature.input_ids[0] == tokenizer.vocab["[CLS]"]


def test_xnli_dev_row_of_one_column_names_the_line(tmp_path):
  """xnli.dev.tsv rows are filtered on column 0 before columns 6-7 are read; a one-column
  "zh" row must still be a DataError naming the line."""
  _write(str(tmp_path), "xnli.dev.tsv", b"language\tgold_label\nzh\n")
  with pytest.raises(DataError, match=r"xnli\.dev\.tsv line 2: expected at "
                     r"least 8 tab-separated columns, found 1"):
    tasks.get_processor("xnli").get_dev_examples(str(tmp_path))


# --------------------------------------------------------------------------- checkpoints


@pytest.fixture(scope="module")
def pretrainer():
  """The tiny pretraining model (its variables cover every tensor of the fixture) and the
  fixture's values."""
  model = modeling.BertPretrainer(BertConfig.from_json_file(os.path.join(TINY, "bert_config.json")))
  model.build()
  reader = tf.train.load_checkpoint(CKPT)
  original = {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map()}
  assert set(original) <= set(model.original_variables())
  return model.original_variables(), original


def _damaged_copy(directory, suffix, mode, position, length, bits):
  for s in SUFFIXES:
    shutil.copy(CKPT + s, os.path.join(directory, "bert_model.ckpt" + s))
  path = os.path.join(directory, "bert_model.ckpt" + suffix)
  with open(path, "rb") as f:
    data = bytearray(f.read())
  at = int(position * len(data))
  if mode == "truncate":
    data = data[:at]
  elif mode == "flip":
    data[min(at, len(data) - 1)] ^= bits
  elif mode == "zero":
    data[at:at + length] = bytes(len(data[at:at + length]))
  elif mode == "cut":
    del data[at:at + length]
  elif mode == "empty":
    data = bytearray()
  with open(path, "wb") as f:
    f.write(bytes(data))
  return os.path.join(directory, "bert_model.ckpt")


@settings(deadline=None, derandomize=bool(os.environ.get("CI")), max_examples=80,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(suffix=st.sampled_from(SUFFIXES),
       mode=st.sampled_from(["truncate", "flip", "zero", "cut", "empty"]),
       position=st.floats(0, 1, exclude_max=True), length=st.integers(1, 4096),
       bits=st.integers(1, 255), given_as=st.sampled_from(["", ".index", ".data-00000-of-00001"]))
def test_damaged_checkpoint_is_a_clear_error_or_exact(pretrainer, suffix, mode, position, length,
                                                     bits, given_as):
  variables, original = pretrainer
  with tempfile.TemporaryDirectory() as d:
    prefix = _damaged_copy(d, suffix, mode, position, length, bits)
    for v in variables.values():
      v.assign(tf.zeros_like(v))
    try:
      restored = checkpoints.init_from_checkpoint(variables, prefix + given_as, log=False)
    except checkpoints.CheckpointError as e:
      _one_line_naming(e, prefix)
      assert all(not np.any(v.numpy()) for v in variables.values())  # nothing half-assigned
      return
  assert restored == set(original)
  for name in original:
    np.testing.assert_array_equal(variables[name].numpy(), original[name], err_msg=name)


def test_regression_truncated_data_file_is_a_checkpoint_error(tmp_path, pretrainer):
  """The reader raised a bare IndexError ("Read less bytes than requested") that escaped as
  a traceback; it is now a CheckpointError naming the file and the variable."""
  variables, _ = pretrainer
  prefix = _damaged_copy(str(tmp_path), ".data-00000-of-00001", "truncate", 0.5, 0, 0)
  with pytest.raises(checkpoints.CheckpointError) as e:
    checkpoints.init_from_checkpoint(variables, prefix, log=False)
  assert str(e.value).startswith("%s: cannot read variable " % prefix)
  assert "truncated or corrupted" in str(e.value)
  with pytest.raises(checkpoints.CheckpointError):
    checkpoints.read_global_step(_with_global_step(str(tmp_path / "g")))


def _with_global_step(directory):
  os.makedirs(directory)
  prefix = os.path.join(directory, "model.ckpt-3")
  checkpoints.write_bundle(prefix, {"global_step": np.int64(3)})
  with open(prefix + ".data-00000-of-00001", "r+b") as f:
    f.truncate(2)
  return prefix


def test_corrupted_index_is_a_checkpoint_error(tmp_path):
  prefix = _damaged_copy(str(tmp_path), ".index", "zero", 0.3, 64, 0)
  with pytest.raises(checkpoints.CheckpointError) as e:
    checkpoints.open_checkpoint(prefix + ".index")
  assert str(e.value).startswith("%s: unreadable checkpoint (" % prefix)
