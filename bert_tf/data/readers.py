"""Reading delimited text files as the original run_classifier.py does (the GLUE tasks' reader).

The original reads a .tsv with tf.gfile (lines end at "\\n" only) and the csv
module (tab delimiter, quote characters literal).  `read_rows` does the same and
adds what the original lacked: the 1-based line of every record, one warning for
bytes that are not UTF-8 (dropped, as the original's decoding does), and a
DataError with a one-line message naming the file and the line for a missing,
unreadable, UTF-16 or empty file and for a row the csv module cannot parse.
`read_lines` (the decoding half) is shared with the generic tsv/csv reader.

`not_text` / `check_text_file` recognise a compressed, archived or binary file
given where text is expected (a gzipped train.tsv, a TFRecord as --input_file)
by its first bytes, for every reader of text input (classifier data,
pretraining text, the inference tools' input), so that the user is told what
the file looks like instead of a decoding or line-ending error.
"""

import csv

from absl import logging

from bert_tf.errors import DataError

_DELIMITER_NAMES = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}


def delimiter_name(delimiter):
  """"tab", "comma", ... for messages ("expected tab-separated rows")."""
  return _DELIMITER_NAMES.get(delimiter, repr(delimiter))


# How many leading bytes `not_text` looks at.
TEXT_SNIFF_BYTES = 8192

# (magic bytes at offset 0, what the file looks like, what to do).
_SIGNATURES = (
    (b"\x1f\x8b", "gzip-compressed", "decompress it first (gunzip)"),
    (b"BZh", "bzip2-compressed", "decompress it first (bunzip2)"),
    (b"\xfd7zXZ\x00", "xz-compressed", "decompress it first (unxz)"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed", "decompress it first (unzstd)"),
    (b"\x04\x22\x4d\x18", "lz4-compressed", "decompress it first (unlz4)"),
    (b"PK\x03\x04", "like a zip archive (or an .xlsx/.docx/.ods file)",
     "extract it first (unzip), or save a spreadsheet as tab-separated UTF-8 text"),
    (b"PK\x05\x06", "like an empty zip archive", "pass the text file itself"),
    (b"7z\xbc\xaf\x27\x1c", "like a 7z archive", "extract it first (7z x)"),
    (b"Rar!\x1a\x07", "like a RAR archive", "extract it first (unrar x)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "like a Microsoft Office file (.xls/.doc)",
     "save it as tab-separated UTF-8 text"),
    (b"%PDF-", "like a PDF document", "extract its text first (e.g. pdftotext)"),
    (b"PAR1", "like a Parquet file", "export it as tab-separated UTF-8 text"),
    (b"\x89HDF", "like an HDF5 file", "export it as UTF-8 text"),
    (b"\x93NUMPY", "like a NumPy .npy file", "pass the text file itself"),
    (b"SQLite format 3\x00", "like an SQLite database", "export the table as UTF-8 text"),
)
_TAR_MAGIC_OFFSET = 257


def not_text(head):
  """What a file whose first bytes are `head` looks like, if it is not text; else None.

  Returns e.g. "looks gzip-compressed; decompress it first (gunzip)".  Known
  compressed/archive signatures are recognised; otherwise a file is binary when
  its first TEXT_SNIFF_BYTES bytes hold both control bytes (NUL, ...) and bytes
  that are not UTF-8, each at least 1% of them (UTF-16 without a byte order
  mark is named as such).  Either alone is not enough: real text may hold a few
  NUL/control characters (the original tokenizer drops them) or be in another
  encoding (its bad bytes are dropped with a warning), and keeps working.
  """
  head = bytes(head[:TEXT_SNIFF_BYTES])
  for magic, looks, fix in _SIGNATURES:
    if head.startswith(magic):
      return "looks %s; %s" % (looks, fix)
  if head[_TAR_MAGIC_OFFSET:_TAR_MAGIC_OFFSET + 5] == b"ustar":
    return "looks like a tar archive; extract it first (tar xf)"
  floor = max(8, len(head) // 100)
  controls = len(head) - len(head.translate(None, _BINARY_CONTROLS))
  if controls < floor:
    return None
  even, odd = head[0::2].count(b"\x00"), head[1::2].count(b"\x00")
  if min(even, odd) * 10 < max(even, odd) and max(even, odd) * 5 >= len(head) * 2:
    # ASCII as UTF-16: a NUL in (nearly) every other byte, on one side.
    return "looks UTF-16 encoded (without a byte order mark); save it as UTF-8 text"
  invalid = len(head) - len(head.decode("utf-8", "ignore").encode("utf-8"))
  if invalid >= floor:
    return "looks like a binary file, not text (control bytes, not UTF-8); pass a UTF-8 text file"
  return None


# C0 control bytes that text files do not hold (tab, line breaks, form feed and
# escape are left out).
_BINARY_CONTROLS = bytes(list(range(0, 9)) + list(range(14, 27)) + list(range(28, 32)))


def check_text_file(path, error=None, head=None):
  """Raises `error` ("<path>: looks gzip-compressed; ...") if the file is not text.

  head: the file's first bytes if already read; else they are read here (a
  file that cannot be opened is left to the caller's own reading, which names
  the problem).  error: the exception class (default DataError).
  """
  if head is None:
    try:
      from bert_tf.data.tfrecord import open_binary  # pylint: disable=g-import-not-at-top
      with open_binary(path, "rb") as f:
        head = f.read(TEXT_SNIFF_BYTES)
    except Exception:  # noqa: BLE001 - reported by the caller's reading of the file
      return
  problem = not_text(head)
  if problem:
    raise (error or DataError)("%s: %s" % (path, problem))


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
    DataError: missing/unreadable file, a UTF-16 one, or a compressed or
      binary one (not_text).
  """
  data = read_bytes(input_file)
  if data.startswith(b"\xff\xfe") or data.startswith(b"\xfe\xff"):
    raise DataError("%s: file is UTF-16 encoded; save it as UTF-8 text" %
                    input_file)
  check_text_file(input_file, DataError, head=data[:TEXT_SNIFF_BYTES])
  lines, bad, first_bad = _decode_lines(data)
  if bad:
    logging.warning(
        "%s: %d line(s) contain bytes that are not valid UTF-8 (first: line "
        "%d); those bytes were dropped, as the original BERT does. Save the "
        "file as UTF-8 to keep those characters.", input_file, bad, first_bad)
  return lines


def warn_extra_columns(path, lines, width, whose, reads, delimiter="\t"):
  """One warning for the rows (at `lines`) with non-blank fields past `width`.

  The original reads rows by column index, so such a row runs, but a stray
  delimiter inside a text has cut that text (an MRPC row with a tab in
  sentence 1 loses the end of sentence 2): the user should look at those rows.
  """
  shown = ", ".join(str(line) for line in lines[:5]) + (", ..." if len(lines) > 5 else "")
  name = delimiter_name(delimiter)
  logging.warning(
      "%s: %d row(s) have more %s-separated columns than the %d of %s (%s %s); %s, so the "
      "extra columns are ignored. A stray %s inside a text cuts it there: check those rows.",
      path, len(lines), name, width, whose, "line" if len(lines) == 1 else "lines", shown,
      reads, name)


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
