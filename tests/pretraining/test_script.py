"""create_pretraining_data.py as a command: the fixture command, its flags, one-line errors."""
import os
import re
import subprocess
import sys

import pytest

from bert_tf.pretraining import create_data
from bert_tf.pretraining.inputs import InputError
from helpers import FIXTURES, ROOT, TINY

VOCAB = os.path.join(TINY, "vocab.txt")
FIXTURE_DIR = os.path.join(FIXTURES, "pretraining_data")
SCRIPT = os.path.join(ROOT, "create_pretraining_data.py")
FEATURES = ("input_ids", "input_mask", "segment_ids", "masked_lm_positions",
            "masked_lm_ids", "masked_lm_weights", "next_sentence_labels")
_ABSL_PREFIX = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ [^\]]+\] ")


def assert_matches_fixture(records, expected):
  assert len(records) == len(expected) == 35
  for index, (got, want) in enumerate(zip(records, expected)):
    assert sorted(got) == sorted(FEATURES), index
    for name in FEATURES:
      kind = "float_list" if name == "masked_lm_weights" else "int64_list"
      assert got[name] == (kind, want[name]), (index, name)


def _strip_absl(stderr):
  return [_ABSL_PREFIX.sub("", line) for line in stderr.splitlines()
          if _ABSL_PREFIX.match(line)]


def test_script_subprocess_fixture_command(tmp_path, expected_records,
                                           parse_records):
  output = str(tmp_path / "tf_examples.tfrecord")
  with open(os.path.join(FIXTURE_DIR, "command.txt")) as f:
    args = [a for a in f.read().split() if a.startswith("--")]
  args = [("--output_file=%s" % output if a.startswith("--output_file=") else
           "--vocab_file=../tiny_uncased/vocab.txt"
           if a.startswith("--vocab_file=") else a) for a in args]
  assert len(args) == 10
  proc = subprocess.run([sys.executable, SCRIPT] + args, cwd=FIXTURE_DIR,
                        capture_output=True, text=True, timeout=120)
  assert proc.returncode == 0, proc.stderr
  assert_matches_fixture(parse_records(output), expected_records)
  with open(os.path.join(FIXTURE_DIR, "create_pretraining_data.log"),
            encoding="utf-8") as f:
    expected = f.read().splitlines()
  got = [m.replace(output, "tf_examples.tfrecord")
         for m in _strip_absl(proc.stderr)]
  assert got == expected


def test_script_flags_match_the_original():
  proc = subprocess.run([sys.executable, SCRIPT, "--helpfull"],
                        capture_output=True, text=True, timeout=60)
  text = proc.stdout
  for flag, default in (("input_file", None), ("output_file", None),
                        ("vocab_file", None), ("do_lower_case", "true"),
                        ("do_whole_word_mask", "false"), ("max_seq_length", "128"),
                        ("max_predictions_per_seq", "20"), ("random_seed", "12345"),
                        ("dupe_factor", "10"), ("masked_lm_prob", "0.15"),
                        ("short_seq_prob", "0.1"), ("num_workers", None)):
    assert "--%s" % flag in text or "--[no]%s" % flag in text, flag
    if default is not None:
      assert re.search(r"--(\[no\])?%s:.*?\n(?:\s+.*\n)*?\s+\(default: '%s'\)" %
                       (flag, re.escape(default)), text), flag
  proc = subprocess.run([sys.executable, SCRIPT], capture_output=True, text=True,
                        timeout=60)
  assert proc.returncode != 0
  assert "input_file" in proc.stderr


def _script(args, cwd=None):
  return subprocess.run([sys.executable, SCRIPT, "--vocab_file=%s" % VOCAB] + args,
                        capture_output=True, text=True, timeout=120, cwd=cwd)


def test_pattern_matching_no_file_is_a_one_line_error(tmp_path):
  good = os.path.join(FIXTURE_DIR, "sample_text.txt")
  output = str(tmp_path / "out.tfrecord")
  for pattern in ("nothing_here_*.txt", good + ",missing.txt"):
    proc = _script(["--input_file=%s" % pattern, "--output_file=%s" % output])
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines()
              if line.startswith("create_pretraining_data.py: error:")]
    assert len(errors) == 1 and pattern.split(",")[-1] in errors[0], proc.stderr
    assert not os.path.exists(output)


def test_empty_input_is_a_one_line_error(tmp_path):
  empty = tmp_path / "empty.txt"
  empty.write_text("\n  \n\x07\n\n")
  output = str(tmp_path / "out.tfrecord")
  proc = _script(["--input_file=%s" % empty, "--output_file=%s" % output])
  assert proc.returncode != 0
  assert "Traceback" not in proc.stderr
  errors = [line for line in proc.stderr.splitlines()
            if line.startswith("create_pretraining_data.py: error:")]
  assert len(errors) == 1 and str(empty) in errors[0], proc.stderr
  assert not os.path.exists(output)
  with pytest.raises(InputError, match="no documents in %s" % re.escape(str(empty))):
    create_data.run(input_file=str(empty), output_file=output, vocab_file=VOCAB,
                    num_workers=1)
  assert not os.path.exists(output)
