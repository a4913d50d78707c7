"""bert_tf.classifier_data: processors, featurization, TFRecords, tf.data input.

Parity fixtures: tests/fixtures/classifier_features/<task>/ holds the records
(parsed to JSON) and the log that the ORIGINAL run_classifier.py code produced
from the TSV prefixes in data/, with max_seq_length 32 and the uncased vocab.
"""

import collections
import json
import logging
import os

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from bert_tf import classifier_data as cd
from bert_tf.tokenization import FullTokenizer

from helpers import ROOT
FEATURES = os.path.join(ROOT, "tests", "fixtures", "classifier_features")
VOCAB = os.path.join(ROOT, "tests", "fixtures", "tiny_uncased", "vocab.txt")
GLUE = os.path.join(ROOT, "data", "glue")
SEQ = 32
FEATURE_NAMES = ("input_ids", "input_mask", "segment_ids", "label_ids",
                 "is_real_example")


@pytest.fixture(scope="module")
def tokenizer():
  return FullTokenizer(VOCAB, do_lower_case=True)


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


def example_dict(example):
  if isinstance(example, cd.PaddingInputExample):
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
    examples = cd.pad_examples_for_tpu(examples, 16)
  return examples


def write_text(path, text, encoding="utf-8"):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "w", encoding=encoding, newline="") as f:
    f.write(text)
  return str(path)


def tsv(rows):
  return "".join("\t".join(row) + "\n" for row in rows)


def triples(examples):
  return [(e.guid, e.text_a, e.text_b, e.label) for e in examples]


# ----------------------------------------------------------------------------
# Parity with the original code's records and log
# ----------------------------------------------------------------------------

SPLITS = ("train", "eval", "predict", "eval_tpu_pad16", "predict_tpu_pad16")


@pytest.mark.parametrize("task", ["CoLA", "MRPC"])
@pytest.mark.parametrize("name", SPLITS)
def test_records_and_log_match_original(task, name, tokenizer, tmp_path,
                                        caplog):
  processor = cd.get_processor(task)
  examples = split_examples(processor, os.path.join(FEATURES, task, "data"),
                            name)
  with open(os.path.join(FEATURES, task, name + ".json"), encoding="utf-8") as f:
    want = json.load(f)
  assert [example_dict(e) for e in examples] == [w["_example"] for w in want]

  out = str(tmp_path / (name + ".tf_record"))
  caplog.set_level(logging.INFO)
  cd.file_based_convert_examples_to_features(examples, processor.get_labels(),
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


@pytest.mark.parametrize("task", ["CoLA", "MRPC"])
def test_in_memory_features_match_original(task, tokenizer, caplog):
  processor = cd.get_processor(task)
  examples = processor.get_dev_examples(os.path.join(FEATURES, task, "data"))
  examples = cd.pad_examples_for_tpu(examples, 16)
  caplog.set_level(logging.INFO)
  features = cd.convert_examples_to_features(examples, processor.get_labels(),
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
  example = cd.InputExample("g-1", "Hello world!", "Second one.", "1")
  caplog.set_level(logging.INFO)
  cd.convert_single_example(5, example, ["0", "1"], 16, tokenizer)
  assert not caplog.records
  feature = cd.convert_single_example(4, example, ["0", "1"], 16, tokenizer)
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
  feature = cd.convert_single_example(0, cd.PaddingInputExample(), ["a", "b"],
                                      8, tokenizer)
  assert feature.input_ids == feature.input_mask == feature.segment_ids == [0] * 8
  assert feature.label_id == 0 and feature.is_real_example is False


# ----------------------------------------------------------------------------
# Truncation and layout
# ----------------------------------------------------------------------------


def test_truncate_seq_pair_pops_longer_then_b_on_tie():
  a, b = list("abcdef"), list("xy")
  cd._truncate_seq_pair(a, b, 5)
  assert (a, b) == (list("abc"), list("xy"))
  a, b = list("abc"), list("xyz")
  cd._truncate_seq_pair(a, b, 4)
  assert (a, b) == (list("ab"), list("xy"))
  a, b = list("ab"), list("xyz")
  cd._truncate_seq_pair(a, b, 3)  # b longer, then tie -> b
  assert (a, b) == (list("ab"), list("x"))


@settings(max_examples=400, deadline=None)
@given(st.integers(0, 40), st.integers(0, 40), st.integers(0, 45))
def test_pair_lengths_equal_popping_one_token_at_a_time(len_a, len_b, budget):
  a, b = list(range(len_a)), list(range(len_b))
  cd._truncate_seq_pair(a, b, budget)
  assert cd._pair_lengths(len_a, len_b, budget) == (len(a), len(b))


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
  examples = [cd.InputExample("r-%d" % i, " ".join(a), None if b is None else " ".join(b), y)
              for i, (a, b, y) in enumerate(rows)]
  fast = cd.convert_examples_to_features(examples, ["0", "1"], seq, FullTokenizer(VOCAB))
  original = _OriginalPathTokenizer(tokenizer)
  assert fast == [cd.convert_single_example(i, e, ["0", "1"], seq, original)
                  for i, e in enumerate(examples)]


def test_pair_truncation_and_segments(tokenizer):
  # "a b c d e f" is 6 tokens, "x y" 2; max 8 leaves 5 for the pair.
  feature = cd.convert_single_example(9, cd.InputExample(
      "g", "a b c d e f", "x y", "0"), ["0"], 8, tokenizer)
  tokens = tokenizer.convert_ids_to_tokens(feature.input_ids)
  assert tokens == ["[CLS]", "a", "b", "c", "[SEP]", "x", "y", "[SEP]"]
  assert feature.segment_ids == [0, 0, 0, 0, 0, 1, 1, 1]
  assert feature.input_mask == [1] * 8


def test_single_truncation_and_empty_text_b(tokenizer):
  for text_b in (None, ""):
    feature = cd.convert_single_example(9, cd.InputExample(
        "g", "a b c d e f", text_b, "0"), ["0"], 5, tokenizer)
    assert tokenizer.convert_ids_to_tokens(feature.input_ids) == [
        "[CLS]", "a", "b", "c", "[SEP]"]
    assert feature.segment_ids == [0] * 5


def test_text_b_tokenizing_to_nothing_is_single_sentence(tokenizer):
  # text_b is truthy but has no tokens: no second [SEP], like the original.
  feature = cd.convert_single_example(9, cd.InputExample(
      "g", "hi", "\u200b", "0"), ["0"], 6, tokenizer)
  assert tokenizer.convert_ids_to_tokens(feature.input_ids[:3]) == [
      "[CLS]", "hi", "[SEP]"]
  assert feature.input_mask == [1, 1, 1, 0, 0, 0]


def test_max_seq_length_too_small(tokenizer):
  with pytest.raises(ValueError, match="at least 3"):
    cd.convert_single_example(0, cd.InputExample("g", "a", "b", "0"), ["0"], 2,
                              tokenizer)


def test_pad_examples_for_tpu():
  examples = [cd.InputExample(str(i), "t") for i in range(40)]
  padded = cd.pad_examples_for_tpu(examples, 16)
  assert len(padded) == 48 and len(examples) == 40
  assert padded[:40] == examples
  assert all(isinstance(e, cd.PaddingInputExample) for e in padded[40:])
  assert len(cd.pad_examples_for_tpu(padded, 16)) == 48
  assert len(cd.pad_examples_for_tpu(examples, 8)) == 40


# ----------------------------------------------------------------------------
# GLUE processors on the real files
# ----------------------------------------------------------------------------


def test_cola_real_files():
  p = cd.get_processor("CoLA")
  d = os.path.join(GLUE, "CoLA")
  train, dev, test = (p.get_train_examples(d), p.get_dev_examples(d),
                      p.get_test_examples(d))
  assert (len(train), len(dev), len(test)) == (8551, 1043, 1063)
  assert triples(train[:2]) == [
      ("train-0", "Our friends won't buy this analysis, let alone the next one "
       "we propose.", None, "1"),
      ("train-1", "One more pseudo generalization and I'm giving up.", None, "1")]
  assert triples(dev[:1]) == [
      ("dev-0", "The sailors rode the breeze clear of the rocks.", None, "1")]
  assert triples(test[:2]) == [
      ("test-1", "Bill whistled past the house.", None, "0"),
      ("test-2", "The car honked its way down the road.", None, "0")]
  assert collections.Counter(e.label for e in train) == {"1": 6023, "0": 2528}
  assert collections.Counter(e.label for e in dev) == {"1": 721, "0": 322}
  assert p.get_labels() == ["0", "1"] and not p.is_regression
  assert (train[1].source_file, train[1].source_line) == (
      os.path.join(d, "train.tsv"), 2)


def test_mrpc_real_files():
  p = cd.get_processor("MRPC")
  d = os.path.join(GLUE, "MRPC")
  train, dev, test = (p.get_train_examples(d), p.get_dev_examples(d),
                      p.get_test_examples(d))
  assert (len(train), len(dev), len(test)) == (3668, 408, 1725)
  assert triples(train[:2]) == [
      ("train-1", 'Amrozi accused his brother , whom he called " the witness " '
       ", of deliberately distorting his evidence .",
       'Referring to him as only " the witness " , Amrozi accused his brother '
       "of deliberately distorting his evidence .", "1"),
      ("train-2", "Yucaipa owned Dominick 's before selling the chain to "
       "Safeway in 1998 for $ 2.5 billion .",
       "Yucaipa bought Dominick 's in 1995 for $ 693 million and sold it to "
       "Safeway for $ 1.8 billion in 1998 .", "0")]
  assert triples(dev[:1])[0][0] == "dev-1" and dev[0].label == "1"
  assert test[0].guid == "test-1" and test[0].label == "0"
  assert test[0].text_a.startswith("PCCW 's chief operating officer")
  assert collections.Counter(e.label for e in train) == {"1": 2474, "0": 1194}
  assert collections.Counter(e.label for e in dev) == {"1": 279, "0": 129}


def test_sst2_real_files():
  p = cd.get_processor("SST-2")
  d = os.path.join(GLUE, "SST-2")
  train, dev, test = (p.get_train_examples(d), p.get_dev_examples(d),
                      p.get_test_examples(d))
  assert (len(train), len(dev), len(test)) == (67349, 872, 1821)
  assert triples(train[:2]) == [
      ("train-1", "hide new secretions from the parental units ", None, "0"),
      ("train-2", "contains no wit , only labored gags ", None, "0")]
  assert triples(dev[:1]) == [
      ("dev-1", "it 's a charming and often affecting journey . ", None, "1")]
  assert triples(test[:1]) == [
      ("test-1", "uneasy mishmash of styles and genres .", None, "0")]
  assert collections.Counter(e.label for e in train) == {"1": 37569, "0": 29780}
  assert collections.Counter(e.label for e in dev) == {"1": 444, "0": 428}
  assert p.get_labels() == ["0", "1"]


def test_processor_registry():
  assert sorted(cd.PROCESSORS) == sorted([
      "cola", "mnli", "mrpc", "xnli", "sst-2", "qnli", "qqp", "rte", "wnli",
      "sts-b"])
  assert isinstance(cd.get_processor("MnLi"), cd.MnliProcessor)
  with pytest.raises(ValueError) as e:
    cd.get_processor("Foo")
  assert str(e.value) == "Task not found: foo"
  assert [name for name, cls in cd.PROCESSORS.items()
          if cls().is_regression] == ["sts-b"]


# ----------------------------------------------------------------------------
# GLUE processors on generated files
# ----------------------------------------------------------------------------

MNLI_HEAD = ["index", "promptID", "pairID", "genre", "s1_bin", "s2_bin",
             "s1_parse", "s2_parse", "sentence1", "sentence2"]


def test_mnli(tmp_path):
  d = str(tmp_path)
  write_text(os.path.join(d, "train.tsv"), tsv([
      MNLI_HEAD + ["label1", "gold_label"],
      ["7", "p", "q", "g", "", "", "", "", "A man.", "A person.", "neutral",
       "entailment"]]))
  write_text(os.path.join(d, "dev_matched.tsv"), tsv([
      MNLI_HEAD + ["label1", "label2", "label3", "label4", "label5",
                   "gold_label"],
      ["9", "p", "q", "g", "", "", "", "", "Dev a.", "Dev b.", "x", "x", "x",
       "x", "x", "contradiction"]]))
  write_text(os.path.join(d, "test_matched.tsv"), tsv([
      MNLI_HEAD, ["11", "p", "q", "g", "", "", "", "", "T a.", "T b."]]))
  p = cd.get_processor("mnli")
  assert p.get_labels() == ["contradiction", "entailment", "neutral"]
  assert triples(p.get_train_examples(d)) == [
      ("train-7", "A man.", "A person.", "entailment")]
  assert triples(p.get_dev_examples(d)) == [
      ("dev_matched-9", "Dev a.", "Dev b.", "contradiction")]
  assert triples(p.get_test_examples(d)) == [
      ("test-11", "T a.", "T b.", "contradiction")]


def test_xnli(tmp_path):
  d = str(tmp_path)
  write_text(os.path.join(d, "multinli", "multinli.train.zh.tsv"), tsv([
      ["premise", "hypo", "label"],
      ["你好", "世界", "contradictory"],
      ["a", "b", "neutral"]]))
  dev_head = ["language", "gold_label", "s1_bin", "s2_bin", "s1_parse",
              "s2_parse", "sentence1", "sentence2"]
  write_text(os.path.join(d, "xnli.dev.tsv"), tsv([
      dev_head,
      ["en", "neutral", "", "", "", "", "en a", "en b"],
      ["zh", "entailment", "", "", "", "", "中文", "句子"],
      ["de"]]))  # other languages are skipped before their columns are read
  p = cd.get_processor("XNLI")
  assert p.language == "zh"
  assert triples(p.get_train_examples(d)) == [
      ("train-1", "你好", "世界", "contradiction"),
      ("train-2", "a", "b", "neutral")]
  assert triples(p.get_dev_examples(d)) == [
      ("dev-2", "中文", "句子", "entailment")]
  with pytest.raises(NotImplementedError):
    p.get_test_examples(d)
  assert p.get_labels() == ["contradiction", "entailment", "neutral"]
  with pytest.raises(cd.DataError, match=r"multinli\.train\.zh\.tsv/xnli\.dev\.tsv"):
    p.get_train_examples(str(tmp_path / "nowhere"))


@pytest.mark.parametrize("task,labels", [
    ("qnli", ["entailment", "not_entailment"]),
    ("rte", ["entailment", "not_entailment"]),
    ("wnli", ["0", "1"]),
])
def test_indexed_pair_tasks(task, labels, tmp_path):
  d = str(tmp_path)
  write_text(os.path.join(d, "train.tsv"), tsv([
      ["index", "s1", "s2", "label"], ["0", "q0", "s0", labels[1]],
      ["1", "q1", "s1", labels[0]]]))
  write_text(os.path.join(d, "dev.tsv"), tsv([
      ["index", "s1", "s2", "label"], ["5", "dq", "ds", labels[1]]]))
  write_text(os.path.join(d, "test.tsv"), tsv([
      ["index", "s1", "s2"], ["3", "tq", "ts"]]))
  p = cd.get_processor(task)
  assert p.get_labels() == labels and not p.is_regression
  assert triples(p.get_train_examples(d)) == [
      ("train-0", "q0", "s0", labels[1]), ("train-1", "q1", "s1", labels[0])]
  assert triples(p.get_dev_examples(d)) == [("dev-5", "dq", "ds", labels[1])]
  assert triples(p.get_test_examples(d)) == [("test-3", "tq", "ts", labels[0])]


def test_qqp(tmp_path):
  d = str(tmp_path)
  head = ["id", "qid1", "qid2", "question1", "question2", "is_duplicate"]
  write_text(os.path.join(d, "train.tsv"), tsv([
      head, ["201", "1", "2", "How?", "Why?", "1"]]))
  write_text(os.path.join(d, "dev.tsv"), tsv([
      head, ["202", "3", "4", "Who?", "What?", "0"]]))
  write_text(os.path.join(d, "test.tsv"), tsv([
      ["id", "question1", "question2"], ["0", "Where?", "When?"]]))
  p = cd.get_processor("QQP")
  assert p.get_labels() == ["0", "1"]
  assert triples(p.get_train_examples(d)) == [("train-201", "How?", "Why?", "1")]
  assert triples(p.get_dev_examples(d)) == [("dev-202", "Who?", "What?", "0")]
  assert triples(p.get_test_examples(d)) == [("test-0", "Where?", "When?", "0")]


def test_stsb_regression(tmp_path, tokenizer, caplog):
  d = str(tmp_path)
  head = ["index", "genre", "filename", "year", "old_index", "source1",
          "source2", "sentence1", "sentence2"]
  row = ["main-captions", "MSRvid", "2012test", "0001", "none", "none"]
  write_text(os.path.join(d, "train.tsv"), tsv([
      head + ["score"], ["0"] + row + ["A plane takes off.",
                                       "An air plane is taking off.", "5.000"],
      ["1"] + row + ["A man plays.", "A woman sings.", "0.800"]]))
  write_text(os.path.join(d, "dev.tsv"), tsv([
      head + ["score"], ["4"] + row + ["x", "y", "3.25"]]))
  write_text(os.path.join(d, "test.tsv"), tsv([head, ["9"] + row + ["p", "q"]]))
  p = cd.get_processor("STS-B")
  assert p.is_regression and p.get_labels() == [None]
  assert len(p.get_labels()) == 1  # one output
  train = p.get_train_examples(d)
  assert triples(train) == [
      ("train-0", "A plane takes off.", "An air plane is taking off.", "5.000"),
      ("train-1", "A man plays.", "A woman sings.", "0.800")]
  assert triples(p.get_dev_examples(d)) == [("dev-4", "x", "y", "3.25")]
  assert triples(p.get_test_examples(d)) == [("test-9", "p", "q", "0")]

  caplog.set_level(logging.INFO)
  features = cd.convert_examples_to_features(train, p.get_labels(), 16,
                                             tokenizer)
  assert [f.label_id for f in features] == [5.0, 0.8]
  assert "label: 0.800 (id = 0.8)" in [r.getMessage() for r in caplog.records]

  out = str(tmp_path / "train.tf_record")
  cd.file_based_convert_examples_to_features(train, p.get_labels(), 16,
                                             tokenizer, out)
  records = parse_records(out)
  assert records[1]["label_ids"] == [pytest.approx(0.8)]
  example = tf.train.Example.FromString(
      next(iter(tf.data.TFRecordDataset(out))).numpy())
  assert example.features.feature["label_ids"].WhichOneof("kind") == "float_list"
  batch = next(iter(cd.make_dataset(out, 16, 2, is_training=False,
                                    drop_remainder=False, is_regression=True)))
  assert batch["label_ids"].dtype == tf.float32
  np.testing.assert_allclose(batch["label_ids"].numpy(), [5.0, 0.8], rtol=1e-6)
  assert batch["input_ids"].dtype == tf.int32


def test_read_tsv_keeps_quotes_literal(tmp_path):
  path = write_text(str(tmp_path / "x.tsv"), 'a\t"b\tc"\n"d"\te\n')
  assert cd.DataProcessor._read_tsv(path) == [["a", '"b', 'c"'], ['"d"', "e"]]


# ----------------------------------------------------------------------------
# Generic tsv/csv processor
# ----------------------------------------------------------------------------


def test_generic_tsv_by_header_name_and_label_list(tmp_path):
  data, out = str(tmp_path / "data"), str(tmp_path / "out")
  write_text(os.path.join(data, "train.tsv"), tsv([
      ["\ufeffid", "review", "sentiment"],
      ["r1", "great film", "pos"], ["r2", "awful", "neg "],
      ["r3", "fine", "neutral"], ["r4", "bad", "neg"]]))
  write_text(os.path.join(data, "dev.tsv"), tsv([
      ["id", "review", "sentiment"], ["d1", "ok", "neutral"]]))
  write_text(os.path.join(data, "test.tsv"), tsv([
      ["id", "review"], ["t1", "meh"]]))
  p = cd.get_processor("TSV", text_a_column="review", label_column="sentiment",
                       guid_column="id", has_header=True, data_dir=data,
                       output_dir=out)
  assert isinstance(p, cd.GenericProcessor) and p.delimiter == "\t"
  assert p.get_labels() == ["neg", "neutral", "pos"]
  with open(os.path.join(out, "label_list.txt"), encoding="utf-8") as f:
    assert f.read() == "neg\nneutral\npos\n"
  assert triples(p.get_train_examples(data)) == [
      ("train-r1", "great film", None, "pos"), ("train-r2", "awful", None, "neg"),
      ("train-r3", "fine", None, "neutral"), ("train-r4", "bad", None, "neg")]
  assert triples(p.get_dev_examples(data)) == [("dev-d1", "ok", None, "neutral")]
  # The test file has no label column: dummy label = first label.
  assert triples(p.get_test_examples(data)) == [("test-t1", "meh", None, "neg")]

  # A later predict-only run: the label order comes from label_list.txt.
  predict_dir = str(tmp_path / "predict_only")
  write_text(os.path.join(predict_dir, "test.tsv"), tsv([["review"], ["hm"]]))
  later = cd.get_processor("tsv", text_a_column="review",
                           label_column="sentiment", data_dir=predict_dir,
                           output_dir=out)
  assert later.get_labels() == ["neg", "neutral", "pos"]
  assert triples(later.get_test_examples(predict_dir)) == [
      ("test-0", "hm", None, "neg")]


def test_generic_label_list_file_order_wins(tmp_path):
  data, out = str(tmp_path / "data"), str(tmp_path / "out")
  write_text(os.path.join(data, "train.tsv"), tsv([["t", "l"], ["x", "b"],
                                                   ["y", "a"]]))
  write_text(os.path.join(out, "label_list.txt"), "b\na\n")
  p = cd.GenericProcessor(data_dir=data, output_dir=out)
  assert p.get_labels() == ["b", "a"]
  # A training file with a label the saved list lacks is refused.
  write_text(os.path.join(data, "train.tsv"), tsv([["t", "l"], ["x", "c"]]))
  with pytest.raises(cd.DataError, match=r"label_list\.txt: lists labels .*'c'"):
    cd.GenericProcessor(data_dir=data, output_dir=out).get_labels()


def test_generic_explicit_labels(tmp_path):
  out = str(tmp_path / "out")
  p = cd.get_processor("tsv", labels="z,y", output_dir=out)
  assert p.get_labels() == ["z", "y"]
  with open(os.path.join(out, "label_list.txt"), encoding="utf-8") as f:
    assert f.read() == "z\ny\n"


def test_generic_without_label_list(tmp_path):
  p = cd.get_processor("tsv", data_dir=str(tmp_path), output_dir=str(tmp_path))
  with pytest.raises(cd.DataError, match=r"label_list\.txt: no label list.*--do_train"):
    p.get_labels()


def test_generic_csv_quoted_fields_and_pairs(tmp_path, tokenizer):
  data = str(tmp_path)
  write_text(os.path.join(data, "train.csv"),
             'q1,q2,label\n"Hello, world","multi\nline",yes\nplain,"say ""hi""",no\n')
  p = cd.get_processor("csv", text_a_column="q1", text_b_column="q2",
                       label_column="label", data_dir=data)
  assert p.delimiter == "," and p.quotechar == '"'
  train = p.get_train_examples(data)
  assert triples(train) == [("train-0", "Hello, world", "multi\nline", "yes"),
                            ("train-1", "plain", 'say "hi"', "no")]
  assert [e.source_line for e in train] == [2, 4]
  assert p.get_labels() == ["no", "yes"]
  features = cd.convert_examples_to_features(train, p.get_labels(), 12, tokenizer)
  assert [f.label_id for f in features] == [1, 0]
  assert features[0].segment_ids == [0] * 5 + [1] * 3 + [0] * 4


def test_generic_by_index_without_header(tmp_path):
  data = str(tmp_path)
  write_text(os.path.join(data, "train.tsv"), tsv([["1", "a", "b"],
                                                   ["0", "c", "d"]]))
  p = cd.get_processor("tsv", text_a_column="1", text_b_column=2,
                       label_column="0", has_header=False)
  assert triples(p.get_train_examples(data)) == [("train-0", "a", "b", "1"),
                                                 ("train-1", "c", "d", "0")]
  assert p.data_dir == data and p.get_labels() == ["0", "1"]


def test_generic_regression(tmp_path, tokenizer):
  data = str(tmp_path)
  write_text(os.path.join(data, "train.tsv"), tsv([["text", "score"],
                                                   ["a", "1.5"], ["b", "2"]]))
  p = cd.get_processor("tsv", is_regression=True)
  assert p.is_regression and p.get_labels() == [None]
  features = cd.convert_examples_to_features(p.get_train_examples(data),
                                             p.get_labels(), 8, tokenizer)
  assert [f.label_id for f in features] == [1.5, 2.0]


def test_generic_column_errors(tmp_path):
  data = str(tmp_path)
  path = write_text(os.path.join(data, "train.tsv"), tsv([["text", "label"],
                                                          ["a", "x"]]))
  with pytest.raises(cd.DataError) as e:
    cd.get_processor("tsv", text_a_column="sentence").get_train_examples(data)
  assert str(e.value) == ("%s line 1: no column named 'sentence' in the header "
                          "(columns: text, label)" % path)
  with pytest.raises(cd.DataError, match="has_header is false"):
    cd.get_processor("tsv", label_column="label",
                     has_header=False).get_train_examples(data)
  with pytest.raises(cd.DataError,
                     match=r"train\.tsv line 2: expected at least 4 "
                     r"tab-separated columns, found 2"):
    cd.get_processor("tsv", label_column=3).get_train_examples(data)
  write_text(path, tsv([["text", "label"], ["a", " "]]))
  with pytest.raises(cd.DataError, match=r"train\.tsv line 2: empty label"):
    cd.get_processor("tsv").get_train_examples(data)
  with pytest.raises(ValueError, match="0-based"):
    cd.get_processor("tsv", text_a_column=-1)


# ----------------------------------------------------------------------------
# Bad input: DataError with a one-line message naming file and line
# ----------------------------------------------------------------------------


def assert_one_line_data_error(excinfo, *parts):
  assert isinstance(excinfo.value, ValueError)
  message = str(excinfo.value)
  assert "\n" not in message
  for part in parts:
    assert part in message, (part, message)


def test_missing_file_and_data_dir(tmp_path):
  p = cd.get_processor("MRPC")
  with pytest.raises(cd.DataError) as e:
    p.get_dev_examples(str(tmp_path))
  assert str(e.value) == (
      "%s: file not found; --data_dir must contain train.tsv/dev.tsv/test.tsv "
      "for task mrpc" % os.path.join(str(tmp_path), "dev.tsv"))
  with pytest.raises(cd.DataError) as e:
    cd.get_processor("mnli").get_train_examples(str(tmp_path / "missing"))
  assert_one_line_data_error(e, "missing", "--data_dir does not exist",
                             "train.tsv/dev_matched.tsv/test_matched.tsv",
                             "task mnli")
  with pytest.raises(cd.DataError, match="train.csv/dev.csv/test.csv"):
    cd.get_processor("csv").get_train_examples(str(tmp_path))


def test_empty_and_header_only_files(tmp_path):
  d = str(tmp_path)
  path = write_text(os.path.join(d, "train.tsv"), "")
  with pytest.raises(cd.DataError) as e:
    cd.get_processor("cola").get_train_examples(d)
  assert str(e.value) == ("%s: file is empty; expected tab-separated rows" % path)
  write_text(path, "\n\n")
  with pytest.raises(cd.DataError, match="file is empty"):
    cd.get_processor("cola").get_train_examples(d)
  write_text(path, "sentence\tlabel\n")
  with pytest.raises(cd.DataError) as e:
    cd.get_processor("sst-2").get_train_examples(d)
  assert_one_line_data_error(e, path, "no examples", "sentence, label")


def test_too_few_columns(tmp_path):
  d = str(tmp_path)
  path = write_text(os.path.join(d, "dev.tsv"), tsv([
      ["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"],
      ["1", "11", "12", "a", "b"],
      ["0", "13", "only three"]]))
  with pytest.raises(cd.DataError) as e:
    cd.get_processor("mrpc").get_dev_examples(d)
  assert str(e.value).startswith(
      "%s line 3: expected at least 5 tab-separated columns, found 3; "
      "task mrpc expects Quality, #1 ID" % path)
  assert_one_line_data_error(e)
  # A blank line in the middle is a row with 0 columns.
  write_text(path, "1\t11\t12\ta\tb\n\n0\t1\t2\tc\td\n")
  with pytest.raises(cd.DataError, match=r"dev\.tsv line 2: .* found 0"):
    cd.get_processor("mrpc").get_dev_examples(d)


def test_unknown_label_names_file_line_and_labels(tmp_path, tokenizer):
  d = str(tmp_path)
  path = write_text(os.path.join(d, "train.tsv"), tsv([
      ["src", "1", "", "Fine."], ["src", "2", "", "Bad label."]]))
  p = cd.get_processor("cola")
  examples = p.get_train_examples(d)
  with pytest.raises(cd.DataError) as e:
    cd.convert_examples_to_features(examples, p.get_labels(), 16, tokenizer)
  assert str(e.value).startswith(
      "%s line 2: label '2' is not in the label list ['0', '1']" % path)
  assert_one_line_data_error(e)
  with pytest.raises(cd.DataError, match="example g-9: label 'x'"):
    cd.convert_single_example(0, cd.InputExample("g-9", "t", None, "x"),
                              ["0", "1"], 8, tokenizer)
  with pytest.raises(cd.DataError, match="label 'abc' is not a number"):
    cd.convert_single_example(0, cd.InputExample("g", "t", None, "abc"),
                              cd.REGRESSION_LABELS, 8, tokenizer)


def test_failed_write_keeps_old_file_and_leaves_no_temp(tmp_path, tokenizer):
  out = str(tmp_path / "train.tf_record")
  good = [cd.InputExample("g1", "a", None, "1")]
  cd.file_based_convert_examples_to_features(good, ["0", "1"], 8, tokenizer, out)
  before = parse_records(out)
  bad = good + [cd.InputExample("g2", "b", None, "7")]
  with pytest.raises(cd.DataError, match="label '7'"):
    cd.file_based_convert_examples_to_features(bad, ["0", "1"], 8, tokenizer, out)
  assert os.listdir(tmp_path) == ["train.tf_record"]
  assert parse_records(out) == before


def test_invalid_utf8_is_dropped_with_one_warning(tmp_path, caplog):
  d = str(tmp_path)
  path = os.path.join(d, "train.tsv")
  with open(path, "wb") as f:
    f.write(b"s\t1\t\tcaf\xe9 ok\ns\t0\t\tfine\ns\t1\t\tbad \xff\xfe byte\n")
  caplog.set_level(logging.INFO)
  examples = cd.get_processor("cola").get_train_examples(d)
  assert [e.text_a for e in examples] == ["caf ok", "fine", "bad  byte"]
  warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
  assert len(warnings) == 1
  assert warnings[0].startswith("%s: 2 line(s) contain bytes that are not "
                                "valid UTF-8 (first: line 1)" % path)


def test_utf16_crlf_and_huge_field(tmp_path):
  d = str(tmp_path)
  path = os.path.join(d, "train.tsv")
  write_text(path, "s\t1\t\ta\n", encoding="utf-16")
  with pytest.raises(cd.DataError, match="UTF-16 encoded; save it as UTF-8"):
    cd.get_processor("cola").get_train_examples(d)
  # \r\n line endings are fine; a lone \r inside a line is reported.
  write_text(path, "s\t1\t\ta\r\ns\t0\t\tb\r\n")
  assert [e.text_a for e in cd.get_processor("cola").get_train_examples(d)] == [
      "a", "b"]
  write_text(path, "s\t1\t\ta\ns\t0\t\tb\rc\n")
  with pytest.raises(cd.DataError) as e:
    cd.get_processor("cola").get_train_examples(d)
  assert_one_line_data_error(e, path + " line 2: carriage return")
  write_text(path, "s\t1\t\tok\ns\t0\t\t" + "x" * 200000 + "\n")
  with pytest.raises(cd.DataError) as e:
    cd.get_processor("cola").get_train_examples(d)
  assert_one_line_data_error(e, path + " line 2: a field is longer than")


def test_directory_instead_of_file(tmp_path):
  os.makedirs(tmp_path / "x.tsv")
  with pytest.raises(cd.DataError, match="is a directory"):
    cd.read_rows(str(tmp_path / "x.tsv"))


# ----------------------------------------------------------------------------
# Record encoding
# ----------------------------------------------------------------------------

int64s = st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1)


@settings(max_examples=60, deadline=None)
@given(ids=st.lists(st.one_of(st.integers(0, 40000), int64s), max_size=40),
       mask=st.lists(st.integers(0, 300), max_size=40),
       label=int64s, real=st.booleans())
def test_hand_encoding_parses_like_tf_example(ids, mask, label, real):
  feature = cd.InputFeatures(ids + [0] * 3, mask, [0, 1] * 3, label, real)
  example = tf.train.Example.FromString(cd.serialize_features(feature))
  f = example.features.feature
  assert list(f["input_ids"].int64_list.value) == ids + [0] * 3
  assert list(f["input_mask"].int64_list.value) == mask
  assert list(f["segment_ids"].int64_list.value) == [0, 1] * 3
  assert list(f["label_ids"].int64_list.value) == [label]
  assert list(f["is_real_example"].int64_list.value) == [int(real)]
  assert sorted(f) == sorted(FEATURE_NAMES)


def test_encoding_accepts_numpy_and_keeps_field_order():
  feature = cd.InputFeatures(np.array([101, 30521, 0]), (1, 1, 0), [0, 0, 0],
                             np.int64(1), np.bool_(True))
  data = cd.serialize_features(feature)
  parsed = tf.train.Example.FromString(data).features.feature
  assert list(parsed["input_ids"].int64_list.value) == [101, 30521, 0]
  assert list(parsed["input_mask"].int64_list.value) == [1, 1, 0]
  positions = [data.index(name) for name in
               (b"input_ids", b"input_mask", b"segment_ids", b"label_ids",
                b"is_real_example")]
  assert positions == sorted(positions)  # the original's insertion order


# ----------------------------------------------------------------------------
# tf.data pipeline
# ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def eval_file(tmp_path_factory, tokenizer):
  processor = cd.get_processor("cola")
  examples = processor.get_dev_examples(os.path.join(FEATURES, "CoLA", "data"))
  path = str(tmp_path_factory.mktemp("records") / "eval.tf_record")
  cd.file_based_convert_examples_to_features(examples, processor.get_labels(),
                                             SEQ, tokenizer, path)
  with open(os.path.join(FEATURES, "CoLA", "eval.json"), encoding="utf-8") as f:
    return path, json.load(f)


def test_make_dataset_eval_order_shapes_dtypes(eval_file):
  path, want = eval_file
  ds = cd.make_dataset(path, SEQ, 16, is_training=False, drop_remainder=False)
  spec = ds.element_spec
  assert set(spec) == set(FEATURE_NAMES)
  assert spec["input_ids"].shape.as_list() == [None, SEQ]
  assert spec["label_ids"].shape.as_list() == [None]
  assert all(s.dtype == tf.int32 for s in spec.values())
  batches = list(ds)
  assert [b["input_ids"].shape[0] for b in batches] == [16, 16, 8]
  for name in FEATURE_NAMES:
    got = np.concatenate([b[name].numpy() for b in batches])
    expected = np.array([w[name] for w in want])
    if name in ("label_ids", "is_real_example"):
      expected = expected[:, 0]
    np.testing.assert_array_equal(got, expected)


def test_make_dataset_drop_remainder(eval_file):
  path, _ = eval_file
  ds = cd.make_dataset(path, SEQ, 16, is_training=False, drop_remainder=True)
  assert ds.element_spec["input_mask"].shape.as_list() == [16, SEQ]
  assert len(list(ds)) == 2


def test_make_dataset_training_repeats_and_shuffles(eval_file):
  path, want = eval_file
  ds = cd.make_dataset(path, SEQ, 16, is_training=True, drop_remainder=False,
                       seed=7)
  assert ds.element_spec["segment_ids"].shape.as_list() == [16, SEQ]
  first = [b["input_ids"].numpy() for b in ds.take(20)]  # 320 rows, 8 epochs
  again = [b["input_ids"].numpy() for b in cd.make_dataset(
      path, SEQ, 16, is_training=True, drop_remainder=False, seed=7).take(20)]
  np.testing.assert_array_equal(np.stack(first), np.stack(again))
  rows = {tuple(r) for r in np.concatenate(first)}
  assert rows == {tuple(w["input_ids"]) for w in want}
  in_file_order = np.array([w["input_ids"] for w in want[:16]])
  assert not np.array_equal(first[0], in_file_order)


# ----------------------------------------------------------------------------
# The fast conversion (chunks tokenized straight to ids) == the original path
# ----------------------------------------------------------------------------


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
  processor = cd.get_processor(task)
  data_dir = os.path.join(GLUE, task)
  original = _OriginalPathTokenizer(tokenizer)
  labels = processor.get_labels()
  for examples in (processor.get_train_examples(data_dir),
                   processor.get_dev_examples(data_dir),
                   cd.pad_examples_for_tpu(processor.get_test_examples(data_dir), 64)):
    fast = cd.convert_examples_to_features(examples, labels, seq, FullTokenizer(VOCAB))
    want = [cd.convert_single_example(i, e, labels, seq, original)
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
  fits = cd.InputExample("x-1", "a b a b a zzz", None, "0")  # zzz cut at S=7 (5 tokens)
  examples = [cd.InputExample("x-0", "a b .", "b a", "1"), fits]
  fast = cd.convert_examples_to_features(examples, ["0", "1"], 7, tok)
  assert fast == [cd.convert_single_example(i, e, ["0", "1"], 7, _OriginalPathTokenizer(tok))
                  for i, e in enumerate(examples)]
  assert fast[1].input_ids == [1, 3, 4, 3, 4, 3, 2]
  with pytest.raises(KeyError, match=r"\[UNK\]"):
    cd.convert_examples_to_features(examples, ["0", "1"], 8, tok)
