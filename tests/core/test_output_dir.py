"""bert_tf.output_dir: the lock a run holds on its output_dir, the cleaning of our stale
temporary files, the run record, and runtime.check_flag (the numeric flags' one line)."""

import json
import os
import signal
import subprocess
import sys

import pytest

from bert_tf import output_dir, runtime
from helpers import ROOT


def _dead_pid():
  proc = subprocess.Popen([sys.executable, "-c", "pass"])
  proc.wait()
  return proc.pid


_HOLD = ("import sys, time; sys.path.insert(0, %r); from bert_tf import output_dir; "
         "output_dir.acquire(sys.argv[1]); print('held', flush=True); time.sleep(600)" % ROOT)


def _holder(directory):
  """A process holding directory's lock (started and waited for)."""
  proc = subprocess.Popen([sys.executable, "-c", _HOLD, directory, "--some-flag=1"],
                          stdout=subprocess.PIPE, text=True)
  assert proc.stdout.readline().strip() == "held"
  return proc


def test_second_owner_is_refused_naming_the_holder_and_sigkill_frees_the_lock(tmp_path):
  d = str(tmp_path)
  proc = _holder(d)
  try:
    with open(os.path.join(d, output_dir.LOCK_FILE)) as f:
      text = f.read()
    assert "pid: %d\n" % proc.pid in text and "command: -c %s --some-flag=1" % d in text
    with pytest.raises(ValueError) as e:
      output_dir.acquire(d)
    message = str(e.value)
    assert message.startswith("%s: output_dir is in use by another run (pid %d on " %
                              (d, proc.pid))
    assert "since 20" in message and "--some-flag=1" in message
    assert message.endswith("; wait for it to finish or stop it, or pass another --output_dir")
    assert "\n" not in message
  finally:
    proc.send_signal(signal.SIGKILL)
    proc.wait()
  # The kernel dropped the dead process's lock: the stale file is taken over.
  assert os.path.exists(os.path.join(d, output_dir.LOCK_FILE))
  lock = output_dir.acquire(d)
  with open(os.path.join(d, output_dir.LOCK_FILE)) as f:
    assert "pid: %d\n" % os.getpid() in f.read()
  lock.release()
  assert not os.path.exists(os.path.join(d, output_dir.LOCK_FILE))
  output_dir.acquire(d).release()  # and again


def test_owned_removes_the_lock_file_and_a_directory_it_created_for_a_failed_run(tmp_path):
  new = str(tmp_path / "a" / "b")
  with pytest.raises(RuntimeError):
    with output_dir.owned(new):
      assert os.path.exists(os.path.join(new, output_dir.LOCK_FILE))
      raise RuntimeError("the run failed")
  assert not os.path.exists(str(tmp_path / "a"))  # a failing run creates nothing
  with output_dir.owned(new):
    with open(os.path.join(new, "x.txt"), "w") as f:
      f.write("x")
  assert sorted(os.listdir(new)) == ["x.txt"]  # a good run keeps its files, not the lock file
  with pytest.raises(RuntimeError):
    with output_dir.owned(new):
      raise RuntimeError("a later run failed")
  assert sorted(os.listdir(new)) == ["x.txt"]  # an existing directory stays


def test_stale_temporary_files_of_ours_are_removed_and_nothing_else(tmp_path, caplog):
  d = str(tmp_path / "out")
  export_parent = str(tmp_path / "exports")
  os.makedirs(os.path.join(d, "best"))
  os.makedirs(export_parent)
  dead, live = _dead_pid(), os.getppid()
  ours = [".tmp-%d-model.ckpt-7.index" % dead, ".tmp-%d-model.ckpt-7.data-00000-of-00001" % dead,
          "checkpoint.tmp-%d" % dead, "run_config.json.tmp", "eval_results.txt.tmp",
          "test_results.tsv.tmp", ".train.tf_record.tmp-%d-0123abcd" % dead,
          "label_list.txt.tmp-%d-89abcdef" % dead, "tf_examples.tfrecord.tmp-%d" % dead,
          os.path.join("best", ".tmp-%d-model.ckpt-3.index" % dead)]
  ours_dirs = [os.path.join(d, ".export.tmp-ab_d1234"), os.path.join(d, ".export.tmp-zz9x8y7w.old"),
               os.path.join(export_parent, ".serving.tmp-k2j3h4g5")]
  users = ["notes.tmp", "my.tmp-data", "keep.txt", "model.tmp-12x", ".tmp-notes",
           "checkpoint.tmp-%d" % live, ".eval.tf_record.tmp-%d-0123abcd" % live]
  user_dirs = [os.path.join(d, "my.tmp-dir"), os.path.join(export_parent, ".other.tmp-k2j3h4g5")]
  for name in ours + users:
    open(os.path.join(d, name), "w").close()
  for path in ours_dirs + user_dirs:
    os.makedirs(os.path.join(path, "variables"))
  with caplog.at_level("INFO"):
    removed = output_dir.remove_stale_temporary_files(
        d, export_dir=os.path.join(export_parent, "serving"))
  assert sorted(removed) == sorted([os.path.join(d, n) for n in ours] + ours_dirs)
  for path in removed:
    assert not os.path.exists(path)
    assert "Removed %s, a temporary file left by an interrupted run." % path in caplog.text
  for name in users:
    assert os.path.exists(os.path.join(d, name)), name
  for path in user_dirs:
    assert os.path.isdir(path), path


def test_record_differences_and_check_resume(tmp_path):
  d = str(tmp_path)
  recorded = {"task_name": "MRPC", "max_seq_length": 128, "bert_config": {"num_hidden_layers": 12,
                                                                          "hidden_size": 768},
              "vocab_sha256": "ab", "old_only": 1}
  output_dir.write_record(d, recorded)
  with open(os.path.join(d, output_dir.RUN_RECORD)) as f:
    assert json.load(f) == recorded
  assert not os.path.exists(os.path.join(d, output_dir.RUN_RECORD + ".tmp"))
  current = {"task_name": "mrpc", "max_seq_length": 64, "bert_config": {"num_hidden_layers": 6,
                                                                        "hidden_size": 768},
             "vocab_sha256": "ab", "new_only": 2}
  keys = ("task_name", "max_seq_length", "bert_config", "vocab_sha256", "old_only", "new_only")
  assert output_dir.record_differences(recorded, current, keys) == [
      "task_name MRPC -> mrpc", "max_seq_length 128 -> 64", "bert_config.num_hidden_layers 12 -> 6"]
  lower = lambda r: dict(r, task_name=r["task_name"].lower())
  with pytest.raises(ValueError) as e:
    output_dir.check_resume(d, current, keys, checkpoint="CKPT", normalize=lower)
  assert str(e.value) == (
      "CKPT: --output_dir holds the checkpoint of a run started with other settings (then -> "
      "now: max_seq_length 128 -> 64; bert_config.num_hidden_layers 12 -> 6; recorded in %s); "
      "pass a new --output_dir to start over, the recorded settings to continue it, or "
      "--allow_resume_mismatch to continue anyway" % os.path.join(d, "run_config.json"))
  assert output_dir.check_resume(d, current, keys, allow_mismatch=True, normalize=lower) == [
      "max_seq_length 128 -> 64", "bert_config.num_hidden_layers 12 -> 6"]
  assert output_dir.check_resume(d, dict(recorded), keys) == []
  assert output_dir.check_resume(str(tmp_path / "none"), current, keys) == []  # no record


def test_file_sha256(tmp_path):
  path = str(tmp_path / "vocab.txt")
  with open(path, "w") as f:
    f.write("[PAD]\n[UNK]\n")
  import hashlib
  assert output_dir.file_sha256(path) == hashlib.sha256(b"[PAD]\n[UNK]\n").hexdigest()


@pytest.mark.parametrize("args,message", [
    (("train_batch_size", 0, dict(minimum=1)), "--train_batch_size=0: must be >= 1"),
    (("num_train_epochs", 0.0, dict(above=0, why="e.g. 3")),
     "--num_train_epochs=0.0: must be a finite number > 0; e.g. 3"),
    (("num_train_epochs", -1.0, dict(above=0)), "--num_train_epochs=-1.0: must be a finite "
     "number > 0"),
    (("learning_rate", float("inf"), dict(above=0)), "--learning_rate=inf: must be a finite "
     "number > 0"),
    (("learning_rate", float("nan"), dict(above=0)), "--learning_rate=nan: must be a finite "
     "number > 0"),
    (("warmup_proportion", 1.5, dict(minimum=0, maximum=1)),
     "--warmup_proportion=1.5: must be a finite number >= 0 and <= 1"),
    (("warmup_proportion", -0.1, dict(minimum=0, maximum=1)),
     "--warmup_proportion=-0.1: must be a finite number >= 0 and <= 1"),
])
def test_check_flag(args, message):
  name, value, kw = args
  with pytest.raises(ValueError) as e:
    runtime.check_flag(name, value, **kw)
  assert str(e.value) == message


def test_check_flag_accepts_the_bounds():
  runtime.check_flag("warmup_proportion", 0.0, minimum=0, maximum=1)
  runtime.check_flag("warmup_proportion", 1.0, minimum=0, maximum=1)
  runtime.check_flag("train_batch_size", 1, minimum=1)
  runtime.check_flag("learning_rate", 1e-9, above=0)


@pytest.mark.parametrize("options,message", [
    (dict(save_checkpoints_steps=0), "--save_checkpoints_steps=0: must be >= 1"),
    (dict(gradient_accumulation_steps=0), "--gradient_accumulation_steps=0: must be >= 1"),
    (dict(use_tpu=True, iterations_per_loop=0), "--iterations_per_loop=0: must be >= 1"),
    (dict(use_tpu=True, num_tpu_cores=0), "--num_tpu_cores=0: must be >= 1"),
    (dict(seed=-1), "--seed=-1: must be >= 0 and <= 4294967295"),
])
def test_runtime_options_check(options, message):
  with pytest.raises(ValueError) as e:
    runtime.RuntimeOptions(**options).check()
  assert str(e.value) == message
  runtime.RuntimeOptions().check()
  runtime.RuntimeOptions(iterations_per_loop=0).check()  # only used on TPU
