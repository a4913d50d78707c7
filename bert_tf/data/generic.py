"""`--task_name=tsv|csv`: users' own delimited files, read with pandas.

GenericProcessor turns data_dir/{train,dev,test}.<tsv|csv> into InputExamples:
columns chosen by 0-based number or header name, labels stripped, the label
order kept in output_dir/label_list.txt so later eval/predict runs agree.

Files are parsed by pandas' C reader (`read_table`): quoting ('"' for csv,
none for tsv), blank lines and ragged rows kept as rows.  What pandas does not
say is recovered from the text: the line each record starts on (from the line
breaks inside its fields) and, for a row that may be short, its true number of
fields (padding fields are "" in pandas).  Decoding is the original's (UTF-8,
bad bytes dropped with one warning, UTF-16 refused), and every problem is a
one-line DataError naming the file and the line.  tests/data/test_generic.py
checks the rows against the csv module's on random files.
"""

import csv
import io
import os
import re
import warnings

import numpy as np
import pandas
from absl import logging

from bert_tf import files
from bert_tf.data import processor, readers
from bert_tf.errors import DataError
from bert_tf.data.examples import REGRESSION_LABELS, InputExample

LABEL_LIST_FILE = "label_list.txt"

# ----------------------------------------------------------------------------
# Reading a delimited file with pandas
# ----------------------------------------------------------------------------


class Table(object):
  """The records of one delimited file.

  columns[c][k] is field c of record k ("" past the end of a short record);
  lines[k] is the 1-based line record k starts on; width(k) its field count.
  """

  def __init__(self, path, delimiter, quotechar, text_lines, columns, lines):
    self.path = path
    self.delimiter = delimiter
    self.quotechar = quotechar
    self.columns = columns
    self.lines = lines
    self._text_lines = text_lines

  def __len__(self):
    return len(self.lines)

  def width(self, k):
    """The number of fields of record k, as the csv module counts them (0 for a blank line)."""
    start = self.lines[k] - 1
    stop = self.lines[k + 1] - 1 if k + 1 < len(self.lines) else len(self._text_lines)
    raw = self._text_lines[start:stop]
    if len(raw) == 1 and not raw[0].strip("\r\n"):
      return 0
    separators = sum(line.count(self.delimiter) for line in raw)
    if self.quotechar is not None:  # delimiters inside quoted fields separate nothing
      separators -= sum(column[k].count(self.delimiter) for column in self.columns)
    return separators + 1

  def row(self, k):
    """The fields of record k."""
    return [column[k] for column in self.columns[:self.width(k)]]


def _lone_carriage_return_line(text_lines):
  """The 1-based line of the first "\\r" followed by text on its line, or None.

  Carriage returns just before the line break (or the end of the file) only end
  the line, as for the csv module.
  """
  for number, line in enumerate(text_lines, 1):
    if "\r" in line and _CARRIAGE_RETURN_IN_LINE.search(line):
      return number
  return None


_CARRIAGE_RETURN_IN_LINE = re.compile(r"\r[^\r\n]")
_CARRIAGE_RETURNS_BEFORE_LF = re.compile(r"\r+\n")
_TRAILING_CARRIAGE_RETURNS = re.compile(r"\r+\Z")


def _read_csv(text, delimiter, quotechar, width, nrows=None):
  """pandas' C reader: a DataFrame of str with columns 0..width-1 (short rows padded with "")."""
  with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always", pandas.errors.ParserWarning)
    frame = pandas.read_csv(
        io.StringIO(text), sep=delimiter, header=None, names=range(width),
        index_col=False, dtype=str, na_filter=False, skip_blank_lines=False,
        quoting=csv.QUOTE_NONE if quotechar is None else csv.QUOTE_MINIMAL,
        quotechar=quotechar or '"', engine="c", nrows=nrows)
  # pandas cuts a first record longer than `width` with this warning (later ones raise).
  truncated = any("loss of data" in str(w.message) for w in caught)
  return frame, truncated


def _parse(path, text, delimiter, quotechar, width):
  """The records of `text`, `width` columns or more, or DataError."""
  while True:
    try:
      frame, truncated = _read_csv(text, delimiter, quotechar, width)
      if truncated:
        width *= 2
        continue
      return frame
    except pandas.errors.EmptyDataError:
      return pandas.DataFrame(columns=range(width), dtype=str)
    except pandas.errors.ParserError as e:
      message = " ".join(str(e).split())
      wider = re.search(r"Expected \d+ fields in line \d+, saw (\d+)", message)
      if wider and int(wider.group(1)) > width:  # a record longer than any line
        width = int(wider.group(1))
        continue
      unclosed = re.search(r"EOF inside string starting at row (\d+)", message)
      if unclosed:
        line = _record_start_line(text, delimiter, quotechar, width, int(unclosed.group(1)))
        raise DataError("%s line %s: the quote (%s) that opens a field here is never "
                        "closed; check the file's quoting" % (path, line, quotechar))
      raise DataError("%s: cannot parse the file as %s-separated text (%s)" %
                      (path, readers.delimiter_name(delimiter), message))
    except (ValueError, OverflowError) as e:
      raise DataError("%s: cannot parse the file as %s-separated text (%s)" %
                      (path, readers.delimiter_name(delimiter), " ".join(str(e).split())))


def _record_start_line(text, delimiter, quotechar, width, record):
  """The line record number `record` (0-based) starts on, from the records before it."""
  if record == 0:
    return 1
  try:
    before, _ = _read_csv(text, delimiter, quotechar, width, nrows=record)
  except (pandas.errors.ParserError, ValueError):
    return "?"
  return 1 + int(_line_counts(before, quotechar).sum())


def _line_counts(frame, quotechar):
  """The number of lines each record of `frame` spans (1 + line breaks in its fields)."""
  counts = np.ones(len(frame), dtype=np.int64)
  if quotechar is not None:  # only quoted fields hold line breaks
    for column in frame.columns:
      counts += frame[column].str.count("\n").to_numpy(dtype=np.int64)
  return counts


def read_table(path, delimiter, quotechar):
  """Reads a delimited file with pandas.

  Args:
    path: the file.
    delimiter: one character ("\\t", ",", ...).
    quotechar: None (quote characters are literal text, as the GLUE reader) or '"'
      (quoted fields may hold delimiters, line breaks and doubled quotes).

  Returns:
    a Table of every record, blank lines included.

  Raises:
    DataError: missing/unreadable/UTF-16/empty file, a carriage return inside a
      line, or a quoted field never closed; one line naming the file (and line).
  """
  text_lines = readers.read_lines(path)
  text = "".join(text_lines)
  lone_cr = _lone_carriage_return_line(text_lines)
  cr_error = DataError("%s line %s: %s" % (path, lone_cr, readers.carriage_return_problem()))
  if lone_cr is not None and (quotechar is None or not text.strip()):
    raise cr_error  # only a quoted field may hold one
  if not text.strip():
    raise readers.empty_file_error(path, delimiter)
  # Carriage returns that only end a line are one line break for pandas too.
  text = _TRAILING_CARRIAGE_RETURNS.sub("\n", _CARRIAGE_RETURNS_BEFORE_LF.sub("\r\n", text))
  width = max(line.count(delimiter) for line in text_lines) + 1
  try:
    frame = _parse(path, text, delimiter, quotechar, width)
  except DataError:
    if lone_cr is not None:
      raise cr_error  # pandas ends a record at a lone "\r": its record numbers are off
    raise
  counts = _line_counts(frame, quotechar)
  if int(counts.sum()) != len(text_lines):
    # pandas ended a record at a lone "\r" (outside quotes): the csv module refuses it.
    if lone_cr is not None:
      raise cr_error
    raise DataError("%s: cannot parse the file as %s-separated text (%d records "
                    "found on %d lines)" % (path, readers.delimiter_name(delimiter),
                                             len(frame), len(text_lines)))
  lines = (np.cumsum(counts) - counts + 1).tolist()
  columns = [frame[column].tolist() for column in frame.columns]
  if not any(field.strip() for column in columns for field in column):
    raise readers.empty_file_error(path, delimiter)
  return Table(path, delimiter, quotechar, text_lines, columns, lines)


# ----------------------------------------------------------------------------
# The processor
# ----------------------------------------------------------------------------


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


class GenericProcessor(processor.DataProcessor):
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
    defer_label_list: get_labels() does not write label_list.txt; the caller
      does, with write_label_list(), once every check before writing passed.
  """

  def __init__(self, delimiter="\t", text_a_column=0, text_b_column=None,
               label_column=1, has_header=True, guid_column=None,
               quotechar=None, file_extension=None, data_dir=None,
               output_dir=None, labels=None, is_regression=False,
               defer_label_list=False):
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
    self._defer_label_list = bool(defer_label_list)
    self._unwritten_labels = None

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

  def write_label_list(self):
    """Writes the label list get_labels() deferred (defer_label_list), if any."""
    labels, self._unwritten_labels = self._unwritten_labels, None
    if labels is not None:
      self._write_label_list(labels, now=True)

  def _write_label_list(self, labels, now=False):
    path = self._label_list_path()
    if path is None:
      return
    if self._defer_label_list and not now:
      self._unwritten_labels = list(labels)
      return
    os.makedirs(self.output_dir, exist_ok=True)
    files.write_atomically(path, "".join(label + "\n" for label in labels))
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

  def _split_examples(self, data_dir, split):
    ext = self.file_extension
    path = processor.split_file(data_dir, "%s.%s" % (split, ext),
                                "train.%s/dev.%s/test.%s for --task_name=%s" %
                                (ext, ext, ext, ext))
    if self.data_dir is None:
      self.data_dir = data_dir
    if path not in self._cache:
      table = read_table(path, self.delimiter, self.quotechar)
      self._cache[path] = self._create_examples(table, split)
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

  def _create_examples(self, table, set_type):
    path = table.path
    header = table.row(0) if self.has_header else None
    first = 1 if self.has_header else 0
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
    # A record shorter than `needed` shows "" in its last needed column (pandas
    # pads short records); only then is its true width counted.
    last = table.columns[needed - 1] if needed <= len(table.columns) else None
    columns = table.columns
    examples = []
    for i, k in enumerate(range(first, len(table))):
      line = table.lines[k]
      if last is None or last[k] == "":
        found = table.width(k)
        if found < needed:
          raise DataError(
              "%s line %d: expected at least %d %s-separated columns, found %d; "
              "check the column flags (text_a/text_b/label/guid) and the "
              "delimiter" % (path, line, needed,
                             readers.delimiter_name(self.delimiter), found))
      if label_col is None:
        label = dummy
      else:
        label = columns[label_col][k].strip()
        if not label:
          raise DataError("%s line %d: empty label (column %s)" %
                          (path, line, self.label_column))
        if "\n" in label:
          raise DataError("%s line %d: the label contains a line break" %
                          (path, line))
      guid = "%s-%s" % (set_type, columns[guid_col][k] if guid_col is not None else i)
      examples.append(InputExample(
          guid, columns[text_a][k],
          columns[text_b][k] if text_b is not None else None,
          label, source_file=path, source_line=line))
    if not examples:
      raise DataError("%s: no examples in the file (only a header?)" % path)
    self._warn_extra_columns(table, first, header, needed, sorted(set(required)))
    return examples

  def _warn_extra_columns(self, table, first, header, needed, used):
    """One warning for records with non-blank fields past the file's width: the
    header's, or (no header) the one most records have; as the GLUE reader."""
    if len(table.columns) <= needed:
      return  # no record has a field past the ones read
    if header is not None:
      width, whose = max(needed, len(header)), "its header line"
    else:
      widths = np.zeros(len(table), dtype=np.int64)  # up to the last non-blank field
      for c, column in enumerate(table.columns):
        widths[np.fromiter((bool(f.strip()) for f in column), bool, len(column))] = c + 1
      counts = np.bincount(widths[first:])
      counts[0] = 0  # blank lines
      width, whose = max(needed, int(counts.argmax())), "most of its rows"
    extra = np.zeros(len(table), dtype=bool)
    for column in table.columns[width:]:
      extra |= np.fromiter((bool(f.strip()) for f in column), bool, len(column))
    extra[:first] = False
    wide = [table.lines[k] for k in np.flatnonzero(extra)]
    if wide:
      readers.warn_extra_columns(
          table.path, wide, width, whose,
          "only columns %s (0-based) are read" % ", ".join(map(str, used)), self.delimiter)
