"""Input that runs but is probably not what the user meant (issue 17 items 6 and 9):
compressed or binary files given as text (readers.not_text / check_text_file), and rows with
more columns than their file's layout (one warning per file, GLUE tables and tsv/csv)."""

import bz2
import gzip
import io
import logging
import lzma
import os
import tarfile
import zipfile

import pytest
import tensorflow as tf

from bert_tf.data import generic, readers
from bert_tf.data.tasks import get_processor
from bert_tf.errors import DataError

from helpers import GLUE
from data_testing import FEATURES, assert_one_line_data_error, write_text

TEXT = "".join("1\tid%d\tid%d\tThe cat sat .\tA cat sat .\n" % (i, i) for i in range(50)).encode()


def _zip(data):
  buffer = io.BytesIO()
  with zipfile.ZipFile(buffer, "w") as z:
    z.writestr("train.tsv", data)
  return buffer.getvalue()


def _tar(data):
  buffer = io.BytesIO()
  with tarfile.open(fileobj=buffer, mode="w") as t:
    info = tarfile.TarInfo("train.tsv")
    info.size = len(data)
    t.addfile(info, io.BytesIO(data))
  return buffer.getvalue()


def _tfrecord(path):
  with tf.io.TFRecordWriter(path) as writer:
    for i in range(20):
      feature = {"input_ids": tf.train.Feature(int64_list=tf.train.Int64List(
          value=[101, 2000 + i, 102] + [0] * 29))}
      writer.write(tf.train.Example(features=tf.train.Features(feature=feature))
                   .SerializeToString())
  with open(path, "rb") as f:
    return f.read()


@pytest.mark.parametrize("make, looks", [
    (gzip.compress, "looks gzip-compressed; decompress it first (gunzip)"),
    (bz2.compress, "looks bzip2-compressed; decompress it first (bunzip2)"),
    (lzma.compress, "looks xz-compressed; decompress it first (unxz)"),
    (_zip, "looks like a zip archive (or an .xlsx/.docx/.ods file); extract it first (unzip)"),
    (_tar, "looks like a tar archive; extract it first (tar xf)"),
    (lambda data: data.decode().encode("utf-16-le"),
     "looks UTF-16 encoded (without a byte order mark); save it as UTF-8 text"),
])
def test_compressed_or_encoded_train_tsv_says_what_it_looks_like(tmp_path, make, looks):
  path = tmp_path / "train.tsv"
  path.write_bytes(make(TEXT))
  with pytest.raises(DataError) as e:
    get_processor("mrpc").get_train_examples(str(tmp_path))
  assert str(e.value).startswith("%s: %s" % (path, looks)), str(e.value)
  assert_one_line_data_error(e)
  with pytest.raises(DataError, match="looks"):  # the generic reader too
    generic.GenericProcessor(text_a_column=3, label_column=0).get_train_examples(str(tmp_path))


def test_binary_file_as_text(tmp_path):
  data = _tfrecord(str(tmp_path / "x.tf_record"))
  assert readers.not_text(data) == ("looks like a binary file, not text (control bytes, not "
                                    "UTF-8); pass a UTF-8 text file")
  path = write_text(str(tmp_path / "train.tsv"), "")
  with open(path, "wb") as f:
    f.write(data)
  with pytest.raises(DataError, match="train.tsv: looks like a binary file"):
    readers.read_rows(path)


@pytest.mark.parametrize("data", [
    TEXT,
    TEXT.replace(b"cat", b"c\x00a\x07t"),  # NUL and BEL inside text: the tokenizer drops them
    "caf\u00e9 na\u00efve\tr\u00e9sum\u00e9\n".encode("latin-1") * 100,  # not UTF-8, but text
    "\u4e2d\u6587\u7684\u6587\u5b57\n".encode("gbk") * 100,
    "\u4e2d\u6587\u7684\u6587\u5b57\n".encode("utf-8") * 100,
    b"", b"\x00", b"\x1f",  # too short to say
])
def test_text_is_text(data):
  assert readers.not_text(data) is None


def test_check_text_file_leaves_unreadable_files_to_the_caller(tmp_path):
  readers.check_text_file(str(tmp_path / "missing.txt"))  # the caller's open names the problem
  readers.check_text_file(str(tmp_path))  # a directory
  path = tmp_path / "a.gz"
  path.write_bytes(gzip.compress(b"text\n"))
  with pytest.raises(ValueError, match="a.gz: looks gzip-compressed"):
    readers.check_text_file(str(path), ValueError)


# ------------------------------------------------------------------ more columns than the layout


def _warnings(caplog):
  return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def _mrpc_with_stray_tabs(d):
  src = os.path.join(FEATURES, "MRPC", "data")
  for name in ("train.tsv", "dev.tsv", "test.tsv"):
    with open(os.path.join(src, name), encoding="utf-8") as f:
      lines = f.read().split("\n")
    if name == "train.tsv":
      # line 4: a tab inside sentence 1 (sentence 2 is lost); line 9: inside sentence 2;
      # line 12: a trailing tab only (nothing lost, no warning)
      lines[3] = lines[3].replace(" ", "\t", 1)
      parts = lines[8].split("\t")
      parts[4] = parts[4].replace(" ", "\t", 1)
      lines[8] = "\t".join(parts)
      lines[11] += "\t"
    write_text(os.path.join(d, name), "\n".join(lines))
  return d


def test_stray_tab_rows_warn_once_per_file_with_count_and_lines(tmp_path, caplog):
  d = _mrpc_with_stray_tabs(str(tmp_path))
  caplog.set_level(logging.WARNING)
  p = get_processor("mrpc")
  train = p.get_train_examples(d)
  p.get_dev_examples(d)
  assert len(train) == 40  # the rows still run, read by column index as the original
  assert _warnings(caplog) == [
      "%s/train.tsv: 2 row(s) have more tab-separated columns than the 5 of its header line "
      "(lines 4, 9); task mrpc reads Quality, #1 ID, #2 ID, #1 String, #2 String (with a "
      "header line), so the extra columns are ignored. A stray tab inside a text cuts it "
      "there: check those rows." % d]


def test_stray_tab_rows_in_generic_tsv(tmp_path, caplog):
  d = _mrpc_with_stray_tabs(str(tmp_path))
  caplog.set_level(logging.WARNING)
  generic.GenericProcessor(text_a_column=3, text_b_column=4, label_column=0,
                           data_dir=d).get_train_examples(d)
  assert _warnings(caplog) == [
      "%s/train.tsv: 2 row(s) have more tab-separated columns than the 5 of its header line "
      "(lines 4, 9); only columns 0, 3, 4 (0-based) are read, so the extra columns are "
      "ignored. A stray tab inside a text cuts it there: check those rows." % d]
  caplog.clear()
  # Without a header line the width is the one most rows have.
  generic.GenericProcessor(text_a_column=3, text_b_column=4, label_column=0, has_header=False,
                           labels="0,1,Quality", data_dir=d).get_train_examples(d)
  assert len(_warnings(caplog)) == 1
  assert "2 row(s) have more tab-separated columns than the 5 of most of its rows (lines 4, 9)" \
      in _warnings(caplog)[0]


def test_many_wide_rows_show_the_first_five(tmp_path, caplog):
  rows = ["sentence\tlabel"] + ["a\tb\t1" if i % 2 else "a b\t1" for i in range(20)]
  d = str(tmp_path)
  write_text(os.path.join(d, "train.tsv"), "\n".join(rows) + "\n")
  caplog.set_level(logging.WARNING)
  get_processor("sst-2").get_train_examples(d)
  assert "10 row(s) have more tab-separated columns than the 2 of its header line " \
      "(lines 3, 5, 7, 9, 11, ...)" in _warnings(caplog)[0]


def test_files_whose_rows_are_wider_than_what_is_read_do_not_warn(tmp_path, caplog):
  """MNLI has more columns than it reads (its header says so); the real GLUE files and the
  fixtures never warn."""
  caplog.set_level(logging.WARNING)
  header = ["index", "promptID", "pairID", "genre", "s1b", "s2b", "s1p", "s2p", "sentence1",
            "sentence2", "label1", "label2", "label3", "label4", "label5", "gold_label"]
  row = ["0", "1", "1e", "fiction", "(", "(", "(", "(", "A cat .", "A dog .", "neutral",
         "neutral", "entailment", "neutral", "neutral", "neutral"]
  d = str(tmp_path)
  write_text(os.path.join(d, "dev_matched.tsv"), "\t".join(header) + "\n" + "\t".join(row) + "\n")
  assert len(get_processor("mnli").get_dev_examples(d)) == 1
  for task in ("CoLA", "MRPC", "SST-2"):
    p = get_processor(task)
    for read in (p.get_train_examples, p.get_dev_examples, p.get_test_examples):
      read(os.path.join(GLUE, task))
  for task in ("CoLA", "MRPC"):
    p = get_processor(task)
    for read in (p.get_train_examples, p.get_dev_examples, p.get_test_examples):
      read(os.path.join(FEATURES, task, "data"))
  assert _warnings(caplog) == []
