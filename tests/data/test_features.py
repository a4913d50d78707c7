"""bert_tf.data.features / features_fast: the layout, truncation and featurization.

Parity fixtures: tests/fixtures/classifier_features/<task>/ holds the records
(parsed to JSON) and the log that the ORIGINAL run_classifier.py code produced
from the TSV prefixes in data/, with max_seq_length 32 and the uncased vocab.
"""

import json
import logging
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bert_tf.data import features, features_fast
from bert_tf.errors import DataError
from bert_tf.data.examples import (REGRESSION_LABELS, InputExample, PaddingInputExample,
                                   pad_examples_for_tpu)
from bert_tf.data.tasks import get_processor
from bert_tf.tokenization import FullTokenizer

from helpers import GLUE, ROOT
from data_testing import assert_one_line_data_error, log_sections, write_text

FEATURES = os.path.join(ROOT, "tests", "fixtures", "classifier_features")
VOCAB = os.path.join(ROOT, "tests", "fixtures", "tiny_uncased", "vocab.txt")
SEQ = 32


def tsv(rows):
  return "".join("\t".join(row) + "\n" for row in rows)


@pytest.mark.parametrize("task", ["CoLA", "MRPC"])
def test_in_memory_features_match_original(task, tokenizer, caplog):
  processor = get_processor(task)
  examples = processor.get_dev_examples(os.path.join(FEATURES, task, "data"))
  examples = pad_examples_for_tpu(examples, 16)
  caplog.set_level(logging.INFO)
  features = features_fast.convert_examples_to_features(examples, processor.get_labels(),
                                                        SEQ, tokenizer)
  with open(os.path.join(FEATURES, task, "eval_tpu_pad16.json"),
            encoding="utf-8") as f:
    want = json.load(f)
  assert len(features) == len(want) == 48
  for feature, w in zip(features, want):
    assert feature.input_ids == w["input_ids"]
    assert feature.input_mask == w["input_mask"]
    assert feature.segment_ids == w["segment_ids"]
    assert [feature.label_id] == w["label_ids"]
    assert [int(feature.is_real_example)] == w["is_real_example"]
    assert isinstance(feature.is_real_example, bool)
  messages = [r.getMessage() for r in caplog.records if r.name == "absl"]
  assert messages == log_sections(task)["eval_tpu_pad16.tf_record"]


def test_convert_single_example_logs_first_five_only(tokenizer, caplog):
  example = InputExample("g-1", "Hello world!", "Second one.", "1")
  caplog.set_level(logging.INFO)
  features.convert_single_example(5, example, ["0", "1"], 16, tokenizer)
  assert not caplog.records
  feature = features.convert_single_example(4, example, ["0", "1"], 16, tokenizer)
  assert [r.getMessage() for r in caplog.records] == [
      "*** Example ***",
      "guid: g-1",
      "tokens: [CLS] hello world ! [SEP] second one . [SEP]",
      "input_ids: 101 7592 2088 999 102 2117 2028 1012 102 0 0 0 0 0 0 0",
      "input_mask: 1 1 1 1 1 1 1 1 1 0 0 0 0 0 0 0",
      "segment_ids: 0 0 0 0 0 1 1 1 1 0 0 0 0 0 0 0",
      "label: 1 (id = 1)",
  ]
  assert feature.label_id == 1 and feature.is_real_example is True


def test_padding_example_is_all_zeros(tokenizer):
  feature = features.convert_single_example(0, PaddingInputExample(), ["a", "b"],
                                            8, tokenizer)
  assert feature.input_ids == feature.input_mask == feature.segment_ids == [0] * 8
  assert feature.label_id == 0 and feature.is_real_example is False


def test_truncate_seq_pair_pops_longer_then_b_on_tie():
  a, b = list("abcdef"), list("xy")
  features.truncate_seq_pair(a, b, 5)
  assert (a, b) == (list("abc"), list("xy"))
  a, b = list("abc"), list("xyz")
  features.truncate_seq_pair(a, b, 4)
  assert (a, b) == (list("ab"), list("xy"))
  a, b = list("ab"), list("xyz")
  features.truncate_seq_pair(a, b, 3)  # b longer, then tie -> b
  assert (a, b) == (list("ab"), list("x"))


@settings(max_examples=400, deadline=None)
@given(st.integers(0, 40), st.integers(0, 40), st.integers(0, 45))
def test_pair_lengths_equal_popping_one_token_at_a_time(len_a, len_b, budget):
  a, b = list(range(len_a)), list(range(len_b))
  features.truncate_seq_pair(a, b, budget)
  assert features.pair_lengths(len_a, len_b, budget) == (len(a), len(b))


_WORDS = ["the", "movie", "un", "##believable", "a", "b", "!", " ", "  ", "\t", "caf\u00e9",
          "zzqxj", "running", ",", "x" * 30, "\u4e2d", "Hello", ""]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.lists(st.sampled_from(_WORDS), max_size=30),
                          st.one_of(st.none(), st.lists(st.sampled_from(_WORDS), max_size=30)),
                          st.sampled_from(["0", "1"])), min_size=1, max_size=12),
       st.integers(3, 20))
def test_fast_features_equal_original_path_on_random_pairs(rows, seq):
  """Singles, pairs, empty and whitespace-only text_b, non-ASCII, long words."""
  tokenizer = FullTokenizer(VOCAB)
  examples = [InputExample("r-%d" % i, " ".join(a), None if b is None else " ".join(b), y)
              for i, (a, b, y) in enumerate(rows)]
  fast = features_fast.convert_examples_to_features(examples, ["0", "1"], seq, FullTokenizer(VOCAB))
  original = _OriginalPathTokenizer(tokenizer)
  assert fast == [features.convert_single_example(i, e, ["0", "1"], seq, original)
                  for i, e in enumerate(examples)]


def test_pair_truncation_and_segments(tokenizer):
  # "a b c d e f" is 6 tokens, "x y" 2; max 8 leaves 5 for the pair.
  feature = features.convert_single_example(9, InputExample(
      "g", "a b c d e f", "x y", "0"), ["0"], 8, tokenizer)
  tokens = tokenizer.convert_ids_to_tokens(feature.input_ids)
  assert tokens == ["[CLS]", "a", "b", "c", "[SEP]", "x", "y", "[SEP]"]
  assert feature.segment_ids == [0, 0, 0, 0, 0, 1, 1, 1]
  assert feature.input_mask == [1] * 8


def test_single_truncation_and_empty_text_b(tokenizer):
  for text_b in (None, ""):
    feature = features.convert_single_example(9, InputExample(
        "g", "a b c d e f", text_b, "0"), ["0"], 5, tokenizer)
    assert tokenizer.convert_ids_to_tokens(feature.input_ids) == [
        "[CLS]", "a", "b", "c", "[SEP]"]
    assert feature.segment_ids == [0] * 5


def test_text_b_tokenizing_to_nothing_is_single_sentence(tokenizer):
  # text_b is truthy but has no tokens: no second [SEP], like the original.
  feature = features.convert_single_example(9, InputExample(
      "g", "hi", "\u200b", "0"), ["0"], 6, tokenizer)
  assert tokenizer.convert_ids_to_tokens(feature.input_ids[:3]) == [
      "[CLS]", "hi", "[SEP]"]
  assert feature.input_mask == [1, 1, 1, 0, 0, 0]


def test_max_seq_length_too_small(tokenizer):
  with pytest.raises(ValueError, match="at least 3"):
    features.convert_single_example(0, InputExample("g", "a", "b", "0"), ["0"], 2,
                                    tokenizer)


def test_unknown_label_names_file_line_and_labels(tmp_path, tokenizer):
  d = str(tmp_path)
  path = write_text(os.path.join(d, "train.tsv"), tsv([
      ["src", "1", "", "Fine."], ["src", "2", "", "Bad label."]]))
  p = get_processor("cola")
  examples = p.get_train_examples(d)
  with pytest.raises(DataError) as e:
    features_fast.convert_examples_to_features(examples, p.get_labels(), 16, tokenizer)
  assert str(e.value).startswith(
      "%s line 2: label '2' is not in the label list ['0', '1']" % path)
  assert_one_line_data_error(e)
  with pytest.raises(DataError, match="example g-9: label 'x'"):
    features.convert_single_example(0, InputExample("g-9", "t", None, "x"),
                                    ["0", "1"], 8, tokenizer)
  with pytest.raises(DataError, match="label 'abc' is not a number"):
    features.convert_single_example(0, InputExample("g", "t", None, "abc"),
                                    REGRESSION_LABELS, 8, tokenizer)


class _OriginalPathTokenizer(object):
  """FullTokenizer's step-by-step tokenize_exact, without the batch-to-ids method,
  so features are built one example at a time by the original algorithm."""

  def __init__(self, full):
    self._full = full
    self.vocab = full.vocab

  def tokenize(self, text):
    return self._full.tokenize_exact(text)

  def convert_tokens_to_ids(self, tokens):
    return self._full.convert_tokens_to_ids(tokens)


@pytest.mark.parametrize("task,seq", [("CoLA", 128), ("MRPC", 128), ("SST-2", 128),
                                      ("CoLA", 12), ("MRPC", 24)])
def test_fast_features_equal_original_path_on_every_shipped_glue_file(task, seq, tokenizer):
  processor = get_processor(task)
  data_dir = os.path.join(GLUE, task)
  original = _OriginalPathTokenizer(tokenizer)
  labels = processor.get_labels()
  for examples in (processor.get_train_examples(data_dir),
                   processor.get_dev_examples(data_dir),
                   pad_examples_for_tpu(processor.get_test_examples(data_dir), 64)):
    fast = features_fast.convert_examples_to_features(examples, labels, seq, FullTokenizer(VOCAB))
    want = [features.convert_single_example(i, e, labels, seq, original)
            for i, e in enumerate(examples)]
    assert len(fast) == len(want) == len(examples)
    bad = [i for i, (f, w) in enumerate(zip(fast, want)) if f != w]
    assert not bad, (task, seq, bad[:5])


def test_vocab_without_unk_fails_or_not_exactly_where_the_original_does(tmp_path):
  # Without "[UNK]" in vocab.txt the original raises KeyError converting a token
  # it could not piece -- unless truncation dropped that token first.
  vocab = write_text(tmp_path / "vocab.txt",
                     "".join(t + "\n" for t in ["[PAD]", "[CLS]", "[SEP]", "a", "b", "."]))
  tok = FullTokenizer(vocab)
  fits = InputExample("x-1", "a b a b a zzz", None, "0")  # zzz cut at S=7 (5 tokens)
  examples = [InputExample("x-0", "a b .", "b a", "1"), fits]
  fast = features_fast.convert_examples_to_features(examples, ["0", "1"], 7, tok)
  assert fast == [features.convert_single_example(i, e, ["0", "1"], 7, _OriginalPathTokenizer(tok))
                  for i, e in enumerate(examples)]
  assert fast[1].input_ids == [1, 3, 4, 3, 4, 3, 2]
  with pytest.raises(KeyError, match=r"\[UNK\]"):
    features_fast.convert_examples_to_features(examples, ["0", "1"], 8, tok)
