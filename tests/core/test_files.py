"""bert_tf.files.write_atomically: the old file or the new one, never half, nothing left over."""

import errno
import os

import pytest

from bert_tf import files


@pytest.mark.parametrize("data", ["text é\n", b"\x00\x01bytes"])
def test_writes_text_and_bytes_and_leaves_no_temporary_file(tmp_path, data):
  path = str(tmp_path / "out")
  files.write_atomically(path, data)
  with open(path, "rb") as f:
    assert f.read() == (data.encode("utf-8") if isinstance(data, str) else data)
  assert os.listdir(tmp_path) == ["out"]


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary_one(tmp_path):
  path = str(tmp_path / "predictions.json")
  files.write_atomically(path, "old\n")
  with pytest.raises(UnicodeEncodeError):
    files.write_atomically(path, "half written \ud800 then a bad character")
  with open(path) as f:
    assert f.read() == "old\n"
  assert os.listdir(tmp_path) == ["predictions.json"]


def test_a_full_disk_names_the_file_and_says_the_old_one_is_intact(tmp_path, monkeypatch):
  path = str(tmp_path / "nbest_predictions.json")
  files.write_atomically(path, "old\n")

  def full(fd):
    raise OSError(errno.ENOSPC, "No space left on device")

  monkeypatch.setattr(os, "fsync", full)
  with pytest.raises(OSError) as e:
    files.write_atomically(path, "new\n")
  assert e.value.errno == errno.ENOSPC
  assert str(e.value).startswith("[Errno 28] %s: no space left on device; the previous version "
                                 "of the file is intact" % path)
  with open(path) as f:
    assert f.read() == "old\n"
  assert os.listdir(tmp_path) == ["nbest_predictions.json"]


def test_the_temporary_name_is_one_the_next_run_cleans_up_once_its_process_is_gone(tmp_path):
  from bert_tf import output_dir
  name = os.path.basename(files.temporary_name(str(tmp_path / "predictions.json")))
  assert name == "predictions.json.tmp-%d" % os.getpid()
  assert not output_dir._is_stale_file(name)  # this process is alive
  assert output_dir._is_stale_file("predictions.json.tmp-%d" % _dead_pid())


def _dead_pid():
  import subprocess
  import sys
  proc = subprocess.Popen([sys.executable, "-c", "pass"])
  proc.wait()
  return proc.pid
