"""Issue 17 items 4, 6, 7 and 9 through the real scripts (docs/bad_inputs.md, last section;
docs/reliability.md, "Interrupts").

* A damaged vocab.txt (a repeated token, no [UNK] / [CLS] / [MASK], more lines than
  vocab_size) is one line naming the file (and the line) for every script that reads one,
  and the output_dir is untouched; a vocab shorter than vocab_size with everything in place
  runs with a warning that counts it.
* A gzip / zip file given as text input is one line saying what it looks like.
* MRPC rows with a stray tab run, with one warning per file giving the count and the lines.
* SIGINT and SIGTERM sent to a real run_classifier.py training process: one line, exit
  130 / 143, model.ckpt-N of the step reached complete on disk, and the same command resumes
  from it and finishes; run_pretraining.py (same Trainer) on SIGTERM too.
"""

import concurrent.futures
import gzip
import os
import re
import shutil
import signal
import subprocess
import sys
import zipfile

import pytest

from helpers import ROOT
from e2e_testing import (CKPT, CONFIG, MRPC, VOCAB, classifier_cmd, error_line,
                         listed_checkpoints, newest_listed, read_all_tensors, read_results,
                         run_script, script_env, snapshot, wait_for_log)

PRETRAINING_TEXT = os.path.join(ROOT, "tests", "fixtures", "pretraining_data", "sample_text.txt")


def _script(name, **flags):
  return [sys.executable, os.path.join(ROOT, name)] + [
      "--%s=%s" % (k, v) for k, v in flags.items() if v is not None]


def _vocab(d, edit):
  """A copy of the tiny vocab (30522 lines) with its list of lines edited."""
  with open(VOCAB, encoding="utf-8") as f:
    lines = f.read().split("\n")[:-1]
  lines = edit(lines)
  path = os.path.join(d, "vocab.txt")
  with open(path, "w", encoding="utf-8") as f:
    f.write("".join(line + "\n" for line in lines))
  return path


def _without(token):
  return lambda lines: [line for line in lines if line != token]


def _the_repeated(lines):
  lines[-1] = "the"  # "the" is on line 1997
  return lines


def _longer(lines):
  return lines + ["[extra%d]" % i for i in range(10)]


def _gzip(path, source):
  with open(source, "rb") as f:
    data = f.read()
  with open(path, "wb") as f:
    f.write(gzip.compress(data))
  return path


# Each case: (d, out) -> (command, [fragments of the error line]); `out` holds an earlier
# run's files, which must stay as they were.
def _case_classifier_repeated_token(d, out):
  vocab = _vocab(d, _the_repeated)
  return (classifier_cmd(out, vocab_file=vocab),
          ["%s line 30522: the token 'the' is also on line 1997; the original silently gives "
           "a repeated token the id of its last line" % vocab])


def _case_classifier_no_unk(d, out):
  vocab = _vocab(d, _without("[UNK]"))
  return (classifier_cmd(out, vocab_file=vocab),
          ["%s: no [UNK] line in the vocab; this script needs it, and in a vocab.txt with a "
           "deleted line every later id is shifted against the checkpoint" % vocab])


def _case_classifier_vocab_longer(d, out):
  vocab = _vocab(d, _longer)
  return (classifier_cmd(out, vocab_file=vocab),
          ["%s has 30532 tokens but %s says vocab_size = 30522: ids past 30521 would index "
           "outside the embedding table" % (vocab, CONFIG),
           "line 30523 ('[extra0]') is the first of them"])


def _case_create_pretraining_data_no_mask(d, out):
  vocab = _vocab(d, _without("[MASK]"))
  return (_script("create_pretraining_data.py", input_file=PRETRAINING_TEXT,
                  output_file=os.path.join(out, "tf_examples.tfrecord"), vocab_file=vocab),
          ["%s: no [MASK] line in the vocab; this script needs it" % vocab])


def _case_fill_mask_no_mask_token(d, out):
  vocab = _vocab(d, _without("[MASK]"))
  return (_script("fill_mask.py", bert_config_file=CONFIG, vocab_file=vocab,
                  init_checkpoint=CKPT, max_seq_length=32, text="the cat [MASK] on the mat"),
          ["%s: no [MASK] line in the vocab; this script needs it" % vocab])


def _case_extract_features_no_cls(d, out):
  vocab = _vocab(d, _without("[CLS]"))
  text = os.path.join(d, "input.txt")
  with open(text, "w") as f:
    f.write("the cat sat on the mat\n")
  return (_script("extract_features.py", input_file=text,
                  output_file=os.path.join(out, "features.jsonl"), vocab_file=vocab,
                  bert_config_file=CONFIG, init_checkpoint=CKPT, max_seq_length=32,
                  layers="-1,-2"),
          ["%s: no [CLS] line in the vocab; this script needs it" % vocab])


def _case_export_model_repeated_token(d, out):
  vocab = _vocab(d, _the_repeated)
  return (_script("export_model.py", bert_config_file=CONFIG, vocab_file=vocab,
                  init_checkpoint=CKPT, export_dir=os.path.join(out, "export")),
          ["%s line 30522: the token 'the' is also on line 1997" % vocab])


def _case_classifier_gzip_train_tsv(d, out):
  data = shutil.copytree(MRPC, os.path.join(d, "data"))
  train = os.path.join(data, "train.tsv")
  _gzip(train + ".gz", train)
  os.replace(train + ".gz", train)
  return (classifier_cmd(out, data_dir=data),
          ["%s: looks gzip-compressed; decompress it first (gunzip)" % train])


def _case_create_pretraining_data_gzip_text(d, out):
  text = _gzip(os.path.join(d, "sample_text.txt"), PRETRAINING_TEXT)
  return (_script("create_pretraining_data.py", input_file=text,
                  output_file=os.path.join(out, "tf_examples.tfrecord"), vocab_file=VOCAB),
          ["%s: looks gzip-compressed; decompress it first (gunzip)" % text])


def _case_fill_mask_gzip_input(d, out):
  text = os.path.join(d, "input.txt")
  with open(text, "wb") as f:
    f.write(gzip.compress(b"the cat [MASK] on the mat\n"))
  return (_script("fill_mask.py", bert_config_file=CONFIG, vocab_file=VOCAB,
                  init_checkpoint=CKPT, max_seq_length=32, input_file=text),
          ["%s: looks gzip-compressed; decompress it first (gunzip)" % text])


def _case_extract_features_zip_input(d, out):
  text = os.path.join(d, "input.zip")
  with zipfile.ZipFile(text, "w") as z:
    z.writestr("input.txt", "the cat sat on the mat\n")
  return (_script("extract_features.py", input_file=text,
                  output_file=os.path.join(out, "features.jsonl"), vocab_file=VOCAB,
                  bert_config_file=CONFIG, init_checkpoint=CKPT, max_seq_length=32,
                  layers="-1,-2"),
          ["%s: looks like a zip archive (or an .xlsx/.docx/.ods file); extract it first "
           "(unzip)" % text])


CASES = {name[len("_case_"):]: fn for name, fn in globals().items() if name.startswith("_case_")}


def _bad_run(name, d):
  os.makedirs(d)
  out = os.path.join(d, "out")
  os.makedirs(out)
  for earlier in ("eval_results.txt", "notes.txt"):  # an earlier run's files
    with open(os.path.join(out, earlier), "w") as f:
      f.write("kept\n")
  cmd, expected = CASES[name](d, out)
  before = snapshot(out)
  proc = run_script(cmd)
  return proc, expected, before, snapshot(out), os.path.basename(cmd[1])


def _stray_tab_data(d):
  data = shutil.copytree(MRPC, os.path.join(d, "data"))
  for name, numbers in (("train.tsv", (4, 9)), ("dev.tsv", (6,))):
    path = os.path.join(data, name)
    with open(path, encoding="utf-8") as f:
      lines = f.read().split("\n")
    for number in numbers:  # a tab inside sentence 1: sentence 2 is cut
      parts = lines[number - 1].split("\t")
      parts[3] = parts[3].replace(" ", "\t", 1)
      lines[number - 1] = "\t".join(parts)
    with open(path, "w", encoding="utf-8") as f:
      f.write("\n".join(lines))
  return data


def _warning_run(d):
  """A padded vocab (2 lines fewer than vocab_size) and MRPC rows with stray tabs: runs."""
  os.makedirs(d)
  vocab = _vocab(d, lambda lines: lines[:-2])
  data = _stray_tab_data(d)
  out = os.path.join(d, "out")
  proc = run_script(classifier_cmd(out, data_dir=data, vocab_file=vocab, num_train_epochs=1,
                                   do_predict="false"))
  return proc, vocab, data, out


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
  """Every run of this module, 3 at a time (the interrupt sequences first): {name: future}."""
  base = tmp_path_factory.mktemp("runs")
  with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
    futures = {"classifier_interrupts": pool.submit(_classifier_interrupts,
                                                    str(base / "classifier_interrupts")),
               "pretraining_interrupt": pool.submit(_pretraining_interrupt,
                                                    str(base / "pretraining_interrupt")),
               "warnings": pool.submit(_warning_run, str(base / "warnings"))}
    for name in sorted(CASES):
      futures[name] = pool.submit(_bad_run, name, str(base / name))
    yield futures


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_is_one_line_and_touches_nothing(runs, name):
  proc, expected, before, after, script = runs[name].result()
  assert proc.returncode == 1, "exit status %d\n%s" % (proc.returncode, proc.stderr[-3000:])
  message = error_line(proc, script)
  for fragment in expected:
    assert fragment in message, "expected %r in %r" % (fragment, message)
  assert after == before, "files created or changed in the output dir"


def test_padded_vocab_and_stray_tabs_run_with_one_warning_each(runs):
  proc, vocab, data, out = runs["warnings"].result()
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "Traceback" not in proc.stderr
  for warning in (
      "%s has 30520 tokens, 2 fewer than vocab_size = 30522 in %s: the last 2 row(s) of the "
      "embedding table are never used. That is normal for a vocab size padded to a round "
      "number; but if lines were deleted" % (vocab, CONFIG),
      "%s/train.tsv: 2 row(s) have more tab-separated columns than the 5 of its header line "
      "(lines 4, 9); task mrpc reads Quality, #1 ID, #2 ID, #1 String, #2 String (with a "
      "header line), so the extra columns are ignored. A stray tab inside a text cuts it "
      "there: check those rows." % data,
      "%s/dev.tsv: 1 row(s) have more tab-separated columns than the 5 of its header line "
      "(line 6);" % data):
    assert proc.stderr.count(warning) == 1, (warning, proc.stderr[-3000:])
  assert read_results(os.path.join(out, "eval_results.txt"))["global_step"] == "5"


# --------------------------------------------------------------------------- interrupts


def _start(cmd, log_path):
  with open(log_path, "w") as log:
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log, cwd=ROOT,
                            env=script_env(), stdin=subprocess.DEVNULL)


def _interrupt(cmd, log_path, pattern, signum, script="run_classifier.py"):
  """Starts cmd, sends `signum` once `pattern` is in its log; returns (message, step)."""
  proc = _start(cmd, log_path)
  wait_for_log(proc, log_path, pattern)
  proc.send_signal(signum)
  proc.wait(timeout=600)
  result = subprocess.CompletedProcess(cmd, proc.returncode, "", open(log_path).read())
  assert proc.returncode == 128 + signum, result.stderr[-3000:]
  message = error_line(result, script)
  m = re.match(r"interrupted \((SIG\w+)\) at step (\d+), saved (\S+); rerun the same command "
               r"to resume from it$", message)
  assert m, message
  assert m.group(1) == signal.Signals(signum).name
  return int(m.group(2)), m.group(3)


def _restored(log_path):
  m = re.search(r"Restoring parameters from (\S+) \(global_step = (\d+)\)", open(log_path).read())
  return (m.group(1), int(m.group(2))) if m else None


def _classifier_interrupts(d):
  """SIGINT, then SIGTERM, then a run to the end, all with the same command (checked here;
  run in the module's pool so that it overlaps the other runs)."""
  os.makedirs(d)
  out = os.path.join(d, "out")
  # 40 examples / batch 8 * 80 epochs = 400 steps; no periodic checkpoint before the end, so
  # the interrupt's checkpoint is the only new one.
  cmd = classifier_cmd(out, num_train_epochs=80, save_checkpoints_steps=100000,
                       do_eval="false", do_predict="false")
  logs = [os.path.join(d, "run%d.log" % i) for i in range(3)]

  # 1. Ctrl-C once training logs step 100.
  step1, prefix1 = _interrupt(cmd, logs[0], r"loss = \S+, step = 100$", signal.SIGINT)
  assert 100 <= step1 < 400 and prefix1 == os.path.join(out, "model.ckpt-%d" % step1)
  assert listed_checkpoints(out) == ["model.ckpt-0", "model.ckpt-%d" % step1]
  assert newest_listed(out) == step1  # complete: every tensor reads, global_step = N
  assert not [n for n in os.listdir(out) if ".tmp" in n]

  # 2. The same command resumes from it; SIGTERM (a preemption) once it is 100 steps on.
  step2, prefix2 = _interrupt(cmd, logs[1], r"loss = \S+, step = %d$" % (step1 // 100 * 100 + 100),
                              signal.SIGTERM)
  assert _restored(logs[1]) == (prefix1, step1)
  assert step1 < step2 < 400
  assert newest_listed(out) == step2

  # 3. The same command resumes again and finishes.
  proc = _start(cmd, logs[2])
  assert proc.wait(timeout=600) == 0, open(logs[2]).read()[-3000:]
  assert _restored(logs[2]) == (prefix2, step2)
  assert newest_listed(out) == 400
  assert listed_checkpoints(out) == ["model.ckpt-%d" % s for s in (0, step1, step2, 400)]
  assert int(read_all_tensors(os.path.join(out, "model.ckpt-400"))["global_step"]) == 400
  return step1, step2


def test_sigint_and_sigterm_save_the_step_reached_and_the_rerun_resumes(runs):
  step1, step2 = runs["classifier_interrupts"].result()
  assert 100 <= step1 < step2 < 400


def _pretraining_interrupt(d):
  """run_pretraining.py (the same Trainer) stopped by SIGTERM once it logs step 100."""
  os.makedirs(d)
  records = os.path.join(d, "tf_examples.tfrecord")
  proc = run_script(_script("create_pretraining_data.py", input_file=PRETRAINING_TEXT,
                            output_file=records, vocab_file=VOCAB, max_seq_length=32,
                            max_predictions_per_seq=5, dupe_factor=1))
  assert proc.returncode == 0, proc.stderr[-3000:]
  out = os.path.join(d, "out")
  cmd = _script("run_pretraining.py", input_file=records, output_dir=out,
                bert_config_file=CONFIG, init_checkpoint=CKPT, do_train="true",
                train_batch_size=2, max_seq_length=32, max_predictions_per_seq=5,
                num_train_steps=100000, num_warmup_steps=10, save_checkpoints_steps=100000)
  step, prefix = _interrupt(cmd, os.path.join(d, "run.log"), r"loss = \S+, step = 100$",
                            signal.SIGTERM, script="run_pretraining.py")
  return out, step, prefix


def test_run_pretraining_sigterm_saves_the_step_reached(runs):
  out, step, prefix = runs["pretraining_interrupt"].result()
  assert step >= 100 and prefix == os.path.join(out, "model.ckpt-%d" % step)
  assert listed_checkpoints(out) == ["model.ckpt-0", "model.ckpt-%d" % step]
  assert newest_listed(out) == step
