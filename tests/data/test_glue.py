"""bert_tf.data.glue and tasks: the GLUE/XNLI tables on the real files, generated files and bad input."""

import collections
import logging
import os
import tempfile

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from bert_tf.data import features_fast, pipeline
from bert_tf.data.records import file_based_convert_examples_to_features
from bert_tf.errors import DataError
from bert_tf.data.glue import MnliProcessor
from bert_tf.data.processor import DataProcessor
from bert_tf.data.tasks import PROCESSORS, get_processor

from helpers import GLUE
from data_testing import assert_one_line_data_error, parse_records, write_text


def tsv(rows):
  return "".join("\t".join(row) + "\n" for row in rows)


def triples(examples):
  return [(e.guid, e.text_a, e.text_b, e.label) for e in examples]


def test_cola_real_files():
  p = get_processor("CoLA")
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
  p = get_processor("MRPC")
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
  p = get_processor("SST-2")
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
  assert sorted(PROCESSORS) == sorted([
      "cola", "mnli", "mrpc", "xnli", "sst-2", "qnli", "qqp", "rte", "wnli",
      "sts-b"])
  assert isinstance(get_processor("MnLi"), MnliProcessor)
  with pytest.raises(ValueError) as e:
    get_processor("Foo")
  assert str(e.value) == "Task not found: foo"
  assert [name for name, cls in PROCESSORS.items()
          if cls().is_regression] == ["sts-b"]


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
  p = get_processor("mnli")
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
  p = get_processor("XNLI")
  assert p.language == "zh"
  assert triples(p.get_train_examples(d)) == [
      ("train-1", "你好", "世界", "contradiction"),
      ("train-2", "a", "b", "neutral")]
  assert triples(p.get_dev_examples(d)) == [
      ("dev-2", "中文", "句子", "entailment")]
  with pytest.raises(NotImplementedError):
    p.get_test_examples(d)
  assert p.get_labels() == ["contradiction", "entailment", "neutral"]
  with pytest.raises(DataError, match=r"multinli\.train\.zh\.tsv/xnli\.dev\.tsv"):
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
  p = get_processor(task)
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
  p = get_processor("QQP")
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
  p = get_processor("STS-B")
  assert p.is_regression and p.get_labels() == [None]
  assert len(p.get_labels()) == 1  # one output
  train = p.get_train_examples(d)
  assert triples(train) == [
      ("train-0", "A plane takes off.", "An air plane is taking off.", "5.000"),
      ("train-1", "A man plays.", "A woman sings.", "0.800")]
  assert triples(p.get_dev_examples(d)) == [("dev-4", "x", "y", "3.25")]
  assert triples(p.get_test_examples(d)) == [("test-9", "p", "q", "0")]

  caplog.set_level(logging.INFO)
  features = features_fast.convert_examples_to_features(train, p.get_labels(), 16,
                                                        tokenizer)
  assert [f.label_id for f in features] == [5.0, 0.8]
  assert "label: 0.800 (id = 0.8)" in [r.getMessage() for r in caplog.records]

  out = str(tmp_path / "train.tf_record")
  file_based_convert_examples_to_features(train, p.get_labels(), 16,
                                          tokenizer, out)
  records = parse_records(out)
  assert records[1]["label_ids"] == [pytest.approx(0.8)]
  example = tf.train.Example.FromString(
      next(iter(tf.data.TFRecordDataset(out))).numpy())
  assert example.features.feature["label_ids"].WhichOneof("kind") == "float_list"
  batch = next(iter(pipeline.make_dataset(out, 16, 2, is_training=False,
                                          drop_remainder=False, is_regression=True)))
  assert batch["label_ids"].dtype == tf.float32
  np.testing.assert_allclose(batch["label_ids"].numpy(), [5.0, 0.8], rtol=1e-6)
  assert batch["input_ids"].dtype == tf.int32


def test_read_tsv_keeps_quotes_literal(tmp_path):
  path = write_text(str(tmp_path / "x.tsv"), 'a\t"b\tc"\n"d"\te\n')
  assert DataProcessor._read_tsv(path) == [["a", '"b', 'c"'], ['"d"', "e"]]


def test_missing_file_and_data_dir(tmp_path):
  p = get_processor("MRPC")
  with pytest.raises(DataError) as e:
    p.get_dev_examples(str(tmp_path))
  assert str(e.value) == (
      "%s: file not found; --data_dir must contain train.tsv/dev.tsv/test.tsv "
      "for task mrpc" % os.path.join(str(tmp_path), "dev.tsv"))
  with pytest.raises(DataError) as e:
    get_processor("mnli").get_train_examples(str(tmp_path / "missing"))
  assert_one_line_data_error(e, "missing", "--data_dir does not exist",
                             "train.tsv/dev_matched.tsv/test_matched.tsv",
                             "task mnli")
  with pytest.raises(DataError, match="train.csv/dev.csv/test.csv"):
    get_processor("csv").get_train_examples(str(tmp_path))


def test_empty_and_header_only_files(tmp_path):
  d = str(tmp_path)
  path = write_text(os.path.join(d, "train.tsv"), "")
  with pytest.raises(DataError) as e:
    get_processor("cola").get_train_examples(d)
  assert str(e.value) == ("%s: file is empty; expected tab-separated rows" % path)
  write_text(path, "\n\n")
  with pytest.raises(DataError, match="file is empty"):
    get_processor("cola").get_train_examples(d)
  write_text(path, "sentence\tlabel\n")
  with pytest.raises(DataError) as e:
    get_processor("sst-2").get_train_examples(d)
  assert_one_line_data_error(e, path, "no examples", "sentence, label")


def test_too_few_columns(tmp_path):
  d = str(tmp_path)
  path = write_text(os.path.join(d, "dev.tsv"), tsv([
      ["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"],
      ["1", "11", "12", "a", "b"],
      ["0", "13", "only three"]]))
  with pytest.raises(DataError) as e:
    get_processor("mrpc").get_dev_examples(d)
  assert str(e.value).startswith(
      "%s line 3: expected at least 5 tab-separated columns, found 3; "
      "task mrpc expects Quality, #1 ID" % path)
  assert_one_line_data_error(e)
  # A blank line in the middle is a row with 0 columns.
  write_text(path, "1\t11\t12\ta\tb\n\n0\t1\t2\tc\td\n")
  with pytest.raises(DataError, match=r"dev\.tsv line 2: .* found 0"):
    get_processor("mrpc").get_dev_examples(d)


# ----------------------------------------------------------------------------
# Every task's table against the original processors' _create_examples
# ----------------------------------------------------------------------------


def original_examples(task, set_type, lines):
  """(guid, text_a, text_b, label) as the original run_classifier.py processors (and the
  GLUE processors written the same way) build them, one task at a time, from the rows of
  a file.  Written independently of bert_tf.data.glue's tables."""
  out = []
  for (i, line) in enumerate(lines):
    if task == "cola":
      if set_type == "test" and i == 0:
        continue
      guid = "%s-%s" % (set_type, i)
      if set_type == "test":
        out.append((guid, line[1], None, "0"))
      else:
        out.append((guid, line[3], None, line[1]))
      continue
    if i == 0:
      continue
    if task == "xnli":
      guid = "%s-%s" % (set_type, i)
      if set_type == "train":
        label = "contradiction" if line[2] == "contradictory" else line[2]
        out.append((guid, line[0], line[1], label))
      elif line[0] == "zh":
        out.append((guid, line[6], line[7], line[1]))
    elif task == "mnli":
      guid = "%s-%s" % (set_type, line[0])
      label = "contradiction" if set_type == "test" else line[-1]
      out.append((guid, line[8], line[9], label))
    elif task == "mrpc":
      guid = "%s-%s" % (set_type, i)
      out.append((guid, line[3], line[4], "0" if set_type == "test" else line[0]))
    elif task == "sst-2":
      guid = "%s-%s" % (set_type, i)
      if set_type == "test":
        out.append((guid, line[1], None, "0"))
      else:
        out.append((guid, line[0], None, line[1]))
    elif task in ("qnli", "rte", "wnli"):
      guid = "%s-%s" % (set_type, line[0])
      dummy = "0" if task == "wnli" else "entailment"
      out.append((guid, line[1], line[2], dummy if set_type == "test" else line[3]))
    elif task == "qqp":
      guid = "%s-%s" % (set_type, line[0])
      if set_type == "test":
        out.append((guid, line[1], line[2], "0"))
      else:
        out.append((guid, line[3], line[4], line[5]))
    elif task == "sts-b":
      guid = "%s-%s" % (set_type, line[0])
      out.append((guid, line[7], line[8], "0" if set_type == "test" else line[-1]))
  return out


# The files and guid set types of the original's get_*_examples.
SPLIT_FILES = {
    "xnli": {"train": (os.path.join("multinli", "multinli.train.zh.tsv"), "train"),
             "dev": ("xnli.dev.tsv", "dev")},
    "mnli": {"train": ("train.tsv", "train"), "dev": ("dev_matched.tsv", "dev_matched"),
             "test": ("test_matched.tsv", "test")},
}
_CELL = st.text(st.sampled_from("abz \"'#\u00e9\u4e2d"), min_size=1, max_size=4).filter(str.strip)


@settings(max_examples=150, deadline=None)
@given(task=st.sampled_from(sorted(PROCESSORS)), split=st.sampled_from(["train", "dev", "test"]),
       rows=st.lists(st.lists(st.one_of(_CELL, st.sampled_from(
           ["zh", "en", "contradictory", "0", "1"])), min_size=12, max_size=14),
           min_size=1, max_size=6))
def test_every_task_table_equals_the_original_create_examples(task, split, rows):
  if task == "xnli" and split == "test":
    split = "dev"
  name, set_type = SPLIT_FILES.get(task, {}).get(
      split, ({"train": "train.tsv", "dev": "dev.tsv", "test": "test.tsv"}[split], split))
  want = original_examples(task, set_type, rows)
  processor = get_processor(task)
  get = {"train": processor.get_train_examples, "dev": processor.get_dev_examples,
         "test": processor.get_test_examples}[split]
  with tempfile.TemporaryDirectory() as d:
    path = write_text(os.path.join(d, name), tsv(rows))
    if not want:
      with pytest.raises(DataError, match="no examples in the file"):
        get(d)
      return
    got = get(d)
  assert triples(got) == want
  assert all(e.source_file == path for e in got)
