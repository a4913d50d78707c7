"""The GLUE and XNLI tasks as tables of columns, read by one interpreter.

Each task is a `Task`: its label list and, per split, a `Split` row saying which
file holds it and which column is the guid, text_a, text_b and label.  The
tables reproduce the original run_classifier.py processors (CoLA, MNLI, MRPC,
XNLI) and the GLUE tasks it lacked (SST-2, QNLI, QQP, RTE, WNLI, STS-B) example
for example: same guid strings, texts and labels
(tests/data/test_glue.py checks the shipped GLUE files and every task's layout).
Files are read by `readers.read_rows`, the original's TSV reading.
"""

import os
from typing import NamedTuple, Optional, Tuple, Union

from bert_tf.data import processor, readers
from bert_tf.errors import DataError
from bert_tf.data.examples import REGRESSION_LABELS, InputExample


class Split(NamedTuple):
  """How one split's file is laid out: one row of a task's table.

  Columns are 0-based; a row with fewer than `columns` fields is a DataError
  naming the file and the line.
  """

  file: str                 # path under data_dir
  set_type: str             # guid prefix: "<set_type>-<id>"
  layout: str               # the columns in words, for error messages
  columns: int              # fields a row needs
  text_a: int
  text_b: Optional[int]
  # A column (-1: the last one), or a str: the dummy label of every row (test
  # files have no label column).
  label: Union[int, str]
  # The column holding the id; None: the row's index in the file, counting the
  # header (so the first example after a header is 1).
  guid: Optional[int] = None
  header: bool = True       # the first row is a header, skipped
  # (column, value): rows whose column differs are skipped (XNLI's language);
  # the column is checked to exist first.
  keep: Optional[Tuple[int, str]] = None
  rename: Tuple[Tuple[str, str], ...] = ()  # label spellings to replace


class Task(NamedTuple):
  """A task: its name, label list and splits ("train"/"dev"/"test" -> Split)."""

  name: str
  labels: tuple
  splits: dict
  is_regression: bool = False


def examples_from_rows(task_name, split, path, rows):
  """The InputExamples of `rows` (from `readers.read_rows(path)`) laid out as `split`.

  Rows with more fields than the file's layout (warn_extra_columns) are read as
  the original reads them, by column index, with one warning per file.
  """
  rename = dict(split.rename)
  examples = []
  # A row may have as many fields as the header line (MNLI and XNLI have more
  # columns than they read), or as the layout when there is no header.
  width = split.columns
  if split.header and rows:
    width = max(width, len(rows[0][1]))
  wide = []
  for i, (line, row) in enumerate(rows):
    if split.header and i == 0:
      continue
    if split.keep is not None:
      column, value = split.keep
      _need(task_name, split, path, line, row, column + 1)
      if row[column] != value:
        continue
    _need(task_name, split, path, line, row, split.columns)
    if len(row) > width and any(field.strip() for field in row[width:]):
      wide.append(line)
    label = split.label if isinstance(split.label, str) else row[split.label]
    label = rename.get(label, label)
    guid = "%s-%s" % (split.set_type, i if split.guid is None else row[split.guid])
    text_b = None if split.text_b is None else row[split.text_b]
    examples.append(InputExample(guid, row[split.text_a], text_b, label,
                                 source_file=path, source_line=line))
  if wide:
    whose = "its header line" if split.header else "task %s's layout" % task_name
    readers.warn_extra_columns(path, wide, width, whose,
                               "task %s reads %s" % (task_name, split.layout))
  return examples


def _need(task_name, split, path, line, row, count):
  """DataError unless `row` has at least `count` fields."""
  if len(row) < count:
    raise DataError(
        "%s line %d: expected at least %d tab-separated columns, found %d; "
        "task %s expects %s" % (path, line, count, len(row), task_name, split.layout))


class GlueProcessor(processor.DataProcessor):
  """A task whose splits are fixed .tsv files under data_dir, read as its `task` table says."""

  task = None  # a Task

  @property
  def task_name(self):
    return self.task.name

  @property
  def splits(self):
    return self.task.splits

  @property
  def is_regression(self):
    return self.task.is_regression

  def get_labels(self):
    return list(self.task.labels)

  def get_train_examples(self, data_dir):
    return self._split_examples(data_dir, "train")

  def get_dev_examples(self, data_dir):
    return self._split_examples(data_dir, "dev")

  def get_test_examples(self, data_dir):
    return self._split_examples(data_dir, "test")

  def _split_examples(self, data_dir, name):
    if name not in self.splits:
      raise NotImplementedError(
          "the %s task has no %s set (as in the original); use --do_eval" %
          (self.task_name, name))
    split = self.splits[name]
    files = "/".join(s.file for s in self.splits.values())
    path = processor.split_file(data_dir, split.file,
                                "%s for task %s" % (files, self.task_name))
    examples = examples_from_rows(self.task_name, split, path,
                                  readers.read_rows(path))
    if not examples:
      raise DataError("%s: no examples in the file (only a header?); task %s "
                      "expects rows of %s" % (path, self.task_name, split.layout))
    return examples


# ----------------------------------------------------------------------------
# The tables
# ----------------------------------------------------------------------------

_NLI_LABELS = ("contradiction", "entailment", "neutral")
_BINARY = ("0", "1")


def _same_train_dev(**layout):
  """train.tsv and dev.tsv laid out alike (set types "train" and "dev")."""
  return {"train": Split("train.tsv", "train", **layout),
          "dev": Split("dev.tsv", "dev", **layout)}


def xnli_task(language="zh"):
  """XNLI: MultiNLI machine-translated train set + XNLI dev filtered to `language`.

  As in the original: train is multinli/multinli.train.<language>.tsv
  (premise, hypo, label; "contradictory" read as "contradiction"); dev is
  xnli.dev.tsv, the rows whose column 0 is the language; there is no test set.
  """
  return Task("xnli", _NLI_LABELS, {
      "train": Split(os.path.join("multinli", "multinli.train.%s.tsv" % language),
                     "train", "premise, hypo, label (with a header line)",
                     columns=3, text_a=0, text_b=1, label=2,
                     rename=(("contradictory", "contradiction"),)),
      "dev": Split("xnli.dev.tsv", "dev",
                   "language, gold_label, ..., sentence1 (column 7), sentence2 "
                   "(column 8) (with a header line)",
                   columns=8, text_a=6, text_b=7, label=1, keep=(0, language)),
  })


_MNLI_LABELLED = ("index, promptID, pairID, genre, 4 parse columns, sentence1, "
                  "sentence2, ..., gold_label (with a header line)")
# MultiNLI: matched dev/test; the label is the last column, after sentence2.
MNLI = Task("mnli", _NLI_LABELS, {
    "train": Split("train.tsv", "train", _MNLI_LABELLED,
                   columns=11, text_a=8, text_b=9, label=-1, guid=0),
    "dev": Split("dev_matched.tsv", "dev_matched", _MNLI_LABELLED,
                 columns=11, text_a=8, text_b=9, label=-1, guid=0),
    "test": Split("test_matched.tsv", "test",
                  "index, promptID, pairID, genre, 4 parse columns, sentence1, "
                  "sentence2 (with a header line)",
                  columns=10, text_a=8, text_b=9, label="contradiction", guid=0),
})

MRPC = Task("mrpc", _BINARY, {
    **_same_train_dev(layout="Quality, #1 ID, #2 ID, #1 String, #2 String "
                      "(with a header line)",
                      columns=5, text_a=3, text_b=4, label=0),
    "test": Split("test.tsv", "test", "index, #1 ID, #2 ID, #1 String, #2 String "
                  "(with a header line)", columns=5, text_a=3, text_b=4, label="0"),
})

# CoLA: only the test file has a header.
COLA = Task("cola", _BINARY, {
    **_same_train_dev(layout="source, label, original label, sentence (no header line)",
                      columns=4, text_a=3, text_b=None, label=1, header=False),
    "test": Split("test.tsv", "test", "index, sentence (with a header line)",
                  columns=2, text_a=1, text_b=None, label="0"),
})

SST2 = Task("sst-2", _BINARY, {
    **_same_train_dev(layout="sentence, label (with a header line)",
                      columns=2, text_a=0, text_b=None, label=1),
    "test": Split("test.tsv", "test", "index, sentence (with a header line)",
                  columns=2, text_a=1, text_b=None, label="0"),
})


def _indexed_pair_task(name, labels, text_names):
  """`index, <text_a>, <text_b>, label` (test: no label; its dummy is labels[0])."""
  return Task(name, labels, {
      **_same_train_dev(layout="index, %s, label (with a header line)" % text_names,
                        columns=4, text_a=1, text_b=2, label=3, guid=0),
      "test": Split("test.tsv", "test", "index, %s (with a header line)" % text_names,
                    columns=3, text_a=1, text_b=2, label=labels[0], guid=0),
  })


QNLI = _indexed_pair_task("qnli", ("entailment", "not_entailment"), "question, sentence")
RTE = _indexed_pair_task("rte", ("entailment", "not_entailment"), "sentence1, sentence2")
WNLI = _indexed_pair_task("wnli", _BINARY, "sentence1, sentence2")

QQP = Task("qqp", _BINARY, {
    **_same_train_dev(layout="id, qid1, qid2, question1, question2, is_duplicate "
                      "(with a header line)",
                      columns=6, text_a=3, text_b=4, label=5, guid=0),
    "test": Split("test.tsv", "test", "id, question1, question2 (with a header line)",
                  columns=3, text_a=1, text_b=2, label="0", guid=0),
})

_STSB_COLUMNS = ("index, genre, filename, year, old_index, source1, source2, "
                 "sentence1, sentence2")
# STS-B, a regression task: labels stay the score strings and become floats in
# featurization; the label list is REGRESSION_LABELS ([None]: one output).
STSB = Task("sts-b", tuple(REGRESSION_LABELS), {
    **_same_train_dev(layout=_STSB_COLUMNS + ", score (with a header line)",
                      columns=10, text_a=7, text_b=8, label=-1, guid=0),
    "test": Split("test.tsv", "test", _STSB_COLUMNS + " (with a header line)",
                  columns=9, text_a=7, text_b=8, label="0", guid=0),
}, is_regression=True)


# ----------------------------------------------------------------------------
# One processor class per task (the names the original and users know)
# ----------------------------------------------------------------------------


class XnliProcessor(GlueProcessor):
  """XNLI (see `xnli_task`); the language is "zh" unless given, as in the original."""

  def __init__(self, language="zh"):
    self.language = language
    self.task = xnli_task(language)


class MnliProcessor(GlueProcessor):
  """MultiNLI (GLUE): train.tsv, dev_matched.tsv, test_matched.tsv."""
  task = MNLI


class MrpcProcessor(GlueProcessor):
  """MRPC (GLUE): label = column 0, a = column 3, b = column 4."""
  task = MRPC


class ColaProcessor(GlueProcessor):
  """CoLA (GLUE): single sentences; train/dev without a header."""
  task = COLA


class Sst2Processor(GlueProcessor):
  """SST-2 (GLUE): `sentence<TAB>label`; test `index<TAB>sentence`."""
  task = SST2


class QnliProcessor(GlueProcessor):
  """QNLI (GLUE): index, question, sentence, label (entailment/not_entailment)."""
  task = QNLI


class RteProcessor(GlueProcessor):
  """RTE (GLUE): index, sentence1, sentence2, label (entailment/not_entailment)."""
  task = RTE


class WnliProcessor(GlueProcessor):
  """WNLI (GLUE): index, sentence1, sentence2, label ("0"/"1")."""
  task = WNLI


class QqpProcessor(GlueProcessor):
  """QQP (GLUE): id, qid1, qid2, question1, question2, is_duplicate."""
  task = QQP


class StsbProcessor(GlueProcessor):
  """STS-B (GLUE), a regression task: get_labels() is [None] (one output)."""
  task = STSB
