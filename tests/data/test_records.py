"""bert_tf.data.records: the classifier TFRecord writer (hand encoding) against the original's records.

Parity fixtures: tests/fixtures/classifier_features/<task>/ holds the records
(parsed to JSON) and the log that the ORIGINAL run_classifier.py code produced
from the TSV prefixes in data/, with max_seq_length 32 and the uncased vocab.
"""

import json
import logging
import os

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from bert_tf.data.records import file_based_convert_examples_to_features, serialize_features
from bert_tf.errors import DataError
from bert_tf.data.examples import InputExample, InputFeatures, PaddingInputExample, pad_examples_for_tpu
from bert_tf.data.tasks import get_processor

from helpers import ROOT
from data_testing import log_sections, parse_records

FEATURES = os.path.join(ROOT, "tests", "fixtures", "classifier_features")
SEQ = 32
FEATURE_NAMES = ("input_ids", "input_mask", "segment_ids", "label_ids",
                 "is_real_example")


def example_dict(example):
  if isinstance(example, PaddingInputExample):
    return "PaddingInputExample"
  return {"guid": example.guid, "text_a": example.text_a,
          "text_b": example.text_b, "label": example.label}


def split_examples(processor, data_dir, name):
  """The examples the original wrote to <name>.tf_record."""
  base = name.replace("_tpu_pad16", "")
  examples = {"train": processor.get_train_examples,
              "eval": processor.get_dev_examples,
              "predict": processor.get_test_examples}[base](data_dir)
  if name.endswith("_tpu_pad16"):
    examples = pad_examples_for_tpu(examples, 16)
  return examples


SPLITS = ("train", "eval", "predict", "eval_tpu_pad16", "predict_tpu_pad16")


@pytest.mark.parametrize("task", ["CoLA", "MRPC"])
@pytest.mark.parametrize("name", SPLITS)
def test_records_and_log_match_original(task, name, tokenizer, tmp_path,
                                        caplog):
  processor = get_processor(task)
  examples = split_examples(processor, os.path.join(FEATURES, task, "data"),
                            name)
  with open(os.path.join(FEATURES, task, name + ".json"), encoding="utf-8") as f:
    want = json.load(f)
  assert [example_dict(e) for e in examples] == [w["_example"] for w in want]

  out = str(tmp_path / (name + ".tf_record"))
  caplog.set_level(logging.INFO)
  file_based_convert_examples_to_features(examples, processor.get_labels(),
                                          SEQ, tokenizer, out)
  got = parse_records(out)
  assert len(got) == len(want)
  for g, w in zip(got, want):
    assert g == {k: w[k] for k in FEATURE_NAMES}
    real = sum(w["input_mask"])
    if w["_example"] != "PaddingInputExample":
      assert tokenizer.convert_ids_to_tokens(w["input_ids"][:real]) == w["_tokens"]

  messages = [r.getMessage() for r in caplog.records if r.name == "absl"]
  assert messages == log_sections(task)[name + ".tf_record"]
  assert os.listdir(tmp_path) == [name + ".tf_record"]  # no temp file left


def test_failed_write_keeps_old_file_and_leaves_no_temp(tmp_path, tokenizer):
  out = str(tmp_path / "train.tf_record")
  good = [InputExample("g1", "a", None, "1")]
  file_based_convert_examples_to_features(good, ["0", "1"], 8, tokenizer, out)
  before = parse_records(out)
  bad = good + [InputExample("g2", "b", None, "7")]
  with pytest.raises(DataError, match="label '7'"):
    file_based_convert_examples_to_features(bad, ["0", "1"], 8, tokenizer, out)
  assert os.listdir(tmp_path) == ["train.tf_record"]
  assert parse_records(out) == before


int64s = st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1)


@settings(max_examples=60, deadline=None)
@given(ids=st.lists(st.one_of(st.integers(0, 40000), int64s), max_size=40),
       mask=st.lists(st.integers(0, 300), max_size=40),
       label=int64s, real=st.booleans())
def test_hand_encoding_parses_like_tf_example(ids, mask, label, real):
  feature = InputFeatures(ids + [0] * 3, mask, [0, 1] * 3, label, real)
  example = tf.train.Example.FromString(serialize_features(feature))
  f = example.features.feature
  assert list(f["input_ids"].int64_list.value) == ids + [0] * 3
  assert list(f["input_mask"].int64_list.value) == mask
  assert list(f["segment_ids"].int64_list.value) == [0, 1] * 3
  assert list(f["label_ids"].int64_list.value) == [label]
  assert list(f["is_real_example"].int64_list.value) == [int(real)]
  assert sorted(f) == sorted(FEATURE_NAMES)


def test_encoding_accepts_numpy_and_keeps_field_order():
  feature = InputFeatures(np.array([101, 30521, 0]), (1, 1, 0), [0, 0, 0],
                          np.int64(1), np.bool_(True))
  data = serialize_features(feature)
  parsed = tf.train.Example.FromString(data).features.feature
  assert list(parsed["input_ids"].int64_list.value) == [101, 30521, 0]
  assert list(parsed["input_mask"].int64_list.value) == [1, 1, 0]
  positions = [data.index(name) for name in
               (b"input_ids", b"input_mask", b"segment_ids", b"label_ids",
                b"is_real_example")]
  assert positions == sorted(positions)  # the original's insertion order
