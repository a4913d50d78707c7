"""bert_tf.data.readers: the original's TSV reading, decoding and its one-line errors."""

import logging
import os

import pytest

from bert_tf.data import readers
from bert_tf.errors import DataError
from bert_tf.data.tasks import get_processor
from data_testing import assert_one_line_data_error, write_text


def test_invalid_utf8_is_dropped_with_one_warning(tmp_path, caplog):
  d = str(tmp_path)
  path = os.path.join(d, "train.tsv")
  with open(path, "wb") as f:
    f.write(b"s\t1\t\tcaf\xe9 ok\ns\t0\t\tfine\ns\t1\t\tbad \xff\xfe byte\n")
  caplog.set_level(logging.INFO)
  examples = get_processor("cola").get_train_examples(d)
  assert [e.text_a for e in examples] == ["caf ok", "fine", "bad  byte"]
  warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
  assert len(warnings) == 1
  assert warnings[0].startswith("%s: 2 line(s) contain bytes that are not "
                                "valid UTF-8 (first: line 1)" % path)


def test_utf16_crlf_and_huge_field(tmp_path):
  d = str(tmp_path)
  path = os.path.join(d, "train.tsv")
  write_text(path, "s\t1\t\ta\n", encoding="utf-16")
  with pytest.raises(DataError, match="UTF-16 encoded; save it as UTF-8"):
    get_processor("cola").get_train_examples(d)
  # \r\n line endings are fine; a lone \r inside a line is reported.
  write_text(path, "s\t1\t\ta\r\ns\t0\t\tb\r\n")
  assert [e.text_a for e in get_processor("cola").get_train_examples(d)] == [
      "a", "b"]
  write_text(path, "s\t1\t\ta\ns\t0\t\tb\rc\n")
  with pytest.raises(DataError) as e:
    get_processor("cola").get_train_examples(d)
  assert_one_line_data_error(e, path + " line 2: carriage return")
  write_text(path, "s\t1\t\tok\ns\t0\t\t" + "x" * 200000 + "\n")
  with pytest.raises(DataError) as e:
    get_processor("cola").get_train_examples(d)
  assert_one_line_data_error(e, path + " line 2: a field is longer than")


def test_directory_instead_of_file(tmp_path):
  os.makedirs(tmp_path / "x.tsv")
  with pytest.raises(DataError, match="is a directory"):
    readers.read_rows(str(tmp_path / "x.tsv"))
