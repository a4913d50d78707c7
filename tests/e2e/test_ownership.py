"""Issue 17 (items 2, 3, 5, 6b, 8): a run owns its output_dir, never resumes into another model,
refuses numbers that leave nothing to do, checks everything before its first write, and
cleans up after a killed run.  Every case runs the real script in a subprocess, as a user
does (one line on stderr, exit 1, no traceback, output_dir unchanged where the run failed).

* Two runs, one output_dir: the second gets one line naming the first (pid, command, since
  when); after a SIGKILL of the first, its stale lock file is taken over by the next run.
* Resuming with another task, max_seq_length or a bert_config.json with fewer layers is
  refused listing the differences (run_config.json), then accepted with
  --allow_resume_mismatch; without a record (an older output_dir) a checkpoint that does
  not fit the model is refused by the restore itself.
* Numeric flags out of range: one line naming the flag, nothing created.
* A truncated --init_checkpoint, or a fine-tuned one whose head has another label count,
  fails before run_config.json / train.tf_record / label_list.txt are written.
* Temporary files of a killed run (ours only) are removed at the next start, one log line each.
* Evaluating with a checkpoint without classifier head logs a WARNING saying so.
"""
import concurrent.futures
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from bert_tf import output_dir
from helpers import FIXTURES, ROOT
from e2e_testing import (CKPT, CONFIG, PY_LOG_LINE, VOCAB, classifier_cmd, copy_run,
                         error_line, pretraining_cmd, run_script, script_env, snapshot,
                         write_pretraining_records)

pytestmark = pytest.mark.slow

COLA = os.path.join(FIXTURES, "classifier_features", "CoLA", "data")
TRAIN_ONLY = dict(do_eval="false", do_predict="false")
LOCK = output_dir.LOCK_FILE


def _fewer_layers_config(directory):
  path = os.path.join(directory, "bert_config_1_layer.json")
  with open(CONFIG) as f:
    config = json.load(f)
  config["num_hidden_layers"] = 1
  with open(path, "w") as f:
    json.dump(config, f)
  return path


def _dead_pid():
  proc = subprocess.Popen([sys.executable, "-c", "pass"])
  proc.wait()
  return proc.pid


def _refused(proc, script="run_classifier.py"):
  assert proc.returncode == 1, "exit status %d\n%s" % (proc.returncode, proc.stderr[-3000:])
  return error_line(proc, script)


def _unchanged(before, directory):
  after = snapshot(directory)
  changed = sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))
  assert not changed, "files created, changed or replaced in output_dir: %s" % changed


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  """A trained MRPC output_dir (10 steps, model.ckpt-2 ... -10) that the cases copy."""
  out = str(tmp_path_factory.mktemp("ownership") / "trained")
  proc = run_script(classifier_cmd(out, **TRAIN_ONLY), timeout=900)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert not os.path.exists(os.path.join(out, LOCK))  # a finished run leaves no lock file
  with open(os.path.join(out, "run_config.json")) as f:
    record = json.load(f)
  # predict.py's keys are kept; the comparison's are added.
  assert record["task_name"] == "MRPC" and record["label_list"] == ["0", "1"]
  assert record["max_seq_length"] == 32 and record["do_lower_case"] is True
  assert record["bert_config"]["num_hidden_layers"] == 2
  assert len(record["vocab_sha256"]) == 64 and record["vocab_file"].endswith("vocab.txt")
  return out


# --------------------------------------------------------------------------- two runs, one dir


def test_second_run_into_a_busy_output_dir_names_the_holder_then_sigkill_frees_it(tmp_path):
  out = str(tmp_path / "out")
  log = open(str(tmp_path / "first.log"), "w")
  first = subprocess.Popen(classifier_cmd(out, num_train_epochs=400, save_checkpoints_steps=1000,
                                          **TRAIN_ONLY),
                           stdout=subprocess.DEVNULL, stderr=log, cwd=ROOT, env=script_env())
  log.close()
  try:
    lock = os.path.join(out, LOCK)
    deadline = time.time() + 300
    while not (os.path.exists(lock) and "pid: %d\n" % first.pid in open(lock).read()):
      assert first.poll() is None and time.time() < deadline, open(str(tmp_path / "first.log")).read()
      time.sleep(0.05)
    holder = open(lock).read()
    second = run_script(classifier_cmd(out, **TRAIN_ONLY))
    message = _refused(second)
    assert message.startswith("%s: output_dir is in use by another run (pid %d on " %
                              (out, first.pid)), message
    assert "since 20" in message and "run_classifier.py --task_name=MRPC" in message
    assert "--num_train_epochs=400" in message  # the holder's command, not ours
    assert message.endswith("; wait for it to finish or stop it, or pass another --output_dir")
    assert first.poll() is None and open(lock).read() == holder  # the holder is untouched
  finally:
    first.send_signal(signal.SIGKILL)
    first.wait()
  assert os.path.exists(os.path.join(out, LOCK))  # the dead run's file; its lock died with it
  third = run_script(classifier_cmd(out, num_train_epochs=0.4, **TRAIN_ONLY), timeout=900)
  assert third.returncode == 0, third.stderr[-3000:]
  assert not os.path.exists(os.path.join(out, LOCK))


def test_run_pretraining_into_a_busy_output_dir_is_refused(tmp_path):
  records = str(tmp_path / "tf_examples.tfrecord")
  write_pretraining_records(records)
  out = str(tmp_path / "out")
  os.makedirs(out)
  held = output_dir.acquire(out)  # this test process holds it
  try:
    before = snapshot(out)
    proc = run_script(pretraining_cmd(out, records))
    message = _refused(proc, "run_pretraining.py")
    assert message.startswith("%s: output_dir is in use by another run (pid %d on " %
                              (out, os.getpid())), message
    _unchanged(before, out)
  finally:
    held.release()


# --------------------------------------------------------------------------- resuming


def _task(d):
  return dict(task_name="CoLA", data_dir=COLA), ["task_name mrpc -> cola"]


def _seq(d):
  return dict(max_seq_length=48), ["max_seq_length 32 -> 48"]


def _layers(d):
  return (dict(bert_config_file=_fewer_layers_config(d), num_train_epochs=4.0),
          ["bert_config.num_hidden_layers 2 -> 1"])


@pytest.mark.parametrize("case", [_task, _seq, _layers], ids=["task", "max_seq_length",
                                                              "fewer_layers"])
def test_resume_with_other_settings_is_refused_then_accepted_with_the_flag(trained, tmp_path,
                                                                          case):
  out = str(tmp_path / "out")
  copy_run(trained, out)
  flags, differences = case(str(tmp_path))
  before = snapshot(out)
  proc = run_script(classifier_cmd(out, **dict(TRAIN_ONLY, **flags)))
  message = _refused(proc)
  assert message.startswith("%s: --output_dir holds the checkpoint of a run started with other "
                            "settings (then -> now: " % os.path.join(out, "model.ckpt-10")), message
  for difference in differences:
    assert difference in message, message
  assert message.endswith("recorded in %s); pass a new --output_dir to start over, the recorded "
                          "settings to continue it, or --allow_resume_mismatch to continue "
                          "anyway" % os.path.join(out, "run_config.json")), message
  _unchanged(before, out)

  proc = run_script(classifier_cmd(out, allow_resume_mismatch="true",
                                   **dict(TRAIN_ONLY, **flags)), timeout=900)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "continuing anyway (--allow_resume_mismatch)" in proc.stderr
  assert "Restoring parameters from %s" % os.path.join(out, "model.ckpt-10") in proc.stderr
  with open(os.path.join(out, "run_config.json")) as f:
    record = json.load(f)
  for key, value in flags.items():  # the record now says what the checkpoints continue with
    if key in record and key != "bert_config_file":
      assert str(record[key]) == str(value)
  if case is _layers:
    assert "16 of its variables are not in the model (bert/encoder/layer_1/" in proc.stderr
    import tensorflow as tf
    names = {n for n, _ in tf.train.list_variables(os.path.join(out, "model.ckpt-20"))}
    assert not any(n.startswith("bert/encoder/layer_1/") for n in names)


def test_resume_of_an_output_dir_without_record_still_needs_a_fitting_checkpoint(trained, tmp_path):
  out = str(tmp_path / "out")
  copy_run(trained, out)
  os.remove(os.path.join(out, "run_config.json"))  # e.g. written by an older version
  before = snapshot(out)
  proc = run_script(classifier_cmd(out, bert_config_file=_fewer_layers_config(str(tmp_path)),
                                   do_train="false", do_eval="true", do_predict="false"))
  message = _refused(proc)
  assert message.startswith(
      "%s: the checkpoint in --output_dir does not fit the model: 16 of its variables are not "
      "in the model (bert/encoder/layer_1/" % os.path.join(out, "model.ckpt-10")), message
  assert message.endswith("Pass the same settings to continue it, a new --output_dir to start "
                          "over, or --allow_resume_mismatch to load only what fits")
  _unchanged(before, out)


def test_eval_may_use_another_max_seq_length(trained, tmp_path):
  out = str(tmp_path / "out")
  copy_run(trained, out)
  proc = run_script(classifier_cmd(out, max_seq_length=48, do_train="false", do_eval="true",
                                   do_predict="false"))
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "--allow_resume_mismatch" not in proc.stderr


# --------------------------------------------------------------------------- numeric flags

PRETRAINING = "run_pretraining.py"
NUMERIC_CASES = {
    "train_batch_size_0": ({"train_batch_size": 0},
                           "--train_batch_size=0: must be >= 1; the examples per training step"),
    "eval_batch_size_0": ({"eval_batch_size": 0},
                          "--eval_batch_size=0: must be >= 1; the examples per evaluation step"),
    "predict_batch_size_0": ({"predict_batch_size": 0},
                             "--predict_batch_size=0: must be >= 1; the examples per prediction "
                             "step"),
    "num_train_epochs_0": ({"num_train_epochs": 0},
                           "--num_train_epochs=0.0: must be a finite number > 0; with --do_train "
                           "there must be something to train, e.g. --num_train_epochs=3"),
    "num_train_epochs_too_few_for_one_step": (
        {"num_train_epochs": 0.01},
        "--num_train_epochs=0.01 with 40 training examples and --train_batch_size=8 gives 0 "
        "training steps; pass more epochs or a smaller batch size"),
    "warmup_proportion_above_1": ({"warmup_proportion": 1.5},
                                  "--warmup_proportion=1.5: must be a finite number >= 0 and <= 1"),
    "learning_rate_nan": ({"learning_rate": "nan"},
                          "--learning_rate=nan: must be a finite number > 0"),
    "max_seq_length_0": ({"max_seq_length": 0},
                         "--max_seq_length=0: must be >= 3; room for [CLS], [SEP] and at least "
                         "one token"),
    "save_checkpoints_steps_0": ({"save_checkpoints_steps": 0},
                                 "--save_checkpoints_steps=0: must be >= 1"),
    "gradient_accumulation_steps_0": ({"gradient_accumulation_steps": 0},
                                      "--gradient_accumulation_steps=0: must be >= 1"),
    "seed_negative": ({"seed": -1}, "--seed=-1: must be >= 0 and <= 4294967295"),
    "pretraining_num_train_steps_0": ({PRETRAINING: True, "num_train_steps": 0},
                                      "--num_train_steps=0: must be >= 1; with --do_train there "
                                      "must be something to train"),
    "pretraining_num_warmup_steps_negative": ({PRETRAINING: True, "num_warmup_steps": -1},
                                              "--num_warmup_steps=-1: must be >= 0"),
    "pretraining_max_predictions_per_seq_0": (
        {PRETRAINING: True, "max_predictions_per_seq": 0},
        "--max_predictions_per_seq=0: must be >= 1; pass the value used by "
        "create_pretraining_data.py"),
    "pretraining_learning_rate_negative": ({PRETRAINING: True, "learning_rate": -1e-4},
                                           "--learning_rate=-0.0001: must be a finite number > 0"),
    "pretraining_max_eval_steps_0": ({PRETRAINING: True, "do_eval": "true", "max_eval_steps": 0},
                                     "--max_eval_steps=0: must be >= 1"),
}


def _numeric_run(name, d):
  """One case into a new output_dir inside a directory holding a user's file."""
  flags, _ = NUMERIC_CASES[name]
  flags = dict(flags)
  parent = os.path.join(d, "runs")
  os.makedirs(parent)
  with open(os.path.join(parent, "notes.txt"), "w") as f:
    f.write("the user's file\n")
  out = os.path.join(parent, "out")
  before = snapshot(parent)
  if flags.pop(PRETRAINING, False):
    records = os.path.join(d, "tf_examples.tfrecord")
    write_pretraining_records(records)
    cmd, script = pretraining_cmd(out, records, **flags), PRETRAINING
  else:
    cmd, script = classifier_cmd(out, **flags), "run_classifier.py"
  proc = run_script(cmd)
  return proc, script, before, snapshot(parent), os.path.exists(out)


@pytest.fixture(scope="module")
def numeric_runs(tmp_path_factory):
  base = tmp_path_factory.mktemp("numeric")
  with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
    yield {name: pool.submit(_numeric_run, name, str(base / name)) for name in NUMERIC_CASES}


@pytest.mark.parametrize("name", sorted(NUMERIC_CASES))
def test_numeric_flag_out_of_range_is_one_line_and_creates_nothing(numeric_runs, name):
  proc, script, before, after, out_exists = numeric_runs[name].result()
  message = _refused(proc, script)
  assert message.startswith(NUMERIC_CASES[name][1]), message
  assert before == after and not out_exists  # output_dir not created, nothing else touched


def _squad_cmd(out, **flags):
  return [sys.executable, os.path.join(ROOT, "run_squad.py"), "--vocab_file=" + VOCAB,
          "--bert_config_file=" + CONFIG, "--output_dir=" + out, "--max_seq_length=32",
          "--max_query_length=8"] + [
              "--%s=%s" % kv for kv in flags.items()]


def _bad_hidden_act(d):
  with open(CONFIG) as f:
    config = json.load(f)
  config["hidden_act"] = "swish"
  path = os.path.join(d, "bert_config.json")
  with open(path, "w") as f:
    json.dump(config, f)
  return path


# script, command(d, out), the error line's start
BEFORE_TENSORFLOW = {
    "run_classifier_flag": ("run_classifier.py", lambda d, out: classifier_cmd(
        out, train_batch_size=0), "--train_batch_size=0: must be >= 1"),
    "run_classifier_config": ("run_classifier.py", lambda d, out: classifier_cmd(
        out, bert_config_file=_bad_hidden_act(d)), "%s: \"hidden_act\" must be one of"),
    "run_classifier_nothing_to_do": ("run_classifier.py", lambda d, out: classifier_cmd(
        out, do_train="false", do_eval="false", do_predict="false"), "At least one of"),
    "run_classifier_with_tfhub_nothing_to_do": (
        "run_classifier_with_tfhub.py", lambda d, out: [
            sys.executable, os.path.join(ROOT, "run_classifier_with_tfhub.py"),
            "--task_name=MRPC", "--data_dir=" + d, "--bert_hub_module_handle=" + d,
            "--output_dir=" + out, "--do_train=false"],
        "At least one of `do_train` or `do_eval` must be True."),
    "run_squad_flag": ("run_squad.py", lambda d, out: _squad_cmd(
        out, do_predict="true", predict_file=os.path.join(d, "missing.json"), doc_stride=0),
        "--doc_stride=0: must be >= 1"),
    "run_squad_original_check": ("run_squad.py", lambda d, out: _squad_cmd(
        out, do_train="true"), "If `do_train` is True, then `train_file` must be specified."),
    "run_pretraining_flag": ("run_pretraining.py", lambda d, out: pretraining_cmd(
        out, os.path.join(d, "missing.tfrecord"), num_train_steps=0),
        "--num_train_steps=0: must be >= 1"),
}


@pytest.mark.parametrize("name", sorted(BEFORE_TENSORFLOW))
def test_flag_and_config_refusals_come_before_tensorflow_is_imported(tmp_path, name):
  """With a `tensorflow` on the path that fails to import, the refusal is still the one
  line: the scripts check their flags and bert_config.json before importing TensorFlow,
  so a bad command line answers at once instead of after TensorFlow's start-up."""
  script, command, start = BEFORE_TENSORFLOW[name]
  fake = tmp_path / "no_tensorflow" / "tensorflow"
  fake.mkdir(parents=True)
  (fake / "__init__.py").write_text("raise ImportError('tensorflow was imported')\n")
  d = str(tmp_path)
  out = os.path.join(d, "out")
  cmd = command(d, out)
  env = script_env()
  env["PYTHONPATH"] = os.pathsep.join([str(fake.parent), ROOT])
  proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120,
                        stdin=subprocess.DEVNULL)
  assert proc.returncode == 1, proc.stderr[-3000:]
  message = error_line(proc, script)
  if "%s" in start:
    start = start % os.path.join(d, "bert_config.json")
  assert message.startswith(start), message
  assert not os.path.exists(out)


# --------------------------------------------------------------------------- before writing


def _truncated_copy(d, prefix=CKPT):
  os.makedirs(d)
  for suffix in (".index", ".data-00000-of-00001"):
    shutil.copy(prefix + suffix, os.path.join(d, "bert_model.ckpt" + suffix))
  data = os.path.join(d, "bert_model.ckpt.data-00000-of-00001")
  with open(data, "r+b") as f:
    f.truncate(os.path.getsize(data) // 2)
  return os.path.join(d, "bert_model.ckpt")


def _user_dir(d):
  os.makedirs(d)
  with open(os.path.join(d, "notes.txt"), "w") as f:
    f.write("the user's file\n")
  return d, snapshot(d)


def test_truncated_init_checkpoint_fails_before_anything_is_written(tmp_path):
  init = _truncated_copy(str(tmp_path / "ckpt"))
  out, before = _user_dir(str(tmp_path / "out"))
  new = str(tmp_path / "new" / "out")
  for directory in (out, new):
    proc = run_script(classifier_cmd(directory, init_checkpoint=init))
    message = _refused(proc)
    assert message.startswith("%s: cannot read variable " % init), message
    assert message.endswith("the checkpoint is truncated or corrupted, use another copy or an "
                            "earlier checkpoint")
  _unchanged(before, out)  # no run_config.json, train.tf_record
  assert not os.path.exists(str(tmp_path / "new"))


def test_truncated_init_checkpoint_of_run_pretraining_fails_before_anything_is_written(tmp_path):
  records = str(tmp_path / "tf_examples.tfrecord")
  write_pretraining_records(records)
  init = _truncated_copy(str(tmp_path / "ckpt"))
  out, before = _user_dir(str(tmp_path / "out"))
  proc = run_script(pretraining_cmd(out, records, init_checkpoint=init))
  message = _refused(proc, "run_pretraining.py")
  assert message.startswith("%s: cannot read variable " % init), message
  _unchanged(before, out)


def test_label_count_that_does_not_fit_the_checkpoint_head_fails_before_label_list(trained,
                                                                                    tmp_path):
  out, before = _user_dir(str(tmp_path / "out"))
  fine_tuned = os.path.join(trained, "model.ckpt-10")
  proc = run_script(classifier_cmd(out, task_name="tsv", text_a_column=3, text_b_column=4,
                                   label_column=0, labels="0,1,2", init_checkpoint=fine_tuned,
                                   **TRAIN_ONLY))
  message = _refused(proc)
  assert message == (
      "%s: the checkpoint's classifier head (output_weights) has 2 outputs but task tsv has 3 "
      "labels ['0', '1', '2']; pass a pre-trained checkpoint (bert_model.ckpt) or one "
      "fine-tuned on the same labels" % fine_tuned)
  _unchanged(before, out)  # no label_list.txt


def test_run_pretraining_resume_with_fewer_layers_is_refused(tmp_path):
  records = str(tmp_path / "tf_examples.tfrecord")
  write_pretraining_records(records)
  out = str(tmp_path / "out")
  proc = run_script(pretraining_cmd(out, records))
  assert proc.returncode == 0, proc.stderr[-3000:]
  with open(os.path.join(out, "run_config.json")) as f:
    record = json.load(f)
  assert record["max_seq_length"] == 64 and record["max_predictions_per_seq"] == 10
  before = snapshot(out)
  proc = run_script(pretraining_cmd(out, records, num_train_steps=4,
                                     bert_config_file=_fewer_layers_config(str(tmp_path))))
  message = _refused(proc, "run_pretraining.py")
  assert "(then -> now: bert_config.num_hidden_layers 2 -> 1; recorded in " in message, message
  _unchanged(before, out)


# --------------------------------------------------------------------------- after a kill


def test_temporary_files_of_a_killed_run_are_removed_at_the_next_start(trained, tmp_path):
  out = str(tmp_path / "out")
  copy_run(trained, out)
  dead = _dead_pid()
  ours = [".tmp-%d-model.ckpt-12.index" % dead, ".tmp-%d-model.ckpt-12.data-00000-of-00001" % dead,
          "checkpoint.tmp-%d" % dead, "run_config.json.tmp", "eval_results.txt.tmp",
          ".train.tf_record.tmp-%d-0123abcd" % dead, "label_list.txt.tmp-%d-89abcdef" % dead]
  users = ["notes.tmp", "results.tmp-old", "my_model.ckpt.bak"]
  for name in ours + users:
    with open(os.path.join(out, name), "w") as f:
      f.write("x")
  export_tmp = os.path.join(out, ".export.tmp-a1b2c3d4")
  os.makedirs(os.path.join(export_tmp, "variables"))
  with open(os.path.join(out, LOCK), "w") as f:  # the killed run's lock file
    f.write("pid: %d\nhost: h\nstarted: then\ncommand: run_classifier.py\n" % dead)
  proc = run_script(classifier_cmd(out, **TRAIN_ONLY))
  assert proc.returncode == 0, proc.stderr[-3000:]
  for path in [os.path.join(out, n) for n in ours] + [export_tmp]:
    assert not os.path.exists(path), path
    assert "Removed %s, a temporary file left by an interrupted run." % path in proc.stderr
  for name in users:
    assert os.path.exists(os.path.join(out, name)), name
  assert not os.path.exists(os.path.join(out, LOCK))


# --------------------------------------------------------------------------- random head


def test_eval_from_a_checkpoint_without_classifier_head_warns(trained, tmp_path):
  out = str(tmp_path / "out")
  proc = run_script(classifier_cmd(out, init_checkpoint=CKPT, do_train="false", do_eval="true",
                                   do_predict="true"))
  assert proc.returncode == 0, proc.stderr[-3000:]
  warnings = [l for l in proc.stderr.splitlines() if PY_LOG_LINE.match(l) and l.startswith("W")
              and "has no classifier head" in l]
  assert len(warnings) == 1, proc.stderr[-3000:]
  assert ("%s has no classifier head (output_weights/output_bias): evaluation and prediction use "
          "a random, untrained head, so the results are meaningless; fine-tune first" % CKPT
          in warnings[0])
  # A fine-tuned checkpoint gives no such warning.
  proc = run_script(classifier_cmd(str(tmp_path / "out2"), do_train="false", do_eval="true",
                                   do_predict="false",
                                   init_checkpoint=os.path.join(trained, "model.ckpt-10")))
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "has no classifier head" not in proc.stderr
