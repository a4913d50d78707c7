"""Issue 8: bad input gets one clear line, killed runs resume, checkpoints are never half-written.

Everything user-facing runs the real scripts in subprocesses, with the
environment a user has (no TF_CPP_MIN_LOG_LEVEL: the scripts' own default).

* Determinism: two `--seed=1234` runs of one tiny run_classifier command give
  bit-identical eval_results.txt, test_results.tsv and checkpoints.  The first
  of them is also the "previous good run" that every bad-input case starts from.
* Bad inputs (docs/bad_inputs.md, one parametrized case per row): exit status 1,
  exactly one `<script>: error: ...` line, last on stderr, naming the file (and
  line) and what to do, no traceback, no TensorFlow start-up chatter, and no
  file of the previous good run in output_dir created, changed or replaced.
* NaN/Inf guard: the run stops naming the step, the last good checkpoint and
  the likely causes; no checkpoint is written from the bad state.
* Crash safety: SIGKILL inside a checkpoint save (between the data and index
  renames), at the first temporary file of a later save, and at a seeded random
  moment; after each kill the newest listed checkpoint loads in full and a rerun
  resumes from it and reaches the same final global_step.  Resuming from
  model.ckpt-0 reproduces the uninterrupted run bit for bit; resuming later does
  not (the input pipeline and dropout RNG restart), which the test pins down.
* Disk full: ENOSPC injected at SaveV2 / rename / state-file write, and a real
  full tmpfs when this machine lets us mount one (else the same fault injected
  into the real script): the previous checkpoint stays intact, one line says
  "no space left".
"""
import concurrent.futures
import errno
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import tensorflow as tf

from bert_tf import checkpoints, cli
from helpers import ROOT
from e2e_testing import (CKPT, CONFIG, MRPC, NUM_STEPS, VOCAB, assert_same_tensors,
                         classifier_cmd, copy_data, copy_run, edit_line, error_line,
                         listed_checkpoints, newest_listed, pretraining_cmd, read_all_tensors,
                         read_results, run_script, script_env, snapshot,
                         write_pretraining_records)

pytestmark = pytest.mark.slow

# --------------------------------------------------------------------------- the good runs


def _good_run(directory):
  proc = run_script(classifier_cmd(directory), timeout=900)
  assert proc.returncode == 0, proc.stderr[-3000:]
  return directory, proc.stderr


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
  """Starts every independent subprocess run of this module at once, 3 at a time, so that
  they overlap with each other and with the sequential tests: {name: future}.

  The two good runs come first; each bad-input case starts on a copy of good run A."""
  base = tmp_path_factory.mktemp("runs")
  with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
    futures = {"good_a": pool.submit(_good_run, str(base / "good_a")),
               "good_b": pool.submit(_good_run, str(base / "good_b")),
               "nan": pool.submit(_nan_run, str(base / "nan")),
               "poisoned": pool.submit(_poisoned_run, str(base / "poisoned")),
               "non_utf8": pool.submit(_non_utf8_run, str(base / "non_utf8"))}
    for name in sorted(CASES):
      futures["case:" + name] = pool.submit(_case_run, name, str(base / "bad" / name),
                                            futures["good_a"])
    yield futures


@pytest.fixture(scope="module")
def good_runs(runs):
  """The same seeded command twice: (dir A, dir B, stderr A)."""
  (a, log), (b, _) = runs["good_a"].result(), runs["good_b"].result()
  return a, b, log


def test_seeded_runs_are_bit_identical(good_runs):
  a, b, _ = good_runs
  for name in ("eval_results.txt", "test_results.tsv"):
    with open(os.path.join(a, name)) as fa, open(os.path.join(b, name)) as fb:
      assert fa.read() == fb.read(), name
  assert listed_checkpoints(a) == listed_checkpoints(b) == ["model.ckpt-%d" % s for s in (2, 4, 6, 8, 10)]
  for prefix in listed_checkpoints(a):
    assert_same_tensors(read_all_tensors(os.path.join(a, prefix)), read_all_tensors(os.path.join(b, prefix)))


def test_init_checkpoint_given_as_index_file_trains(good_runs):
  a, _, log = good_runs
  assert log.count("*INIT_FROM_CKPT*") == 39  # every bert/* variable of the classifier
  assert int(read_all_tensors(os.path.join(a, "model.ckpt-10"))["global_step"]) == NUM_STEPS
  results = read_results(os.path.join(a, "eval_results.txt"))
  assert results["global_step"] == str(NUM_STEPS)


# --------------------------------------------------------------------------- SIGKILL + resume


def _start(cmd, log_path, fault=None):
  log = open(log_path, "w")
  if fault:
    cmd = [sys.executable, "-c", FAULT_WRAPPER] + cmd[1:]
  proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log, cwd=ROOT,
                          env=script_env(**({"FAULT": fault} if fault else {})))
  log.close()
  return proc


def _wait_for(predicate, proc, timeout=600, interval=0.01):
  deadline = time.time() + timeout
  while time.time() < deadline:
    if predicate():
      return True
    if proc.poll() is not None:
      return predicate()
    time.sleep(interval)
  raise AssertionError("timed out")


def _kill(proc):
  if proc.poll() is None:
    proc.send_signal(signal.SIGKILL)
  proc.wait()
  return proc.returncode == -signal.SIGKILL


def _restored_from(log_path):
  m = re.search(r"Restoring parameters from (\S+) \(global_step = (\d+)\)", open(log_path).read())
  return (m.group(1), int(m.group(2))) if m else (None, 0)


def test_sigkill_at_random_moments_then_resume(good_runs, tmp_path):
  good, _, _ = good_runs
  rng = random.Random(8)  # fixes which save and which moment get the kills
  out = str(tmp_path / "out")
  cmd = classifier_cmd(out, do_eval="false", do_predict="false")
  logs = [str(tmp_path / ("run%d.log" % i)) for i in range(4)]
  kills = []

  # 1. Killed inside the save of model.ckpt-2, after its data file was renamed into place
  #    and before its index: the newest listed checkpoint is model.ckpt-0.
  proc = _start(cmd, logs[0], fault="kill:model.ckpt-2.index")
  proc.wait(timeout=600)
  assert proc.returncode == -signal.SIGKILL, open(logs[0]).read()[-3000:]
  kills.append(("inside save of model.ckpt-2", True))
  assert newest_listed(out) == 0
  assert os.path.exists(os.path.join(out, "model.ckpt-2.data-00000-of-00001"))
  assert not os.path.exists(os.path.join(out, "model.ckpt-2.index"))

  # 2. Rerun: resumes from model.ckpt-0, so up to its next kill it repeats the uninterrupted
  #    run bit for bit.  Killed at the first temporary file of a later save.
  save_step = rng.choice([6, 8])
  proc = _start(cmd, logs[1])
  tmp_mark = ".tmp-%d-model.ckpt-%d." % (proc.pid, save_step)
  done_mark = os.path.join(out, "model.ckpt-%d.index" % save_step)
  _wait_for(lambda: os.path.exists(os.path.join(out, "model.ckpt-%d.index" % (save_step - 2))),
            proc)
  mid_save = _wait_for(lambda: any(n.startswith(tmp_mark) for n in os.listdir(out)) or
                       os.path.exists(done_mark), proc, interval=0.0005)
  mid_save = mid_save and not os.path.exists(done_mark)
  assert _kill(proc), open(logs[1]).read()[-3000:]
  kills.append(("at the first temporary file of model.ckpt-%d" % save_step, mid_save))
  assert _restored_from(logs[1]) == (os.path.join(out, "model.ckpt-0"), 0)
  resumed = newest_listed(out)
  assert resumed >= save_step - 2
  for step in (2, 4):
    assert_same_tensors(read_all_tensors(os.path.join(out, "model.ckpt-%d" % step)),
                         read_all_tensors(os.path.join(good, "model.ckpt-%d" % step)))

  # 3. Rerun, killed at a random moment after its first new checkpoint.
  proc = _start(cmd, logs[2])
  _wait_for(lambda: os.path.exists(os.path.join(out, "model.ckpt-%d.index" % (resumed + 2))),
            proc)
  time.sleep(rng.uniform(0.0, 0.05))
  killed = _kill(proc)
  assert killed or proc.returncode == 0, open(logs[2]).read()[-3000:]
  kills.append(("random moment after model.ckpt-%d" % (resumed + 2), None))
  assert _restored_from(logs[2]) == (os.path.join(out, "model.ckpt-%d" % resumed), resumed)
  resumed = newest_listed(out)

  # 4. Rerun to the end.
  proc = _start(cmd, logs[3])
  proc.wait(timeout=600)
  log = open(logs[3]).read()
  assert proc.returncode == 0, log[-3000:]
  if resumed < NUM_STEPS:
    assert _restored_from(logs[3]) == (os.path.join(out, "model.ckpt-%d" % resumed), resumed)
    assert not [f for f in os.listdir(out) if ".tmp-" in f]  # leftovers of the kills removed
  else:
    assert "Skipping training since max_steps has already saved." in log
  assert newest_listed(out) == NUM_STEPS
  for prefix in listed_checkpoints(out):
    read_all_tensors(os.path.join(out, prefix))
  assert any(mid for _, mid in kills), kills
  # After a resume from step >= 1 the input pipeline (shuffle position) and the dropout
  # RNG start over, so the later batches and masks differ from the uninterrupted run:
  final, reference = read_all_tensors(os.path.join(out, "model.ckpt-10")), read_all_tensors(
      os.path.join(good, "model.ckpt-10"))
  assert int(final["global_step"]) == int(reference["global_step"]) == NUM_STEPS
  assert not all(np.array_equal(final[n], reference[n]) for n in reference if n != "global_step")


# --------------------------------------------------------------------------- disk full


def _enospc_cases(monkeypatch, where):
  if where == "savev2":
    def save_v2(**kw):
      open(kw["prefix"] + ".data-00000-of-00001", "wb").write(b"partial")
      raise tf.errors.ResourceExhaustedError(
          None, None, "%s.data-00000-of-00001; No space left on device" % kw["prefix"])
    monkeypatch.setattr(tf.raw_ops, "SaveV2", save_v2)
  elif where == "rename":
    real = os.replace

    def replace(src, dst):
      if ".tmp-" in src and dst.endswith(".index"):
        raise OSError(errno.ENOSPC, "No space left on device", dst)
      return real(src, dst)
    monkeypatch.setattr(os, "replace", replace)
  elif where == "state_file":
    real = os.fsync

    def fsync(fd):
      if os.readlink("/proc/self/fd/%d" % fd).rsplit("/", 1)[-1].startswith("checkpoint.tmp-"):
        raise OSError(errno.ENOSPC, "No space left on device")
      return real(fd)
    monkeypatch.setattr(os, "fsync", fsync)


@pytest.mark.parametrize("where", ["savev2", "rename", "state_file"])
def test_disk_full_during_save_keeps_previous_checkpoint(tmp_path, monkeypatch, where):
  d = str(tmp_path)
  checkpoints.save_checkpoint(d, 1, _small_vars(1.0))
  before = snapshot(d)
  with monkeypatch.context() as m:
    _enospc_cases(m, where)
    with pytest.raises(OSError) as e:
      checkpoints.save_checkpoint(d, 2, _small_vars(2.0))
  assert e.value.errno == errno.ENOSPC
  line = cli.error_message(e.value)
  assert "\n" not in line and "no space left on device" in line, line
  assert "previous" in line and "intact" in line, line
  after = snapshot(d)
  if where == "state_file":  # the bundle was complete; only the state file write failed
    after = {p: v for p, v in after.items() if not p.startswith("model.ckpt-2.")}
  assert after == before
  assert newest_listed(d) == 1
  np.testing.assert_array_equal(read_all_tensors(os.path.join(d, "model.ckpt-1"))["bert/a"],
                                np.ones([3, 4], np.float32))


FAULT_WRAPPER = textwrap.dedent("""
    # Runs a script under `runpy` with one fault at the file-write boundary:
    # FAULT=kill:<basename>   SIGKILL itself when <basename> is about to be renamed into place
    # FAULT=enospc:<basename> raise OSError(ENOSPC) there instead (a disk that filled up)
    import errno, os, runpy, signal, sys
    kind, target = os.environ["FAULT"].split(":", 1)
    real_replace = os.replace
    def replace(src, dst, *args, **kwargs):
      if ".tmp-" in os.path.basename(src) and os.path.basename(dst) == target:
        if kind == "kill":
          os.kill(os.getpid(), signal.SIGKILL)
        raise OSError(errno.ENOSPC, "No space left on device", dst)
      return real_replace(src, dst, *args, **kwargs)
    os.replace = replace
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name="__main__")
""")


def _mount_tmpfs(path, megabytes):
  os.makedirs(path, exist_ok=True)
  if os.geteuid() != 0 or not shutil.which("mount"):
    return False
  proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm" % megabytes, "tmpfs", path],
                        capture_output=True)
  return proc.returncode == 0


def test_disk_full_in_a_real_run_is_one_line_and_keeps_previous_checkpoint(tmp_path):
  """A 30 MB tmpfs holds model.ckpt-0 and -1 (12 MB each), not -2.  Without permission to
  mount, the same ENOSPC is injected where model.ckpt-2 is written."""
  mount = str(tmp_path / "small_disk")
  mounted = _mount_tmpfs(mount, 30)
  out = os.path.join(mount, "out")
  cmd = classifier_cmd(out, save_checkpoints_steps=1, num_train_epochs=1.0, do_eval="false",
                       do_predict="false")
  try:
    if mounted:
      proc = run_script(cmd)
    else:
      proc = subprocess.run([sys.executable, "-c", FAULT_WRAPPER] + cmd[1:], capture_output=True,
                            text=True, cwd=ROOT, timeout=600,
                            env=script_env(FAULT="enospc:model.ckpt-2.data-00000-of-00001"))
    assert proc.returncode == 1, proc.stderr[-3000:]
    message = error_line(proc, "run_classifier.py")
    assert "no space left on device" in message.lower(), message
    assert message.startswith("%s/model.ckpt-2: no space left on device while writing the "
                              "checkpoint; the previous checkpoint is intact" % out), message
    assert newest_listed(out) == 1
    assert not [f for f in os.listdir(out) if f.startswith((".tmp-", "model.ckpt-2"))]
  finally:
    if mounted:
      subprocess.run(["umount", "-l", mount], capture_output=True)


# --------------------------------------------------------------------------- crash points


class _Killed(BaseException):
  """Stands for SIGKILL in-process: nothing catches it, nothing is cleaned up."""


def _die_at(monkeypatch, where):
  """Makes the next save die at `where` ("after_savev2", "between_renames",
  "before_state", "before_cleanup")."""
  real_replace, real_remove = os.replace, os.remove

  def replace(src, dst):
    base = os.path.basename(dst)
    if where == "after_savev2" and ".tmp-" in src and ".data-" in base:
      raise _Killed()
    if where == "between_renames" and ".tmp-" in src and base.endswith(".index"):
      raise _Killed()
    if where == "before_state" and base == "checkpoint":
      raise _Killed()
    return real_replace(src, dst)

  def remove(path):
    if where == "before_cleanup" and "model.ckpt-1." in path:
      raise _Killed()
    return real_remove(path)

  monkeypatch.setattr(os, "replace", replace)
  monkeypatch.setattr(os, "remove", remove)


@pytest.mark.parametrize("where", ["after_savev2", "between_renames", "before_state",
                                   "before_cleanup"])
def test_death_inside_a_save_leaves_the_newest_listed_checkpoint_whole(tmp_path, monkeypatch,
                                                                       where):
  d = str(tmp_path)
  for step in (1, 2):
    checkpoints.save_checkpoint(d, step, _small_vars(step), max_to_keep=2)
  # model.ckpt-3 exists already (a run killed after its index rename, before the state
  # file): the new save must replace it without ever pairing the old index with new data.
  checkpoints.write_bundle(os.path.join(d, "model.ckpt-3"),
                           {"bert/a": np.zeros([3, 4], np.float32)})
  with monkeypatch.context() as m:
    _die_at(m, where)
    with pytest.raises(_Killed):
      checkpoints.save_checkpoint(d, 3, _small_vars(3.0), max_to_keep=2)
  newest = newest_listed(d)
  assert newest == (3 if where == "before_cleanup" else 2)
  values = read_all_tensors(os.path.join(d, "model.ckpt-%d" % newest))
  np.testing.assert_array_equal(values["bert/a"], np.full([3, 4], float(newest), np.float32))
  if os.path.exists(os.path.join(d, "model.ckpt-3.index")):
    read_all_tensors(os.path.join(d, "model.ckpt-3"))  # whatever index exists reads in full
  # the rerun saves the same step again and everything is consistent
  checkpoints.save_checkpoint(d, 3, _small_vars(3.0), max_to_keep=2)
  assert newest_listed(d) == 3 and listed_checkpoints(d) == ["model.ckpt-2", "model.ckpt-3"]
  np.testing.assert_array_equal(read_all_tensors(os.path.join(d, "model.ckpt-3"))["bert/b"],
                                np.arange(5, dtype=np.float32) * 3)


def test_stale_temporary_files_of_dead_processes_are_removed(tmp_path):
  d = str(tmp_path)
  dead = subprocess.Popen([sys.executable, "-c", "pass"])
  dead.wait()
  stale = [os.path.join(d, ".tmp-%d-model.ckpt-7.data-00000-of-00001" % dead.pid),
           os.path.join(d, ".tmp-%d-model.ckpt-7.index" % dead.pid),
           os.path.join(d, "checkpoint.tmp-%d" % dead.pid)]
  alive = os.path.join(d, ".tmp-%d-model.ckpt-9.index" % os.getppid())
  for p in stale + [alive]:
    open(p, "w").close()
  checkpoints.save_checkpoint(d, 8, _small_vars())
  assert not any(os.path.exists(p) for p in stale)
  assert os.path.exists(alive)  # a live process's save in progress is left alone


# --------------------------------------------------------------------------- NaN / Inf


def _all_finite(prefix):
  return all(np.all(np.isfinite(v)) for v in read_all_tensors(prefix).values() if v.dtype.kind == "f")


def _nan_run(out):
  return out, run_script(classifier_cmd(out, learning_rate="1e10", save_checkpoints_steps=1,
                                  num_train_epochs=1.0, do_eval="false", do_predict="false"))


def test_nan_loss_stops_naming_step_and_last_good_checkpoint(runs):
  out, proc = runs["nan"].result()
  assert proc.returncode == 1, proc.stderr[-3000:]
  message = error_line(proc, "run_classifier.py")
  m = re.search(r"(?:loss is (?:nan|inf|-inf)|variable \S+ is NaN/Inf) at step (\d+);", message)
  assert m, message
  bad_step = int(m.group(1))
  newest = newest_listed(out)
  assert newest == bad_step - 1
  assert "Last good checkpoint: %s. " % os.path.join(out, "model.ckpt-%d" % newest) in message
  assert "Likely causes: learning rate too high" in message
  for prefix in listed_checkpoints(out):
    assert _all_finite(os.path.join(out, prefix)), prefix
  written = [f for f in os.listdir(out) if f.startswith("model.ckpt-")]
  assert all(int(re.match(r"model\.ckpt-(\d+)\.", f).group(1)) < bad_step for f in written)


def _poisoned_copy(directory, name="bert/pooler/dense/kernel"):
  values = read_all_tensors(CKPT)
  values[name] = values[name].copy()
  values[name][0, 0] = np.nan
  os.makedirs(directory, exist_ok=True)
  prefix = os.path.join(directory, "bert_model.ckpt")
  checkpoints.write_bundle(prefix, values)
  return prefix


def _poisoned_run(d):
  poisoned = _poisoned_copy(os.path.join(d, "poisoned"))
  out = os.path.join(d, "out")
  return poisoned, out, run_script(classifier_cmd(out, init_checkpoint=poisoned, do_eval="false",
                                            do_predict="false"))


def test_poisoned_init_checkpoint_is_refused_before_any_checkpoint(runs):
  poisoned, out, proc = runs["poisoned"].result()
  assert proc.returncode == 1, proc.stderr[-3000:]
  message = error_line(proc, "run_classifier.py")
  assert message.startswith("%s: variable bert/pooler/dense/kernel contains NaN/Inf values; "
                            "this checkpoint is damaged or was saved from a diverged run, use "
                            "an earlier checkpoint" % poisoned), message
  assert not os.path.exists(out)  # no checkpoint, no file: a failing run creates nothing


def _small_vars(value=1.0):
  return {"bert/a": tf.Variable(np.full([3, 4], value, np.float32)),
          "bert/b": tf.Variable(np.arange(5, dtype=np.float32) * value)}


def test_save_refuses_nan_weights_and_keeps_last_good(tmp_path):
  d = str(tmp_path)
  good = _small_vars()
  checkpoints.save_checkpoint(d, 3, good)
  before = snapshot(d)
  bad = _small_vars()
  bad["bert/b"].assign([0, 1, np.inf, 3, 4])
  with pytest.raises(checkpoints.NonFiniteError) as e:
    checkpoints.save_checkpoint(d, 4, bad)
  assert str(e.value) == (
      "variable bert/b is NaN/Inf at step 4; not writing %s/model.ckpt-4 from this state. Last "
      "good checkpoint: %s/model.ckpt-3. Likely causes: learning rate too high, NaN/Inf in "
      "--init_checkpoint, or vocab.txt / bert_config.json vocab_size mismatch with the "
      "checkpoint." % (d, d))
  assert snapshot(d) == before
  assert newest_listed(d) == 3


def test_loading_nan_checkpoint_assigns_nothing(tmp_path):
  poisoned = _poisoned_copy(str(tmp_path))
  from bert_tf import modeling
  from bert_tf.configuration import BertConfig
  model = modeling.BertModel(BertConfig.from_json_file(CONFIG))
  model.build()
  variables = model.original_variables()
  before = {n: v.numpy().copy() for n, v in variables.items()}
  with pytest.raises(checkpoints.NonFiniteError, match="bert/pooler/dense/kernel contains NaN"):
    checkpoints.init_from_checkpoint(variables, poisoned, log=False)
  for n, v in variables.items():
    np.testing.assert_array_equal(v.numpy(), before[n])


# --------------------------------------------------------------------------- bad inputs


def _root_without_read_override():
  """As root, chmod 000 does not stop reads.  setpriv drops CAP_DAC_OVERRIDE and
  CAP_DAC_READ_SEARCH, so the permission bits apply to the (still root) process."""
  if os.geteuid() != 0:
    return []
  caps = "-dac_override,-dac_read_search"
  prefix = ["setpriv", "--inh-caps=" + caps, "--bounding-set=" + caps, "--"]
  probe = subprocess.run(prefix + ["true"], capture_output=True)
  assert probe.returncode == 0, "running as root and cannot drop CAP_DAC_OVERRIDE: %s" % (
      probe.stderr.decode(errors="replace"))
  return prefix


# Each case: setup(case_dir, out) -> (command, the message fragments, the directory that must
# stay as it was).  `out` is a copy of the previous good run's output_dir.


def _case_missing_data_dir(d, out):
  missing = os.path.join(d, "no_such_dir")
  return (classifier_cmd(out, data_dir=missing),
          ["%s/train.tsv: --data_dir does not exist; --data_dir must contain "
           "train.tsv/dev.tsv/test.tsv for task mrpc" % missing], out)


def _case_missing_train(d, out):
  data = copy_data(os.path.join(d, "data"))
  os.remove(os.path.join(data, "train.tsv"))
  return (classifier_cmd(out, data_dir=data),
          ["%s/train.tsv: file not found; --data_dir must contain train.tsv/dev.tsv/test.tsv "
           "for task mrpc" % data], out)


def _case_empty_train(d, out):
  data = copy_data(os.path.join(d, "data"))
  open(os.path.join(data, "train.tsv"), "w").close()
  return (classifier_cmd(out, data_dir=data),
          ["%s/train.tsv: file is empty; expected tab-separated rows" % data], out)


def _case_unreadable_train(d, out):
  data = copy_data(os.path.join(d, "data"))
  os.chmod(os.path.join(data, "train.tsv"), 0)
  return (_root_without_read_override() + classifier_cmd(out, data_dir=data),
          ["%s/train.tsv: cannot read the file (Permission denied)" % data], out)


def _case_directory_as_train(d, out):
  data = copy_data(os.path.join(d, "data"))
  os.remove(os.path.join(data, "train.tsv"))
  os.mkdir(os.path.join(data, "train.tsv"))
  return (classifier_cmd(out, data_dir=data),
          ["%s/train.tsv: is a directory" % data], out)


def _case_short_row_train(d, out):
  data = copy_data(os.path.join(d, "data"))
  edit_line(os.path.join(data, "train.tsv"), 4, lambda l: b"\t".join(l.split(b"\t")[:2]))
  return (classifier_cmd(out, data_dir=data),
          ["%s/train.tsv line 4: expected at least 5 tab-separated columns, found 2; task mrpc "
           "expects Quality, #1 ID, #2 ID, #1 String, #2 String" % data], out)


def _case_short_row_dev(d, out):
  data = copy_data(os.path.join(d, "data"))
  edit_line(os.path.join(data, "dev.tsv"), 6, lambda l: b"\t".join(l.split(b"\t")[:3]))
  return (classifier_cmd(out, data_dir=data),
          ["%s/dev.tsv line 6: expected at least 5 tab-separated columns, found 3" % data], out)


def _case_bad_label_train(d, out):
  data = copy_data(os.path.join(d, "data"))
  edit_line(os.path.join(data, "train.tsv"), 3, lambda l: b"2" + l[1:])
  return (classifier_cmd(out, data_dir=data),
          ["%s/train.tsv line 3: label '2' is not in the label list ['0', '1']; fix the row"
           % data], out)


def _case_bad_label_dev(d, out):
  data = copy_data(os.path.join(d, "data"))
  edit_line(os.path.join(data, "dev.tsv"), 9, lambda l: b"yes" + l[1:])
  return (classifier_cmd(out, data_dir=data),
          ["%s/dev.tsv line 9: label 'yes' is not in the label list ['0', '1']" % data], out)


def _case_config_not_json(d, out):
  config = os.path.join(d, "bert_config.json")
  with open(config, "w") as f:
    f.write('{"vocab_size": 30522,\n "hidden_size": 32\n')
  return (classifier_cmd(out, bert_config_file=config),
          ["%s: not valid JSON (line 3 column 1:" % config], out)


def _case_config_no_vocab_size(d, out):
  config = os.path.join(d, "bert_config.json")
  obj = json.load(open(CONFIG))
  del obj["vocab_size"]
  json.dump(obj, open(config, "w"))
  return (classifier_cmd(out, bert_config_file=config),
          ['%s: missing required key "vocab_size" (it must equal the number of lines of '
           'vocab.txt)' % config], out)


def _longer_vocab(d):
  """A copy of the tiny vocab with 10 tokens more than its bert_config's vocab_size."""
  vocab = os.path.join(d, "vocab.txt")
  shutil.copy(VOCAB, vocab)
  with open(vocab, "a", encoding="utf-8") as f:
    f.write("".join("[extra%d]\n" % i for i in range(10)))
  return vocab


def _case_vocab_too_long(d, out):
  vocab = _longer_vocab(d)
  return (classifier_cmd(out, vocab_file=vocab),
          ["%s has 30532 tokens but %s says vocab_size = 30522: ids past 30521 would index "
           "outside the embedding table" % (vocab, CONFIG)], out)


def _case_vocab_missing(d, out):
  vocab = os.path.join(d, "nowhere", "vocab.txt")
  return (classifier_cmd(out, vocab_file=vocab), ["%s: vocab file not found" % vocab], out)


def _case_lower_case_contradiction(d, out):
  init = os.path.join(d, "uncased_L-12_H-768_A-12", "bert_model.ckpt")
  return (classifier_cmd(out, init_checkpoint=init, do_lower_case="False"),
          ["You passed in `--do_lower_case=False` with `--init_checkpoint=%s`. However, "
           "`uncased_L-12_H-768_A-12` seems to be a lowercased model, so you should pass in "
           "`--do_lower_case=True`" % init], out)


def _case_init_checkpoint_missing(d, out):
  init = os.path.join(d, "nowhere", "bert_model.ckpt")
  return (classifier_cmd(out, init_checkpoint=init),
          ["%s: checkpoint not found (expected %s.index and %s.data-00000-of-00001); pass the "
           "prefix" % (init, init, init)], out)


def _case_shape_mismatch(d, out):
  config = os.path.join(d, "bert_config.json")
  obj = json.load(open(CONFIG))
  obj["intermediate_size"] = 128
  json.dump(obj, open(config, "w"))
  return (classifier_cmd(out, bert_config_file=config),
          ["%s: variable bert/encoder/layer_0/intermediate/dense/kernel has shape [32, 64] in "
           "the checkpoint but the model (bert_config.json) expects [32, 128]" % CKPT], out)


def _case_seq_too_long(d, out):
  return (classifier_cmd(out, max_seq_length=65),
          ["Cannot use sequence length 65 because the BERT model was only trained up to "
           "sequence length 64"], out)


def _case_unknown_task(d, out):
  return classifier_cmd(out, task_name="nosuchtask"), ["Task not found: nosuchtask"], out


def _case_output_dir_under_file(d, out):
  blocker = os.path.join(d, "a_file")
  with open(blocker, "w") as f:
    f.write("not a directory\n")
  target = os.path.join(blocker, "out")
  return (classifier_cmd(target),
          ["%s: cannot create output_dir (Not a directory)" % target], d)


def _case_empty_pretraining_text(d, out):
  text = os.path.join(d, "empty.txt")
  open(text, "w").close()
  cmd = [sys.executable, os.path.join(ROOT, "create_pretraining_data.py"),
         "--input_file=%s" % text, "--output_file=%s" % os.path.join(out, "tf_examples.tfrecord"),
         "--vocab_file=%s" % VOCAB]
  return cmd, ["no documents in %s (every line is blank or tokenizes to nothing)" % text], out


def _case_pretraining_seq_mismatch(d, out):
  records = os.path.join(d, "tf_examples.tfrecord")
  write_pretraining_records(records)
  return (pretraining_cmd(out, records, max_seq_length=32),
          ["%s: records have input_ids of length 64 but --max_seq_length=32; pass the value "
           "used by create_pretraining_data.py" % records], out)


def _case_pretraining_predictions_mismatch(d, out):
  records = os.path.join(d, "tf_examples.tfrecord")
  write_pretraining_records(records)
  return (pretraining_cmd(out, records, max_predictions_per_seq=20),
          ["%s: records have masked_lm_positions of length 10 but --max_predictions_per_seq=20"
           % records], out)


def _script(name, **flags):
  return [sys.executable, os.path.join(ROOT, name)] + [
      "--%s=%s" % (k, v) for k, v in flags.items() if v is not None]


def _extract_cmd(d, out, **overrides):
  flags = {"input_file": os.path.join(d, "input.txt"),
           "output_file": os.path.join(out, "features.jsonl"), "vocab_file": VOCAB,
           "bert_config_file": CONFIG, "init_checkpoint": CKPT, "max_seq_length": 32,
           "layers": "-1,-2"}
  with open(flags["input_file"], "w", encoding="utf-8") as f:
    f.write("the cat sat on the mat\nhello world ||| second text\n")
  flags.update(overrides)
  return _script("extract_features.py", **flags)


def _case_extract_input_missing(d, out):
  missing = os.path.join(d, "nowhere.txt")
  return (_extract_cmd(d, out, input_file=missing),
          ["%s: input file not found; pass --input_file with one text per line" % missing], out)


def _case_extract_input_empty(d, out):
  empty = os.path.join(d, "empty.txt")
  open(empty, "w").close()
  return (_extract_cmd(d, out, input_file=empty),
          ["%s: file is empty, no text to extract features for" % empty], out)


def _case_extract_layers_out_of_range(d, out):
  return (_extract_cmd(d, out, layers="-1,-3"),
          ["--layers index -3 is out of range for a model with 2 layers (use -2..1"], out)


def _case_extract_init_checkpoint_missing(d, out):
  init = os.path.join(d, "nowhere", "bert_model.ckpt")
  return (_extract_cmd(d, out, init_checkpoint=init),
          ["%s: checkpoint not found (expected %s.index" % (init, init)], out)


def _export_cmd(out, **overrides):
  flags = {"bert_config_file": CONFIG, "vocab_file": VOCAB, "init_checkpoint": CKPT,
           "export_dir": os.path.join(out, "export")}
  flags.update(overrides)
  return _script("export_model.py", **flags)


def _case_export_init_checkpoint_missing(d, out):
  init = os.path.join(d, "nowhere", "bert_model.ckpt")
  return (_export_cmd(out, init_checkpoint=init),
          ["%s: checkpoint not found (expected %s.index" % (init, init)], out)


def _case_export_dir_under_a_file(d, out):
  blocked = os.path.join(out, "eval_results.txt", "export")
  return (_export_cmd(out, export_dir=blocked),
          ["%s: cannot create the export directory (%s is a file, not a directory)" %
           (blocked, os.path.join(out, "eval_results.txt"))], out)


def _case_export_classifier_without_labels(d, out):
  return (_export_cmd(out, format="classifier", init_checkpoint=os.path.join(out, "model.ckpt-10"),
                      max_seq_length=32),
          ["--label_list is required with --format=classifier (or pass --is_regression)"], out)


def _case_export_vocab_longer_than_vocab_size(d, out):
  vocab = _longer_vocab(d)
  return (_export_cmd(out, vocab_file=vocab),
          ["%s has 30532 tokens but %s says vocab_size = 30522" % (vocab, CONFIG)], out)


def _case_predict_input_missing(d, out):
  missing = os.path.join(d, "nowhere.txt")
  return (_script("predict.py", output_dir=out, input_file=missing),
          ["%s: input file not found; pass a UTF-8 text file with one text per line" % missing],
          out)


def _case_predict_output_dir_without_checkpoint(d, out):
  empty = os.path.join(d, "empty_run")
  os.mkdir(empty)
  with open(os.path.join(d, "input.txt"), "w") as f:
    f.write("a sentence\tanother sentence\n")
  return (_script("predict.py", output_dir=empty, input_file=os.path.join(d, "input.txt")),
          ["%s: no checkpoint (model.ckpt-N) in this directory; fine-tune first" % empty], out)


def _case_predict_saved_model_missing(d, out):
  missing = os.path.join(d, "no_saved_model")
  return (_script("predict.py", saved_model_dir=missing),
          ["%s: not a SavedModel directory (no saved_model.pb)" % missing], out)


def _fill_mask_cmd(**overrides):
  flags = {"bert_config_file": CONFIG, "vocab_file": VOCAB, "init_checkpoint": CKPT,
           "max_seq_length": 32, "text": "the cat [MASK] on the mat"}
  flags.update(overrides)
  return _script("fill_mask.py", **flags)


def _case_fill_mask_checkpoint_without_mlm_head(d, out):
  fine_tuned = os.path.join(out, "model.ckpt-10")
  return (_fill_mask_cmd(init_checkpoint=fine_tuned),
          ["%s: checkpoint has no masked-LM head" % fine_tuned], out)


def _case_fill_mask_text_without_mask(d, out):
  return (_fill_mask_cmd(text="the cat sat on the mat"),
          ['no [MASK] in the text; write the literal upper-case [MASK]'], out)


def _tfhub_cmd(out, handle):
  flags = {"task_name": "MRPC", "data_dir": MRPC, "bert_hub_module_handle": handle,
           "output_dir": out, "max_seq_length": 32, "train_batch_size": 8,
           "do_train": "true", "do_eval": "true"}
  return _script("run_classifier_with_tfhub.py", **flags)


def _case_tfhub_module_missing(d, out):
  missing = os.path.join(d, "no_module")
  return _tfhub_cmd(out, missing), ["%s: hub module directory not found" % missing], out


def _case_tfhub_not_a_module(d, out):
  empty = os.path.join(d, "empty_module")
  os.mkdir(empty)
  return (_tfhub_cmd(out, empty),
          ["%s: no saved_model.pb, tfhub_module.pb or keras-hub preset found" % empty], out)


CASES = {
    "missing_data_dir": _case_missing_data_dir,
    "missing_train_tsv": _case_missing_train,
    "empty_train_tsv": _case_empty_train,
    "unreadable_train_tsv": _case_unreadable_train,
    "directory_as_train_tsv": _case_directory_as_train,
    "short_row_train_tsv": _case_short_row_train,
    "short_row_dev_tsv": _case_short_row_dev,
    "bad_label_train_tsv": _case_bad_label_train,
    "bad_label_dev_tsv": _case_bad_label_dev,
    "bert_config_not_json": _case_config_not_json,
    "bert_config_without_vocab_size": _case_config_no_vocab_size,
    "vocab_longer_than_vocab_size": _case_vocab_too_long,
    "vocab_file_missing": _case_vocab_missing,
    "do_lower_case_contradicts_checkpoint": _case_lower_case_contradiction,
    "init_checkpoint_missing": _case_init_checkpoint_missing,
    "checkpoint_shape_mismatch": _case_shape_mismatch,
    "max_seq_length_too_long": _case_seq_too_long,
    "unknown_task": _case_unknown_task,
    "output_dir_under_a_file": _case_output_dir_under_file,
    "create_pretraining_data_empty_input": _case_empty_pretraining_text,
    "run_pretraining_seq_length_mismatch": _case_pretraining_seq_mismatch,
    "run_pretraining_predictions_mismatch": _case_pretraining_predictions_mismatch,
    "extract_features_input_missing": _case_extract_input_missing,
    "extract_features_input_empty": _case_extract_input_empty,
    "extract_features_layers_out_of_range": _case_extract_layers_out_of_range,
    "extract_features_init_checkpoint_missing": _case_extract_init_checkpoint_missing,
    "export_model_init_checkpoint_missing": _case_export_init_checkpoint_missing,
    "export_model_export_dir_under_a_file": _case_export_dir_under_a_file,
    "export_model_classifier_without_label_list": _case_export_classifier_without_labels,
    "export_model_vocab_longer_than_vocab_size": _case_export_vocab_longer_than_vocab_size,
    "predict_input_file_missing": _case_predict_input_missing,
    "predict_output_dir_without_checkpoint": _case_predict_output_dir_without_checkpoint,
    "predict_saved_model_missing": _case_predict_saved_model_missing,
    "fill_mask_checkpoint_without_mlm_head": _case_fill_mask_checkpoint_without_mlm_head,
    "fill_mask_text_without_mask": _case_fill_mask_text_without_mask,
    "run_classifier_with_tfhub_module_missing": _case_tfhub_module_missing,
    "run_classifier_with_tfhub_not_a_module": _case_tfhub_not_a_module,
}


def _case_run(name, d, good_future):
  """One case on a copy of the good run: (proc, expected, before, after, script)."""
  good, _ = good_future.result()
  out = os.path.join(d, "out")
  copy_run(good, out)
  cmd, expected, watched = CASES[name](d, out)
  before = snapshot(watched)
  proc = run_script(cmd, timeout=600)
  script = os.path.basename(next(c for c in cmd if c.endswith(".py") and c.startswith(ROOT)))
  return proc, expected, before, snapshot(watched), script


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_is_one_line_and_touches_nothing(runs, name):
  proc, expected, before, after, script = runs["case:" + name].result()
  assert proc.returncode == 1, "exit status %d\n%s" % (proc.returncode, proc.stderr[-3000:])
  message = error_line(proc, script)
  for fragment in expected:
    assert fragment in message, "expected %r in %r" % (fragment, message)
  changed = sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))
  assert not changed, "files created, changed or replaced in output_dir: %s" % changed


def _non_utf8_run(d):
  data = copy_data(os.path.join(d, "data"))
  edit_line(os.path.join(data, "dev.tsv"), 3, lambda l: l.replace(b" ", b" \xff ", 1))
  out = os.path.join(d, "out")
  proc = run_script(classifier_cmd(out, data_dir=data, do_train="false", do_predict="false",
                             init_checkpoint=CKPT + ".data-00000-of-00001"))
  return proc, data, out


def test_non_utf8_byte_warns_once_and_init_checkpoint_data_file_works(runs):
  """A stray byte is dropped as the original does, with one warning giving the count;
  --init_checkpoint given as the .data-00000-of-00001 file is accepted (#379)."""
  proc, data, out = runs["non_utf8"].result()
  assert proc.returncode == 0, proc.stderr[-3000:]
  warning = ("%s/dev.tsv: 1 line(s) contain bytes that are not valid UTF-8 (first: line 3); "
             "those bytes were dropped, as the original BERT does." % data)
  assert proc.stderr.count(warning) == 1, proc.stderr[-3000:]
  assert proc.stderr.count("*INIT_FROM_CKPT*") == 39
  results = read_results(os.path.join(out, "eval_results.txt"))
  assert results["global_step"] == "0" and 0 <= float(results["eval_accuracy"]) <= 1
