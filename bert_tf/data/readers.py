"""Reading delimited text files as the original run_classifier.py does (the GLUE tasks' reader).

The original reads a .tsv with tf.gfile (lines end at "\\n" only) and the csv
module (tab delimiter, quote characters literal).  `read_rows` does the same and
adds what the original lacked: the 1-based line of every record, one warning for
bytes that are not UTF-8 (dropped, as the original's decoding does), and a
DataError with a one-line message naming the file and the line for a missing,
unreadable, UTF-16 or empty file and for a row the csv module cannot parse.
`read_lines` (the decoding half) is shared with the generic tsv/csv reader.
"""

import csv

from absl import logging

from bert_tf.errors import DataError

_DELIMITER_NAMES = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}


def delimiter_name(delimiter):
  """"tab", "comma", ... for messages ("expected tab-separated rows")."""
  return _DELIMITER_NAMES.get(delimiter, repr(delimiter))


def read_bytes(input_file):
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


def read_lines(input_file):
  """The file's lines (each ending in "\\n" but maybe the last), decoded as UTF-8.

  Invalid bytes are dropped with one warning per file giving the count of
  affected lines.

  Raises:
    DataError: missing/unreadable file, or a UTF-16 one.
  """
  data = read_bytes(input_file)
  if data.startswith(b"\xff\xfe") or data.startswith(b"\xfe\xff"):
    raise DataError("%s: file is UTF-16 encoded; save it as UTF-8 text" %
                    input_file)
  lines, bad, first_bad = _decode_lines(data)
  if bad:
    logging.warning(
        "%s: %d line(s) contain bytes that are not valid UTF-8 (first: line "
        "%d); those bytes were dropped, as the original BERT does. Save the "
        "file as UTF-8 to keep those characters.", input_file, bad, first_bad)
  return lines


def empty_file_error(input_file, delimiter):
  return DataError("%s: file is empty; expected %s-separated rows" %
                   (input_file, delimiter_name(delimiter)))


def carriage_return_problem():
  return ("carriage return (\\r) inside a line; convert the file's line "
          "endings to \\n (e.g. with dos2unix)")


def _csv_problem(error, delimiter):
  """A user-facing description of a csv.Error."""
  text = str(error)
  if "field larger than field limit" in text:
    return ("a field is longer than %d characters (the csv module's limit); "
            "check that the file is %s-separated text" %
            (csv.field_size_limit(), delimiter_name(delimiter)))
  if "new-line character seen in unquoted field" in text:
    return carriage_return_problem()
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
  lines = read_lines(input_file)
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
    raise empty_file_error(input_file, delimiter)
  return rows
