"""What the end-to-end tests share: the tiny MRPC command of a good run, running a real script
the way a user does, and the checks of the one-line error contract and of an untouched
output_dir (docs/bad_inputs.md)."""

import os
import re
import shutil
import stat
import subprocess
import sys
import time

import numpy as np
import tensorflow as tf

from bert_tf import checkpoints
from helpers import FIXTURES, ROOT, TINY

MRPC = os.path.join(FIXTURES, "classifier_features", "MRPC", "data")
CONFIG = os.path.join(TINY, "bert_config.json")
VOCAB = os.path.join(TINY, "vocab.txt")
CKPT = os.path.join(TINY, "bert_model.ckpt")
NUM_STEPS = 10  # 40 examples / batch 8 * 2 epochs

# What a good run does: 10 steps, a checkpoint every 2 (model.ckpt-2 ... -10 kept), eval, predict.
BASE_FLAGS = {
    "task_name": "MRPC", "data_dir": MRPC, "vocab_file": VOCAB, "bert_config_file": CONFIG,
    "init_checkpoint": CKPT + ".index",  # the `.index` file is accepted (google-research/bert #379)
    "max_seq_length": 32, "train_batch_size": 8, "eval_batch_size": 8, "predict_batch_size": 8,
    "learning_rate": 1e-3, "num_train_epochs": 2.0, "save_checkpoints_steps": 2, "seed": 1234,
    "do_train": "true", "do_eval": "true", "do_predict": "true",
}

# An absl log line written by Python (the scripts' INFO/WARNING lines); anything else on
# stderr besides the one error line is noise the user should not see.
PY_LOG_LINE = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d{6}\s+\d+ [\w.]+\.py:\d+\] ")


def script_env(**extra):
  env = dict(os.environ, PYTHONPATH=ROOT, **extra)
  env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # what a user has: the scripts' own default
  return env


def classifier_cmd(output_dir, **overrides):
  flags = dict(BASE_FLAGS, output_dir=output_dir)
  flags.update(overrides)
  return [sys.executable, os.path.join(ROOT, "run_classifier.py")] + [
      "--%s=%s" % (k, v) for k, v in flags.items() if v is not None]


def run_script(cmd, timeout=600, **kw):
  if "input" not in kw:
    kw.setdefault("stdin", subprocess.DEVNULL)  # never wait on the terminal
  return subprocess.run(cmd, capture_output=True, text=True, env=script_env(), cwd=ROOT,
                        timeout=timeout, **kw)


def wait_for_log(proc, log_path, pattern, timeout=600):
  """Waits until the run's log matches `pattern` (a multi-line regex); fails if the run
  ends first or the timeout passes."""
  deadline = time.time() + timeout
  while time.time() < deadline:
    with open(log_path) as f:
      if re.search(pattern, f.read(), flags=re.M):
        return
    if proc.poll() is not None:
      with open(log_path) as f:
        raise AssertionError("the run ended first:\n" + f.read()[-3000:])
    time.sleep(0.05)
  raise AssertionError("timed out waiting for %r" % pattern)


def read_results(path):
  with open(path) as f:
    return dict(line.split(" = ") for line in f.read().splitlines() if line)


def listed_checkpoints(directory):
  """The prefixes listed in directory/checkpoint, oldest first (parsed here, not by our code)."""
  with open(os.path.join(directory, "checkpoint")) as f:
    text = f.read()
  return re.findall(r'^all_model_checkpoint_paths: "(.*)"$', text, flags=re.M)


def step_of(prefix):
  return int(re.search(r"-(\d+)$", prefix).group(1))


def read_all_tensors(prefix):
  """{name: value} of every tensor of a checkpoint (each one really read)."""
  reader = tf.train.load_checkpoint(prefix)
  return {n: reader.get_tensor(n) for n in sorted(reader.get_variable_to_shape_map())}


def assert_same_tensors(a, b):
  assert sorted(a) == sorted(b)
  for name in a:
    assert a[name].dtype == b[name].dtype, name
    np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def newest_listed(directory):
  """Checks that the newest checkpoint listed in `checkpoint` loads in full; returns its step."""
  listed = listed_checkpoints(directory)
  assert listed, "empty checkpoint state file in %s" % directory
  newest = max(listed, key=step_of)
  prefix = os.path.join(directory, newest)
  values = read_all_tensors(prefix)
  assert int(values["global_step"]) == step_of(newest)
  assert checkpoints.latest_checkpoint(directory) == prefix
  return step_of(newest)


def error_line(proc, script):
  """The single error line of a failed run; asserts the one-line contract."""
  lines = proc.stderr.splitlines()
  assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
  errors = [l for l in lines if l.startswith("%s: error: " % script)]
  assert len(errors) == 1, proc.stderr[-3000:]
  assert lines[-1] == errors[0], "the error is not the last line:\n" + proc.stderr[-3000:]
  noise = [l for l in lines[:-1] if not PY_LOG_LINE.match(l)]
  assert not noise, "lines that are neither log lines nor the error: %r" % noise[:5]
  return errors[0][len("%s: error: " % script):]


def snapshot(directory):
  """{relative path: (size, mtime_ns, inode, mode)} of every file under `directory`."""
  out = {}
  for root, _, files in os.walk(directory):
    for f in files:
      p = os.path.join(root, f)
      s = os.lstat(p)
      out[os.path.relpath(p, directory)] = (s.st_size, s.st_mtime_ns, s.st_ino,
                                            stat.S_IMODE(s.st_mode))
  return out


def copy_run(src, dst):
  """A copy of a run's output_dir: checkpoint data hard-linked, the rest copied with mtimes."""
  for root, _, files in os.walk(src):
    target = os.path.join(dst, os.path.relpath(root, src))
    os.makedirs(target, exist_ok=True)
    for f in files:
      if ".data-" in f:
        os.link(os.path.join(root, f), os.path.join(target, f))
      else:
        shutil.copy2(os.path.join(root, f), os.path.join(target, f))


def copy_data(dst):
  shutil.copytree(MRPC, dst)
  return dst


def edit_line(path, number, edit):
  with open(path, "rb") as f:
    lines = f.read().split(b"\n")
  lines[number - 1] = edit(lines[number - 1])
  with open(path, "wb") as f:
    f.write(b"\n".join(lines))


def write_pretraining_records(path, seq_length=64, predictions=10, count=4):
  """`count` run_pretraining records of one fixed shape (no create_pretraining_data run)."""
  def ints(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=values))
  with tf.io.TFRecordWriter(path) as writer:
    for i in range(count):
      feature = {
          "input_ids": ints([101] + [1000 + i] * (seq_length - 2) + [102]),
          "input_mask": ints([1] * seq_length), "segment_ids": ints([0] * seq_length),
          "masked_lm_positions": ints(list(range(1, predictions + 1))),
          "masked_lm_ids": ints([1000 + i] * predictions),
          "masked_lm_weights": tf.train.Feature(
              float_list=tf.train.FloatList(value=[1.0] * predictions)),
          "next_sentence_labels": ints([i % 2])}
      writer.write(tf.train.Example(
          features=tf.train.Features(feature=feature)).SerializeToString())


def pretraining_cmd(output_dir, input_file, **overrides):
  """A 2-step run_pretraining command on records of write_pretraining_records."""
  flags = {"input_file": input_file, "output_dir": output_dir, "bert_config_file": CONFIG,
           "init_checkpoint": CKPT, "do_train": "true", "train_batch_size": 2,
           "max_seq_length": 64, "max_predictions_per_seq": 10, "num_train_steps": 2,
           "num_warmup_steps": 1}
  flags.update(overrides)
  return [sys.executable, os.path.join(ROOT, "run_pretraining.py")] + [
      "--%s=%s" % (k, v) for k, v in flags.items() if v is not None]
