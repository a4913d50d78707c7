"""Classifier data: task processors, featurization, TFRecords and tf.data input.

This is the data half of google-research/bert's run_classifier.py, with the same
behaviour and outputs (section 2 of the spec), plus what the original lacked:

* GLUE processors for SST-2, QNLI, QQP, RTE, WNLI and STS-B (regression) next
  to the original CoLA, MNLI, MRPC and XNLI;
* `--task_name=tsv` / `csv`: a `GenericProcessor` for users' own files, with
  columns chosen by number or header name and the label order kept in
  `output_dir/label_list.txt`;
* bad input raises `DataError`, a one-line message that names the file, the
  line and what to do, instead of an IndexError/KeyError traceback;
* a faster writer: records are protobuf-encoded by hand (the feature order is
  the original's insertion order) and written to a temporary file that is
  renamed into place.

Shapes: N = number of examples, S = max_seq_length, B = batch size.

Featurization (`convert_single_example`) is the original's: `[CLS] A [SEP]`
(segment 0) then `B [SEP]` (segment 1), pairs truncated by popping the last
token of the longer side (B on a tie), zero padding to S.  For regression
(STS-B, or a generic task with `is_regression=True`) the label list is
`[None]` (one output) and label_id is the float score.
"""

import contextlib
import csv
import gc
import os
import struct
import uuid

import tensorflow as tf
from absl import logging

from bert_tf import tokenization

# The label list of a regression task: one output, no classes.
REGRESSION_LABELS = [None]


class DataError(ValueError):
  """Bad user input; the message is one line naming the file, the line and the fix."""


# ----------------------------------------------------------------------------
# Examples and features
# ----------------------------------------------------------------------------


class InputExample(object):
  """One example: text_a, optional text_b and a label (a str, or a score).

  `source_file` / `source_line` (keyword only) say where the example was read,
  so that a bad label can be reported as "dev.tsv line 17"; processors set
  them, code that builds examples by hand may leave them None.
  """

  def __init__(self, guid, text_a, text_b=None, label=None, *,
               source_file=None, source_line=None):
    self.guid = guid
    self.text_a = text_a
    self.text_b = text_b
    self.label = label
    self.source_file = source_file
    self.source_line = source_line

  def __repr__(self):
    return "InputExample(guid=%r, text_a=%r, text_b=%r, label=%r)" % (
        self.guid, self.text_a, self.text_b, self.label)


class PaddingInputExample(object):
  """Marker for the fake examples that pad eval/predict to whole batches.

  It converts to all-zero input_ids/input_mask/segment_ids, label_id 0 and
  is_real_example False, so metrics (weighted by is_real_example) and the
  prediction writer ignore it.
  """


class InputFeatures(object):
  """The features of one example: three int lists of length S and a label id."""

  def __init__(self, input_ids, input_mask, segment_ids, label_id,
               is_real_example=True):
    self.input_ids = input_ids
    self.input_mask = input_mask
    self.segment_ids = segment_ids
    self.label_id = label_id
    self.is_real_example = is_real_example

  def __eq__(self, other):
    return isinstance(other, InputFeatures) and vars(self) == vars(other)

  def __repr__(self):
    return "InputFeatures(%s)" % ", ".join(
        "%s=%r" % item for item in sorted(vars(self).items()))


def is_regression_label_list(label_list):
  """True when `label_list` is `REGRESSION_LABELS` (one output, float labels)."""
  return len(label_list) == 1 and label_list[0] is None


def _where(example):
  """"path line N" for an example read from a file, else "example <guid>"."""
  if getattr(example, "source_file", None) is not None:
    return "%s line %s" % (example.source_file, example.source_line)
  return "example %s" % (example.guid,)


# ----------------------------------------------------------------------------
# Reading delimited files
# ----------------------------------------------------------------------------

_DELIMITER_NAMES = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}


def _delimiter_name(delimiter):
  return _DELIMITER_NAMES.get(delimiter, repr(delimiter))


def _read_bytes(input_file):
  """The file's bytes, or DataError for a missing/unreadable file."""
  try:
    with open(input_file, "rb") as f:
      return f.read()
  except FileNotFoundError:
    raise DataError("%s: file not found" % input_file)
  except IsADirectoryError:
    raise DataError("%s: is a directory, expected a text file" % input_file)
  except OSError as e:
    raise DataError("%s: cannot read the file (%s)" % (input_file, e.strerror))


def _decode_lines(data):
  """Splits bytes at "\\n" (kept) and decodes each line as UTF-8, dropping bad bytes.

  Returns (lines, bad_line_count, first_bad_line_number or None).  Only "\\n"
  ends a line, as with the original's tf.gfile readline.
  """
  try:
    parts = data.decode("utf-8").split("\n")
    bad, first_bad = 0, None
  except UnicodeDecodeError:
    parts, bad, first_bad = [], 0, None
    for number, raw in enumerate(data.split(b"\n"), 1):
      try:
        parts.append(raw.decode("utf-8"))
      except UnicodeDecodeError:
        parts.append(raw.decode("utf-8", "ignore"))
        bad += 1
        if first_bad is None:
          first_bad = number
  lines = [part + "\n" for part in parts[:-1]]
  if parts[-1]:
    lines.append(parts[-1])
  return lines, bad, first_bad


def _csv_problem(error, delimiter):
  """A user-facing description of a csv.Error."""
  text = str(error)
  if "field larger than field limit" in text:
    return ("a field is longer than %d characters (the csv module's limit); "
            "check that the file is %s-separated text" %
            (csv.field_size_limit(), _delimiter_name(delimiter)))
  if "new-line character seen in unquoted field" in text:
    return ("carriage return (\\r) inside a line; convert the file's line "
            "endings to \\n (e.g. with dos2unix)")
  return "unreadable row (%s)" % text


def read_rows(input_file, delimiter="\t", quotechar=None):
  """Reads a delimited text file like the original `_read_tsv`.

  Bytes are decoded as UTF-8 with invalid bytes dropped (one warning per file
  gives the count of affected lines); rows come from csv.reader with the given
  delimiter and quotechar (None: quote characters are literal text).

  Args:
    input_file: path of the file.
    delimiter: field separator ("\\t" for .tsv).
    quotechar: None (literal quotes, the original's TSV reading) or '"'.

  Returns:
    list of (line_number, fields): the 1-based line where each record starts
    and its list of str fields.

  Raises:
    DataError: missing/unreadable/empty/UTF-16 file, or a row csv cannot parse.
  """
  data = _read_bytes(input_file)
  if data.startswith(b"\xff\xfe") or data.startswith(b"\xfe\xff"):
    raise DataError("%s: file is UTF-16 encoded; save it as UTF-8 text" %
                    input_file)
  lines, bad, first_bad = _decode_lines(data)
  if bad:
    logging.warning(
        "%s: %d line(s) contain bytes that are not valid UTF-8 (first: line "
        "%d); those bytes were dropped, as the original BERT does. Save the "
        "file as UTF-8 to keep those characters.", input_file, bad, first_bad)
  reader = csv.reader(lines, delimiter=delimiter, quotechar=quotechar)
  rows = []
  start = 1
  try:
    for fields in reader:
      rows.append((start, fields))
      start = reader.line_num + 1
  except csv.Error as e:
    raise DataError("%s line %d: %s" % (input_file, reader.line_num,
                                        _csv_problem(e, delimiter)))
  if not any(any(field.strip() for field in fields) for _, fields in rows):
    raise DataError("%s: file is empty; expected %s-separated rows" %
                    (input_file, _delimiter_name(delimiter)))
  return rows


# ----------------------------------------------------------------------------
# Processors
# ----------------------------------------------------------------------------


class DataProcessor(object):
  """Base class of the processors: files in data_dir -> lists of InputExample.

  `is_regression` is True only for STS-B (and a generic task asked to be one);
  its get_labels() is REGRESSION_LABELS = [None], i.e. one output.
  """

  is_regression = False

  def get_train_examples(self, data_dir):
    """The training set as a list of InputExample."""
    raise NotImplementedError()

  def get_dev_examples(self, data_dir):
    """The dev (evaluation) set as a list of InputExample."""
    raise NotImplementedError()

  def get_test_examples(self, data_dir):
    """The test (prediction) set as a list of InputExample."""
    raise NotImplementedError()

  def get_labels(self):
    """The label list; a label's id is its index."""
    raise NotImplementedError()

  @classmethod
  def _read_tsv(cls, input_file, quotechar=None):
    """The rows (lists of str) of a tab-separated file, as the original."""
    return [fields for _, fields in read_rows(input_file, "\t", quotechar)]


class _TsvTaskProcessor(DataProcessor):
  """A task whose splits are fixed .tsv files under data_dir.

  Subclasses set `task_name`, `splits` (split -> (file name, guid set_type)),
  `layouts` (set_type -> column description, for error messages) and write
  `_create_examples(path, rows, set_type)` like the original's.
  """

  task_name = None
  splits = {"train": ("train.tsv", "train"),
            "dev": ("dev.tsv", "dev"),
            "test": ("test.tsv", "test")}
  layouts = {}

  def get_train_examples(self, data_dir):
    return self._split_examples(data_dir, "train")

  def get_dev_examples(self, data_dir):
    return self._split_examples(data_dir, "dev")

  def get_test_examples(self, data_dir):
    return self._split_examples(data_dir, "test")

  def _file_list(self):
    return "/".join(name for name, _ in self.splits.values())

  def _split_path(self, data_dir, split):
    """data_dir/<file of split>, or DataError saying what data_dir must hold."""
    file_name = self.splits[split][0]
    path = os.path.join(data_dir, file_name)
    if not os.path.isfile(path):
      problem = ("--data_dir does not exist" if not os.path.isdir(data_dir)
                 else "is a directory, expected a text file" if os.path.isdir(path)
                 else "file not found")
      raise DataError("%s: %s; --data_dir must contain %s for task %s" %
                      (path, problem, self._file_list(), self.task_name))
    return path

  def _split_examples(self, data_dir, split):
    path = self._split_path(data_dir, split)
    set_type = self.splits[split][1]
    examples = self._create_examples(path, read_rows(path), set_type)
    if not examples:
      raise DataError("%s: no examples in the file (only a header?); task %s "
                      "expects rows of %s" %
                      (path, self.task_name, self.layouts.get(set_type, "?")))
    return examples

  def _need(self, path, line, row, count, set_type):
    """DataError unless `row` has at least `count` fields."""
    if len(row) < count:
      raise DataError(
          "%s line %d: expected at least %d tab-separated columns, found %d; "
          "task %s expects %s" % (path, line, count, len(row), self.task_name,
                                  self.layouts.get(set_type, "?")))

  @staticmethod
  def _example(path, line, guid, text_a, text_b, label):
    return InputExample(guid, text_a, text_b, label,
                        source_file=path, source_line=line)


class XnliProcessor(_TsvTaskProcessor):
  """XNLI: MultiNLI machine-translated train set + XNLI dev, language "zh".

  As in the original, the language is hard-coded to "zh", train is
  data_dir/multinli/multinli.train.zh.tsv (premise, hypo, label; header),
  dev is data_dir/xnli.dev.tsv filtered to rows whose column 0 is "zh", and
  there is no test set.  "contradictory" in train becomes "contradiction".
  """

  task_name = "xnli"
  layouts = {
      "train": "premise, hypo, label (with a header line)",
      "dev": ("language, gold_label, ..., sentence1 (column 7), sentence2 "
              "(column 8) (with a header line)"),
  }

  def __init__(self, language="zh"):
    self.language = language
    self.splits = {
        "train": (os.path.join("multinli",
                               "multinli.train.%s.tsv" % self.language),
                  "train"),
        "dev": ("xnli.dev.tsv", "dev"),
    }

  def get_test_examples(self, data_dir):
    raise NotImplementedError(
        "the xnli task has no test set (as in the original); use --do_eval")

  def get_labels(self):
    return ["contradiction", "entailment", "neutral"]

  def _create_examples(self, path, rows, set_type):
    examples = []
    for i, (line, row) in enumerate(rows):
      if i == 0:
        continue
      guid = "%s-%d" % (set_type, i)
      if set_type == "train":
        self._need(path, line, row, 3, set_type)
        text_a, text_b, label = row[0], row[1], row[2]
        if label == "contradictory":
          label = "contradiction"
      else:
        self._need(path, line, row, 1, set_type)
        if row[0] != self.language:
          continue
        self._need(path, line, row, 8, set_type)
        text_a, text_b, label = row[6], row[7], row[1]
      examples.append(self._example(path, line, guid, text_a, text_b, label))
    return examples


class MnliProcessor(_TsvTaskProcessor):
  """MultiNLI (GLUE): train.tsv, dev_matched.tsv, test_matched.tsv.

  a = column 8, b = column 9, label = last column; guid "<set>-<column 0>";
  the test label is the dummy "contradiction".
  """

  task_name = "mnli"
  splits = {"train": ("train.tsv", "train"),
            "dev": ("dev_matched.tsv", "dev_matched"),
            "test": ("test_matched.tsv", "test")}
  _labelled = ("index, promptID, pairID, genre, 4 parse columns, sentence1, "
               "sentence2, ..., gold_label (with a header line)")
  layouts = {"train": _labelled, "dev_matched": _labelled,
             "test": ("index, promptID, pairID, genre, 4 parse columns, "
                      "sentence1, sentence2 (with a header line)")}

  def get_labels(self):
    return ["contradiction", "entailment", "neutral"]

  def _create_examples(self, path, rows, set_type):
    examples = []
    for i, (line, row) in enumerate(rows):
      if i == 0:
        continue
      if set_type == "test":
        self._need(path, line, row, 10, set_type)
        label = "contradiction"
      else:
        # The label is the last column, after sentence2 (column 9).
        self._need(path, line, row, 11, set_type)
        label = row[-1]
      guid = "%s-%s" % (set_type, row[0])
      examples.append(self._example(path, line, guid, row[8], row[9], label))
    return examples


class MrpcProcessor(_TsvTaskProcessor):
  """MRPC (GLUE): label = column 0, a = column 3, b = column 4; test label "0"."""

  task_name = "mrpc"
  _layout = ("Quality, #1 ID, #2 ID, #1 String, #2 String "
             "(with a header line)")
  layouts = {"train": _layout, "dev": _layout,
             "test": "index, #1 ID, #2 ID, #1 String, #2 String "
                     "(with a header line)"}

  def get_labels(self):
    return ["0", "1"]

  def _create_examples(self, path, rows, set_type):
    examples = []
    for i, (line, row) in enumerate(rows):
      if i == 0:
        continue
      self._need(path, line, row, 5, set_type)
      label = "0" if set_type == "test" else row[0]
      guid = "%s-%s" % (set_type, i)
      examples.append(self._example(path, line, guid, row[3], row[4], label))
    return examples


class ColaProcessor(_TsvTaskProcessor):
  """CoLA (GLUE): train/dev have no header (a = column 3, label = column 1);
  test has one (a = column 1, label "0").  guid "<set>-<row index>"."""

  task_name = "cola"
  _layout = "source, label, original label, sentence (no header line)"
  layouts = {"train": _layout, "dev": _layout,
             "test": "index, sentence (with a header line)"}

  def get_labels(self):
    return ["0", "1"]

  def _create_examples(self, path, rows, set_type):
    examples = []
    for i, (line, row) in enumerate(rows):
      # Only the test set has a header.
      if set_type == "test" and i == 0:
        continue
      guid = "%s-%s" % (set_type, i)
      if set_type == "test":
        self._need(path, line, row, 2, set_type)
        text_a, label = row[1], "0"
      else:
        self._need(path, line, row, 4, set_type)
        text_a, label = row[3], row[1]
      examples.append(self._example(path, line, guid, text_a, None, label))
    return examples


class Sst2Processor(_TsvTaskProcessor):
  """SST-2 (GLUE): `sentence<TAB>label` with a header; test `index<TAB>sentence`.

  guid "<set>-<row index>" (the first data row is 1); test label "0".
  """

  task_name = "sst-2"
  layouts = {"train": "sentence, label (with a header line)",
             "dev": "sentence, label (with a header line)",
             "test": "index, sentence (with a header line)"}

  def get_labels(self):
    return ["0", "1"]

  def _create_examples(self, path, rows, set_type):
    examples = []
    for i, (line, row) in enumerate(rows):
      if i == 0:
        continue
      self._need(path, line, row, 2, set_type)
      if set_type == "test":
        text_a, label = row[1], "0"
      else:
        text_a, label = row[0], row[1]
      guid = "%s-%s" % (set_type, i)
      examples.append(self._example(path, line, guid, text_a, None, label))
    return examples


class _IndexedPairProcessor(_TsvTaskProcessor):
  """GLUE pair tasks laid out `index, text_a, text_b, label` (test: no label).

  guid "<set>-<column 0>"; the test label is `labels[0]` (a dummy).
  """

  labels = None

  def get_labels(self):
    return list(self.labels)

  def _create_examples(self, path, rows, set_type):
    examples = []
    for i, (line, row) in enumerate(rows):
      if i == 0:
        continue
      if set_type == "test":
        self._need(path, line, row, 3, set_type)
        label = self.labels[0]
      else:
        self._need(path, line, row, 4, set_type)
        label = row[3]
      guid = "%s-%s" % (set_type, row[0])
      examples.append(self._example(path, line, guid, row[1], row[2], label))
    return examples


class QnliProcessor(_IndexedPairProcessor):
  """QNLI (GLUE): index, question, sentence, label (entailment/not_entailment)."""

  task_name = "qnli"
  labels = ("entailment", "not_entailment")
  layouts = {"train": "index, question, sentence, label (with a header line)",
             "dev": "index, question, sentence, label (with a header line)",
             "test": "index, question, sentence (with a header line)"}


class RteProcessor(_IndexedPairProcessor):
  """RTE (GLUE): index, sentence1, sentence2, label (entailment/not_entailment)."""

  task_name = "rte"
  labels = ("entailment", "not_entailment")
  layouts = {
      "train": "index, sentence1, sentence2, label (with a header line)",
      "dev": "index, sentence1, sentence2, label (with a header line)",
      "test": "index, sentence1, sentence2 (with a header line)"}


class WnliProcessor(_IndexedPairProcessor):
  """WNLI (GLUE): index, sentence1, sentence2, label ("0"/"1")."""

  task_name = "wnli"
  labels = ("0", "1")
  layouts = RteProcessor.layouts


class QqpProcessor(_TsvTaskProcessor):
  """QQP (GLUE): id, qid1, qid2, question1, question2, is_duplicate ("0"/"1").

  Test: id, question1, question2.  guid "<set>-<id>"; test label "0".
  """

  task_name = "qqp"
  _layout = ("id, qid1, qid2, question1, question2, is_duplicate "
             "(with a header line)")
  layouts = {"train": _layout, "dev": _layout,
             "test": "id, question1, question2 (with a header line)"}

  def get_labels(self):
    return ["0", "1"]

  def _create_examples(self, path, rows, set_type):
    examples = []
    for i, (line, row) in enumerate(rows):
      if i == 0:
        continue
      if set_type == "test":
        self._need(path, line, row, 3, set_type)
        text_a, text_b, label = row[1], row[2], "0"
      else:
        self._need(path, line, row, 6, set_type)
        text_a, text_b, label = row[3], row[4], row[5]
      guid = "%s-%s" % (set_type, row[0])
      examples.append(self._example(path, line, guid, text_a, text_b, label))
    return examples


class StsbProcessor(_TsvTaskProcessor):
  """STS-B (GLUE), a regression task: a = column 7, b = column 8, score = last.

  get_labels() is REGRESSION_LABELS ([None]: one output); labels stay the
  score strings and become floats in convert_single_example.  Test rows have
  no score; their dummy label is "0".  guid "<set>-<column 0>".
  """

  task_name = "sts-b"
  is_regression = True
  _layout = ("index, genre, filename, year, old_index, source1, source2, "
             "sentence1, sentence2, score (with a header line)")
  layouts = {"train": _layout, "dev": _layout,
             "test": ("index, genre, filename, year, old_index, source1, "
                      "source2, sentence1, sentence2 (with a header line)")}

  def get_labels(self):
    return list(REGRESSION_LABELS)

  def _create_examples(self, path, rows, set_type):
    examples = []
    for i, (line, row) in enumerate(rows):
      if i == 0:
        continue
      if set_type == "test":
        self._need(path, line, row, 9, set_type)
        label = "0"
      else:
        self._need(path, line, row, 10, set_type)
        label = row[-1]
      guid = "%s-%s" % (set_type, row[0])
      examples.append(self._example(path, line, guid, row[7], row[8], label))
    return examples


# ----------------------------------------------------------------------------
# Generic processor for users' own files (--task_name=tsv / csv)
# ----------------------------------------------------------------------------

LABEL_LIST_FILE = "label_list.txt"


def _column_spec(value):
  """None, an int >= 0 (0-based column number) or a header name."""
  if value is None or value == "":
    return None
  if isinstance(value, bool):
    raise ValueError("a column must be a 0-based number or a header name, "
                     "got %r" % (value,))
  if isinstance(value, int):
    if value < 0:
      raise ValueError("column numbers are 0-based and >= 0, got %d" % value)
    return value
  value = str(value)
  if value.strip().isdigit():
    return int(value.strip())
  return value


def _split_labels(labels):
  """A list of labels from a list or a comma-separated string (None stays None)."""
  if labels is None or labels == "":
    return None
  if isinstance(labels, str):
    labels = labels.split(",")
  labels = [str(label).strip() for label in labels]
  if not all(labels) or len(set(labels)) != len(labels):
    raise ValueError("labels must be distinct and non-empty, got %r" % (labels,))
  return labels


def _atomic_write_text(path, text):
  """Writes `text` to `path` through a temporary file and a rename."""
  tmp = "%s.tmp-%d-%s" % (path, os.getpid(), uuid.uuid4().hex[:8])
  with open(tmp, "w", encoding="utf-8") as f:
    f.write(text)
  os.replace(tmp, path)


class GenericProcessor(DataProcessor):
  """Users' own delimited files: data_dir/{train,dev,test}.<tsv|csv>.

  Columns (text_a, text_b, label, guid) are 0-based numbers or, with
  `has_header`, header names.  Labels are stripped of surrounding whitespace.
  The label list is, in order of precedence: `labels` if given; else
  output_dir/label_list.txt if it exists (written by the training run, so a
  later eval/predict run uses the same order); else the sorted distinct labels
  of the training file, which are then written to output_dir/label_list.txt.
  Test rows need no label column; their label is a dummy (the first label).

  Args:
    delimiter: "\\t" (tsv) or "," (csv) or any one character.
    text_a_column, text_b_column, label_column, guid_column: column specs;
      text_b and guid are optional (guid defaults to "<set>-<row index>").
    has_header: whether the first row of every file is a header (skipped).
    quotechar: None (quotes are literal, like the GLUE readers) or '"'.
    file_extension: "tsv"/"csv"; defaults to "csv" for "," else "tsv".
    data_dir: where train.<ext> is looked for by get_labels().
    output_dir: where label_list.txt is read from / written to.
    labels: an explicit label list (list or comma-separated string).
    is_regression: labels are float scores; get_labels() is [None].
  """

  def __init__(self, delimiter="\t", text_a_column=0, text_b_column=None,
               label_column=1, has_header=True, guid_column=None,
               quotechar=None, file_extension=None, data_dir=None,
               output_dir=None, labels=None, is_regression=False):
    if not isinstance(delimiter, str) or len(delimiter) != 1:
      raise ValueError("delimiter must be one character, got %r" % (delimiter,))
    self.delimiter = delimiter
    self.text_a_column = _column_spec(text_a_column)
    self.text_b_column = _column_spec(text_b_column)
    self.label_column = _column_spec(label_column)
    self.guid_column = _column_spec(guid_column)
    if self.text_a_column is None:
      raise ValueError("text_a_column is required")
    if self.label_column is None:
      raise ValueError("label_column is required")
    self.has_header = bool(has_header)
    self.quotechar = quotechar or None
    self.file_extension = file_extension or ("csv" if delimiter == "," else "tsv")
    self.data_dir = data_dir
    self.output_dir = output_dir
    self.is_regression = bool(is_regression)
    self._given_labels = _split_labels(labels)
    self._labels = None
    self._cache = {}

  @property
  def task_name(self):
    return self.file_extension

  def get_train_examples(self, data_dir):
    return self._split_examples(data_dir, "train")

  def get_dev_examples(self, data_dir):
    return self._split_examples(data_dir, "dev")

  def get_test_examples(self, data_dir):
    return self._split_examples(data_dir, "test")

  def get_labels(self):
    if self.is_regression:
      return list(REGRESSION_LABELS)
    if self._labels is None:
      self._labels = self._resolve_labels()
    return list(self._labels)

  # -- labels ----------------------------------------------------------------

  def _label_list_path(self):
    return os.path.join(self.output_dir, LABEL_LIST_FILE) if self.output_dir else None

  def _read_label_list(self, path):
    try:
      with open(path, encoding="utf-8") as f:
        labels = [line.strip() for line in f if line.strip()]
    except (OSError, UnicodeDecodeError) as e:
      raise DataError("%s: cannot read the label list (%s)" % (path, e))
    if not labels:
      raise DataError("%s: label list is empty; delete it to rebuild it from "
                      "the training file" % path)
    return labels

  def _write_label_list(self, labels):
    path = self._label_list_path()
    if path is None:
      return
    os.makedirs(self.output_dir, exist_ok=True)
    _atomic_write_text(path, "".join(label + "\n" for label in labels))
    logging.info("Wrote %d labels to %s", len(labels), path)

  def _train_path(self):
    if not self.data_dir:
      return None
    path = os.path.join(self.data_dir, "train.%s" % self.file_extension)
    return path if os.path.isfile(path) else None

  def _resolve_labels(self):
    if self._given_labels is not None:
      self._write_label_list(self._given_labels)
      return self._given_labels
    saved_path = self._label_list_path()
    train_path = self._train_path()
    if saved_path and os.path.isfile(saved_path):
      saved = self._read_label_list(saved_path)
      if train_path:
        extra = sorted({ex.label for ex in self.get_train_examples(self.data_dir)}
                       - set(saved))
        if extra:
          raise DataError(
              "%s: lists labels %s but %s also has %s; it was written for "
              "other data: use a new --output_dir or delete the file" %
              (saved_path, saved, train_path, extra))
      return saved
    if train_path:
      labels = sorted({ex.label for ex in self.get_train_examples(self.data_dir)})
      self._write_label_list(labels)
      return labels
    raise DataError(
        "%s: no label list: it is written by the training run (--do_train) "
        "from train.%s; pass the same --output_dir as that run, or put "
        "train.%s in --data_dir" %
        (saved_path or "label_list.txt (no --output_dir)",
         self.file_extension, self.file_extension))

  # -- examples --------------------------------------------------------------

  def _split_path(self, data_dir, split):
    path = os.path.join(data_dir, "%s.%s" % (split, self.file_extension))
    if not os.path.isfile(path):
      problem = ("--data_dir does not exist" if not os.path.isdir(data_dir)
                 else "is a directory, expected a text file" if os.path.isdir(path)
                 else "file not found")
      ext = self.file_extension
      raise DataError("%s: %s; --data_dir must contain train.%s/dev.%s/test.%s "
                      "for --task_name=%s" % (path, problem, ext, ext, ext, ext))
    return path

  def _split_examples(self, data_dir, split):
    path = self._split_path(data_dir, split)
    if self.data_dir is None:
      self.data_dir = data_dir
    if path not in self._cache:
      rows = read_rows(path, self.delimiter, self.quotechar)
      self._cache[path] = self._create_examples(path, rows, split)
    return list(self._cache[path])

  def _resolve_column(self, path, header, spec, role):
    """The 0-based index of a column spec in this file (None stays None)."""
    if spec is None or isinstance(spec, int):
      return spec
    if header is None:
      raise DataError("%s: %s %r is a header name but has_header is false; "
                      "give a 0-based column number instead" % (path, role, spec))
    names = [name.strip() for name in header]
    if names:
      names[0] = names[0].lstrip("\ufeff")
    if spec.strip() not in names:
      raise DataError("%s line 1: no column named %r in the header (columns: "
                      "%s)" % (path, spec, ", ".join(names)))
    return names.index(spec.strip())

  def _create_examples(self, path, rows, set_type):
    header = rows[0][1] if self.has_header else None
    data_rows = rows[1:] if self.has_header else rows
    text_a = self._resolve_column(path, header, self.text_a_column,
                                  "text_a_column")
    text_b = self._resolve_column(path, header, self.text_b_column,
                                  "text_b_column")
    guid_col = self._resolve_column(path, header, self.guid_column,
                                    "guid_column")
    required = [c for c in (text_a, text_b, guid_col) if c is not None]
    label_col = None
    if set_type == "test":
      # Test files need no label column; the label is a dummy, as in GLUE.
      dummy = "0" if self.is_regression else self.get_labels()[0]
    else:
      label_col = self._resolve_column(path, header, self.label_column,
                                       "label_column")
      required.append(label_col)
    needed = max(required) + 1
    examples = []
    for i, (line, row) in enumerate(data_rows):
      if len(row) < needed:
        raise DataError(
            "%s line %d: expected at least %d %s-separated columns, found %d; "
            "check the column flags (text_a/text_b/label/guid) and the "
            "delimiter" % (path, line, needed,
                           _delimiter_name(self.delimiter), len(row)))
      if label_col is None:
        label = dummy
      else:
        label = row[label_col].strip()
        if not label:
          raise DataError("%s line %d: empty label (column %s)" %
                          (path, line, self.label_column))
        if "\n" in label:
          raise DataError("%s line %d: the label contains a line break" %
                          (path, line))
      guid = "%s-%s" % (set_type, row[guid_col] if guid_col is not None else i)
      examples.append(InputExample(
          guid, row[text_a], row[text_b] if text_b is not None else None,
          label, source_file=path, source_line=line))
    if not examples:
      raise DataError("%s: no examples in the file (only a header?)" % path)
    return examples


# ----------------------------------------------------------------------------
# Registry
# ----------------------------------------------------------------------------

PROCESSORS = {
    "cola": ColaProcessor,
    "mnli": MnliProcessor,
    "mrpc": MrpcProcessor,
    "xnli": XnliProcessor,
    "sst-2": Sst2Processor,
    "qnli": QnliProcessor,
    "qqp": QqpProcessor,
    "rte": RteProcessor,
    "wnli": WnliProcessor,
    "sts-b": StsbProcessor,
}

# --task_name values served by GenericProcessor, with their reading defaults.
GENERIC_TASKS = {
    "tsv": {"delimiter": "\t", "quotechar": None, "file_extension": "tsv"},
    "csv": {"delimiter": ",", "quotechar": '"', "file_extension": "csv"},
}


def get_processor(task_name, **generic_options):
  """The processor for `task_name` (case-insensitive).

  GLUE/XNLI tasks ignore `generic_options`; "tsv" and "csv" build a
  GenericProcessor from them (see its Args; delimiter/quotechar default to
  tab/none for tsv and comma/'"' for csv).

  Raises:
    ValueError: "Task not found: <name>" (the original's message).
  """
  name = task_name.lower()
  if name in GENERIC_TASKS:
    options = dict(GENERIC_TASKS[name])
    options.update((k, v) for k, v in generic_options.items() if v is not None)
    return GenericProcessor(**options)
  if name not in PROCESSORS:
    raise ValueError("Task not found: %s" % (name))
  return PROCESSORS[name]()


# ----------------------------------------------------------------------------
# Featurization
# ----------------------------------------------------------------------------


def _truncate_seq_pair(tokens_a, tokens_b, max_length):
  """Shortens two token lists in place until len(a) + len(b) <= max_length.

  Each step pops the last token of the longer list (of b on a tie), so a short
  sentence keeps its tokens and a long one loses its tail.
  """
  while len(tokens_a) + len(tokens_b) > max_length:
    if len(tokens_a) > len(tokens_b):
      tokens_a.pop()
    else:
      tokens_b.pop()


def _check_max_seq_length(max_seq_length):
  if max_seq_length < 3:
    raise ValueError("max_seq_length must be at least 3 ([CLS] A [SEP] B [SEP] "
                     "has 3 special tokens), got %d" % max_seq_length)


def _label_map(label_list):
  """{label: id}, or None for a regression label list."""
  if is_regression_label_list(label_list):
    return None
  return {label: i for i, label in enumerate(label_list)}


def _label_id(example, label_map, label_list):
  """The int id of example.label (float score for regression), or DataError."""
  if label_map is None:
    try:
      return float(example.label)
    except (TypeError, ValueError):
      raise DataError("%s: label %r is not a number (this is a regression "
                      "task)" % (_where(example), example.label))
  label_id = label_map.get(example.label)
  if label_id is None:
    raise DataError("%s: label %r is not in the label list %s; fix the row, "
                    "or check --task_name (for tsv/csv: label_list.txt in "
                    "--output_dir)" %
                    (_where(example), example.label, list(label_list)))
  return label_id


def _pair_layout(a, b, cls, sep, max_seq_length):
  """`cls a sep (b sep)` and its segment ids, truncated as the original.

  a and b are token lists or id lists (truncation only looks at lengths); b is
  None or empty for a single text.  A pair is cut to S - 3 by
  `_truncate_seq_pair` (in place), a single text to S - 2; `cls a sep` is
  segment 0 and `b sep` segment 1.
  """
  if b:
    _truncate_seq_pair(a, b, max_seq_length - 3)
    return [cls] + a + [sep] + b + [sep], [0] * (len(a) + 2) + [1] * (len(b) + 1)
  seq = [cls] + a[:max_seq_length - 2] + [sep]
  return seq, [0] * len(seq)


def _featurize(example, label_map, label_list, max_seq_length, tokenizer):
  """Tokens and InputFeatures of one real example (the original's layout).

  Returns:
    (tokens, InputFeatures): tokens is `[CLS] A [SEP] (B [SEP])`, unpadded;
    input_ids/input_mask/segment_ids have length max_seq_length.
  """
  tokens_a = tokenizer.tokenize(example.text_a)
  tokens_b = tokenizer.tokenize(example.text_b) if example.text_b else None
  tokens, segment_ids = _pair_layout(tokens_a, tokens_b, "[CLS]", "[SEP]", max_seq_length)
  input_ids = tokenizer.convert_tokens_to_ids(tokens)
  return tokens, _padded_features(input_ids, segment_ids, max_seq_length,
                                  _label_id(example, label_map, label_list))


def _padded_features(input_ids, segment_ids, max_seq_length, label_id):
  """Real-example InputFeatures: ids, mask and segments zero-padded to S."""
  padding = [0] * (max_seq_length - len(input_ids))
  return InputFeatures(input_ids + padding, [1] * len(input_ids) + padding,
                       segment_ids + padding, label_id, is_real_example=True)


def _padding_features(max_seq_length):
  """The all-zero features of a PaddingInputExample."""
  return InputFeatures(input_ids=[0] * max_seq_length,
                       input_mask=[0] * max_seq_length,
                       segment_ids=[0] * max_seq_length,
                       label_id=0,
                       is_real_example=False)


def _log_example(example, tokens, feature):
  """The original's INFO log of one converted example."""
  logging.info("*** Example ***")
  logging.info("guid: %s" % (example.guid))
  logging.info("tokens: %s" % " ".join(
      [tokenization.printable_text(x) for x in tokens]))
  logging.info("input_ids: %s" % " ".join([str(x) for x in feature.input_ids]))
  logging.info("input_mask: %s" % " ".join([str(x) for x in feature.input_mask]))
  logging.info("segment_ids: %s" %
               " ".join([str(x) for x in feature.segment_ids]))
  if isinstance(feature.label_id, float):
    logging.info("label: %s (id = %s)" % (example.label, feature.label_id))
  else:
    logging.info("label: %s (id = %d)" % (example.label, feature.label_id))


def _convert(ex_index, example, label_map, label_list, max_seq_length,
             tokenizer):
  """convert_single_example with a precomputed label map."""
  if isinstance(example, PaddingInputExample):
    return _padding_features(max_seq_length)
  tokens, feature = _featurize(example, label_map, label_list, max_seq_length,
                               tokenizer)
  if ex_index < 5:
    _log_example(example, tokens, feature)
  return feature


def convert_single_example(ex_index, example, label_list, max_seq_length,
                           tokenizer):
  """Converts one InputExample (or PaddingInputExample) to InputFeatures.

  Exactly the original: tokens_b only when text_b is truthy; pairs truncated
  to S - 3 by `_truncate_seq_pair`, singles cut to S - 2; `[CLS] A [SEP]` is
  segment 0 and `B [SEP]` segment 1; ids/mask/segments zero-padded to S.
  The first 5 examples (ex_index < 5) are logged at INFO as the original.

  Args:
    ex_index: position of the example in its file (controls the log).
    example: InputExample or PaddingInputExample.
    label_list: list of labels (id = index), or [None] for regression.
    max_seq_length: S.
    tokenizer: a FullTokenizer.

  Returns:
    InputFeatures with int lists of length S and label_id (int, or float for
    regression); a PaddingInputExample gives zeros, 0, is_real_example False.

  Raises:
    DataError: a label not in label_list (or not a number for regression),
      naming the file and line the example came from.
  """
  _check_max_seq_length(max_seq_length)
  return _convert(ex_index, example, _label_map(label_list), label_list,
                  max_seq_length, tokenizer)


# Examples tokenized per call of a tokenizer's tokenize_to_id_spans.
_TOKENIZE_CHUNK = 4096


def _pair_lengths(len_a, len_b, max_length):
  """The lengths `_truncate_seq_pair` leaves, without popping one token at a time.

  It pops from the longer list (b on a tie) until the total fits: the longer one
  loses the excess if that does not make it the shorter, else both end at half
  the budget, a keeping the odd token (a tie pops b first).
  """
  excess = len_a + len_b - max_length
  if excess <= 0:
    return len_a, len_b
  if len_a > len_b and len_a - len_b >= excess:
    return len_a - excess, len_b
  if len_b >= len_a and len_b - len_a >= excess:
    return len_a, len_b - excess
  return (max_length + 1) // 2, max_length // 2


def _iter_features(examples, label_list, max_seq_length, tokenizer):
  """Yields the InputFeatures of `examples` in order, logging like the original.

  With a FullTokenizer the texts are tokenized a chunk at a time straight to
  ids (`tokenize_to_id_spans`, tested equal to the token path) and each
  feature is built from slices of the chunk's flat id list -- the same lists
  `_featurize` builds (tests/test_classifier_data.py compares every shipped
  GLUE file).  Any other tokenizer object, and any example whose ids could not
  be looked up, takes the original per-example token path.
  """
  _check_max_seq_length(max_seq_length)
  label_map = _label_map(label_list)
  total = len(examples)
  id_spans = getattr(tokenizer, "tokenize_to_id_spans", None)
  vocab = getattr(tokenizer, "vocab", {})
  cls, sep = vocab.get("[CLS]"), vocab.get("[SEP]")
  if id_spans is None or cls is None or sep is None:
    for ex_index, example in enumerate(examples):
      if ex_index % 10000 == 0:
        logging.info("Writing example %d of %d" % (ex_index, total))
      yield _convert(ex_index, example, label_map, label_list, max_seq_length, tokenizer)
    return
  seq = max_seq_length
  zeros = [0] * seq
  masks = [[1] * n + [0] * (seq - n) for n in range(seq + 1)]  # copied per feature
  pair_segments = {}  # (len(cls a sep), len(b sep)) -> segment ids, copied per feature
  for chunk_start in range(0, total, _TOKENIZE_CHUNK):
    part = examples[chunk_start:chunk_start + _TOKENIZE_CHUNK]
    texts = []
    for example in part:
      if not isinstance(example, PaddingInputExample):
        texts.append(example.text_a)
        if example.text_b:
          texts.append(example.text_b)
    flat, spans = id_spans(texts)
    next_span = iter(spans).__next__
    for ex_index, example in enumerate(part, chunk_start):
      if ex_index % 10000 == 0:
        logging.info("Writing example %d of %d" % (ex_index, total))
      if isinstance(example, PaddingInputExample):
        yield _padding_features(seq)
        continue
      text_b = example.text_b
      span_a = next_span()
      span_b = next_span() if text_b else None
      if span_a is None or (text_b and span_b is None):
        yield _convert(ex_index, example, label_map, label_list, seq, tokenizer)
        continue
      label_id = label_map.get(example.label) if label_map is not None else None
      if label_id is None:
        label_id = _label_id(example, label_map, label_list)  # regression, or DataError
      start_a, end_a = span_a
      if span_b is not None and span_b[1] > span_b[0]:  # a pair (tokens_b non-empty)
        start_b, end_b = span_b
        len_a, len_b = _pair_lengths(end_a - start_a, end_b - start_b, seq - 3)
        n = len_a + len_b + 3
        input_ids = [cls, *flat[start_a:start_a + len_a], sep,
                     *flat[start_b:start_b + len_b], sep, *zeros[n:]]
        segments = pair_segments.get((len_a, len_b))
        if segments is None:
          segments = pair_segments[(len_a, len_b)] = (
              [0] * (len_a + 2) + [1] * (len_b + 1) + zeros[n:])
        segment_ids = segments[:]
      else:  # a single text, or an empty tokens_b: cut to S - 2
        end_a = min(end_a, start_a + seq - 2)
        n = end_a - start_a + 2
        input_ids = [cls, *flat[start_a:end_a], sep, *zeros[n:]]
        segment_ids = zeros[:]
      feature = InputFeatures(input_ids, masks[n][:], segment_ids, label_id, True)
      if ex_index < 5:
        _log_example(example, tokenizer.convert_ids_to_tokens(input_ids[:n]), feature)
      yield feature


def convert_examples_to_features(examples, label_list, max_seq_length,
                                 tokenizer):
  """Converts N examples to a list of N InputFeatures (in order).

  Logs "Writing example %d of %d" every 10000 examples, as the original.
  """
  with _gc_paused():
    return list(_iter_features(examples, label_list, max_seq_length, tokenizer))


def pad_examples_for_tpu(examples, batch_size):
  """`examples` plus PaddingInputExample()s up to a multiple of batch_size.

  The original's --use_tpu eval/predict padding.  Returns a new list; the
  number of real examples is still len(examples).
  """
  padded = list(examples)
  while len(padded) % batch_size != 0:
    padded.append(PaddingInputExample())
  return padded


# ----------------------------------------------------------------------------
# tf.train.Example encoding and TFRecord writing
# ----------------------------------------------------------------------------
#
# Records are serialized by hand: the proto is tiny (Example > Features >
# map<string, Feature> > Int64List/FloatList), and building tf.train.Example
# objects costs ~40 us per record, more than tokenizing it.  The encoding is
# the standard proto3 wire format (packed repeated values), so any reader
# parses it to the same features; map entries are written in the original's
# insertion order: input_ids, input_mask, segment_ids, label_ids,
# is_real_example.

_VARINT_TABLE = []


def _varint(value):
  """Protobuf base-128 varint of an int64 (negatives as 10-byte two's complement)."""
  value = int(value) & 0xFFFFFFFFFFFFFFFF
  out = bytearray()
  while value > 0x7F:
    out.append((value & 0x7F) | 0x80)
    value >>= 7
  out.append(value)
  return bytes(out)


def _packed_varints(values):
  """Concatenated varints of int values (packed repeated int64 payload).

  Fast path: values 0 <= v < 2**18 come from a table, and a run of trailing
  zeros (the padding) is emitted as zero bytes without a lookup per value.
  """
  if type(values) is not list:  # pylint: disable=unidiomatic-typecheck
    values = [int(v) for v in values]
  if not values:
    return b""
  try:
    cut = values.index(0)
  except ValueError:
    cut = len(values)
  tail = len(values) - cut
  if tail and values[cut:] == [0] * tail:
    values, zeros = values[:cut], b"\x00" * tail
  else:
    zeros = b""
  if not values:
    return zeros
  table = _VARINT_TABLE
  low, high = min(values), max(values)
  if low < 0 or high >= (1 << 18):
    return b"".join([_varint(v) for v in values]) + zeros
  if high >= len(table):
    table.extend(_varint(v) for v in range(len(table), max(1 << 15, high + 1)))
  return b"".join([table[v] for v in values]) + zeros


def _packed_flags(values):
  """_packed_varints for lists of small values such as masks (one byte each)."""
  try:
    packed = bytes(values)
    if packed.isascii():
      return packed
  except (TypeError, ValueError):
    pass
  return _packed_varints(values)


def _entry_prefix(name, list_tag, payload_length):
  """Bytes of one `Features.feature` map entry up to its packed payload.

  Entry{key: name, value: Feature{<list_tag>: List{value: packed}}}; list_tag
  is b"\x1a" (int64_list) or b"\x12" (float_list).
  """
  list_length = 1 + len(_varint(payload_length)) + payload_length
  feature_length = 1 + len(_varint(list_length)) + list_length
  entry_length = (1 + len(_varint(len(name))) + len(name) +
                  1 + len(_varint(feature_length)) + feature_length)
  return b"".join([b"\x0a", _varint(entry_length), b"\x0a", _varint(len(name)),
                   name, b"\x12", _varint(feature_length), list_tag,
                   _varint(list_length), b"\x0a", _varint(payload_length)])


class ExampleEncoder(object):
  """Serializes InputFeatures to tf.train.Example bytes, as the original writes them.

  input_ids, input_mask, segment_ids: int64[S]; label_ids: int64[1] (float[1]
  for regression); is_real_example: int64[1].  The framing bytes of each
  feature depend only on its payload length and are cached.
  """

  def __init__(self, is_regression=False):
    self.is_regression = is_regression
    self._prefixes = {}

  def _prefix(self, name, list_tag, payload_length):
    key = (name, payload_length)
    prefix = self._prefixes.get(key)
    if prefix is None:
      prefix = _entry_prefix(name, list_tag, payload_length)
      self._prefixes[key] = prefix
    return prefix

  def encode(self, feature):
    """InputFeatures -> serialized tf.train.Example (bytes)."""
    if self.is_regression:
      label_tag, label = b"\x12", struct.pack("<f", float(feature.label_id))
    else:
      label_tag, label = b"\x1a", _packed_varints([int(feature.label_id)])
    ids = _packed_varints(feature.input_ids)
    mask = _packed_flags(feature.input_mask)
    segments = _packed_flags(feature.segment_ids)
    real = _packed_varints([int(feature.is_real_example)])
    body = b"".join([
        self._prefix(b"input_ids", b"\x1a", len(ids)), ids,
        self._prefix(b"input_mask", b"\x1a", len(mask)), mask,
        self._prefix(b"segment_ids", b"\x1a", len(segments)), segments,
        self._prefix(b"label_ids", label_tag, len(label)), label,
        self._prefix(b"is_real_example", b"\x1a", len(real)), real,
    ])
    return b"\x0a" + _varint(len(body)) + body


def serialize_features(feature, is_regression=False):
  """The tf.train.Example bytes of one InputFeatures (see ExampleEncoder)."""
  return ExampleEncoder(is_regression).encode(feature)


@contextlib.contextmanager
def _gc_paused():
  """Pauses the cyclic garbage collector during a bulk conversion.

  Featurization allocates only acyclic lists and bytes, but millions of them:
  with the collector on, its repeated scans of the growing feature list make
  SST-2's in-memory conversion ~2.5x slower.  Reference counting still frees
  everything; the collector is restored afterwards.
  """
  was_enabled = gc.isenabled()
  gc.disable()
  try:
    yield
  finally:
    if was_enabled:
      # Everything allocated meanwhile sits in the youngest generation, and the
      # first collection after enable() would scan all of it (~20% of SST-2's
      # conversion time).  freeze() + unfreeze() moves every tracked object to
      # the oldest generation without a scan; cycles are still collected there.
      gc.freeze()
      gc.unfreeze()
      gc.enable()


def file_based_convert_examples_to_features(examples, label_list,
                                            max_seq_length, tokenizer,
                                            output_file):
  """Converts N examples and writes them as a TFRecord file of tf.train.Example.

  Same records and log as the original (features input_ids, input_mask,
  segment_ids int64[S], label_ids int64[1] or float[1] for regression,
  is_real_example int64[1]; "Writing example %d of %d" every 10000).  The
  file is written under a temporary name in the same directory and renamed
  into place, so `output_file` is either the old file or the complete new one.
  """
  is_regression = is_regression_label_list(label_list)
  directory = os.path.dirname(os.path.abspath(output_file))
  tmp = os.path.join(directory, ".%s.tmp-%d-%s" % (
      os.path.basename(output_file), os.getpid(), uuid.uuid4().hex[:8]))
  encoder = ExampleEncoder(is_regression)
  try:
    with _gc_paused(), tf.io.TFRecordWriter(tmp) as writer:
      for feature in _iter_features(examples, label_list, max_seq_length,
                                    tokenizer):
        writer.write(encoder.encode(feature))
    os.replace(tmp, output_file)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise


# ----------------------------------------------------------------------------
# Reading TFRecords
# ----------------------------------------------------------------------------


def _feature_spec(seq_length, is_regression):
  label_dtype = tf.float32 if is_regression else tf.int64
  return {
      "input_ids": tf.io.FixedLenFeature([seq_length], tf.int64),
      "input_mask": tf.io.FixedLenFeature([seq_length], tf.int64),
      "segment_ids": tf.io.FixedLenFeature([seq_length], tf.int64),
      "label_ids": tf.io.FixedLenFeature([], label_dtype),
      "is_real_example": tf.io.FixedLenFeature([], tf.int64),
  }


def _parse_batch(serialized, spec):
  """[B] serialized records -> dict of [B, S] / [B] tensors, int64 cast to int32."""
  parsed = tf.io.parse_example(serialized, spec)
  return {name: tf.cast(t, tf.int32) if t.dtype == tf.int64 else t
          for name, t in parsed.items()}


def without_autotune(dataset, parallelism=2):
  """Fixed tf.data parallelism instead of autotuning.

  With autotune on, tf.data's model optimisation periodically blocks the
  pipeline for exactly 10.24 s / 20.48 s (its optimisation period doubling
  from 10 ms) on this 2-core CPU -- the "stalls for 20.5 s or 41 s" seen in
  keras-hub and our own predict runs (benchmarks/README.md).  The maps here
  are cheap vectorized parses, so two parallel calls and two prefetched
  batches keep the step fed without the tuner.
  """
  options = tf.data.Options()
  options.autotune.enabled = False
  return dataset.with_options(options).prefetch(parallelism)


def make_dataset(input_file, seq_length, batch_size, is_training,
                 drop_remainder, is_regression=False, seed=None):
  """The original's file_based_input_fn_builder pipeline as a tf.data.Dataset.

  Training: repeat() -> shuffle(100, seed) -> batch(drop_remainder=True);
  eval/predict: file order, batch(drop_remainder=drop_remainder).  Records
  are parsed with FixedLenFeature (a vectorized parse after batching, which
  gives the same tensors as the original's per-record map) and prefetched.

  Returns:
    Dataset of dicts: input_ids, input_mask, segment_ids int32 [B, S];
    label_ids int32 [B] (float32 for regression); is_real_example int32 [B].
  """
  spec = _feature_spec(seq_length, is_regression)
  d = tf.data.TFRecordDataset(input_file)
  if is_training:
    d = d.repeat()
    d = d.shuffle(buffer_size=100, seed=seed)
    drop_remainder = True
  d = d.batch(batch_size, drop_remainder=drop_remainder)
  d = d.map(lambda records: _parse_batch(records, spec),
            num_parallel_calls=2, deterministic=True)
  return without_autotune(d)
