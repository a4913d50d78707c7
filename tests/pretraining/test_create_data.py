"""create_pretraining_data's `run()`: parity with the original, fast path == reference path.

* The fixture command (tests/fixtures/pretraining_data/command.txt) must give
  the original script's 35 records feature for feature, and its log lines.
* The parallel fast path must equal the single-process original path on other
  flags and on awkward input (CR/LF, BOM, Unicode, control characters, several
  files, block boundaries).
* Unusable input fails before anything is written; an interrupted run leaves
  no partial output.
"""
import logging as std_logging
import os

import pytest
import tensorflow as tf
from absl import logging

from bert_tf.data import tfrecord
from bert_tf.pretraining import create_data
from bert_tf.pretraining import reference
from bert_tf.pretraining.inputs import InputError
from helpers import FIXTURES, TINY

VOCAB = os.path.join(TINY, "vocab.txt")
FIXTURE_DIR = os.path.join(FIXTURES, "pretraining_data")
FEATURES = ("input_ids", "input_mask", "segment_ids", "masked_lm_positions",
            "masked_lm_ids", "masked_lm_weights", "next_sentence_labels")
# The fixture command (command.txt), as run() arguments.
FIXTURE_FLAGS = dict(do_lower_case=True, max_seq_length=64,
                     max_predictions_per_seq=10, masked_lm_prob=0.15,
                     random_seed=12345, dupe_factor=2, short_seq_prob=0.1)


class LogCapture(std_logging.Handler):
  """Collects the messages absl logs at INFO and above."""

  def __init__(self):
    super().__init__(std_logging.INFO)
    self.messages = []

  def emit(self, record):
    self.messages.append(record.getMessage())


@pytest.fixture
def absl_messages():
  capture = LogCapture()
  absl_logger = logging.get_absl_logger()
  # The logger's own level, not get_verbosity(): that is the effective level, and setting it
  # back would pin absl's logger at the root's level for every later test in the process.
  old_level = absl_logger.level
  logging.set_verbosity(logging.INFO)
  absl_logger.addHandler(capture)
  yield capture.messages
  absl_logger.removeHandler(capture)
  absl_logger.setLevel(old_level)


def run_fixture_command(output_file, num_workers, monkeypatch):
  monkeypatch.chdir(FIXTURE_DIR)
  return create_data.run(input_file="sample_text.txt", output_file=output_file,
                         vocab_file="../tiny_uncased/vocab.txt",
                         num_workers=num_workers, **FIXTURE_FLAGS)


def assert_matches_fixture(records, expected):
  assert len(records) == len(expected) == 35
  for index, (got, want) in enumerate(zip(records, expected)):
    assert sorted(got) == sorted(FEATURES), index
    for name in FEATURES:
      kind = "float_list" if name == "masked_lm_weights" else "int64_list"
      assert got[name] == (kind, want[name]), (index, name)


# ----------------------------------------------------------------------------
# Parity with the original's output.
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("num_workers", [1, 2])
def test_fixture_command_matches_original_records(tmp_path, monkeypatch,
                                                  expected_records, parse_records,
                                                  num_workers):
  output = str(tmp_path / "tf_examples.tfrecord")
  assert run_fixture_command(output, num_workers, monkeypatch) == 35
  assert_matches_fixture(parse_records(output), expected_records)
  assert os.listdir(tmp_path) == ["tf_examples.tfrecord"]  # no temporary left


@pytest.mark.parametrize("num_workers", [1, 2])
def test_fixture_command_matches_original_log(tmp_path, monkeypatch,
                                              absl_messages, num_workers):
  output = str(tmp_path / "tf_examples.tfrecord")
  run_fixture_command(output, num_workers, monkeypatch)
  with open(os.path.join(FIXTURE_DIR, "create_pretraining_data.log"),
            encoding="utf-8") as f:
    expected = f.read().splitlines()
  got = [m.replace(output, "tf_examples.tfrecord") for m in absl_messages]
  assert got == expected
  assert got.count("*** Example ***") == 20


def test_fixture_tokens_match_original(tmp_path, monkeypatch, expected_records,
                                       uncased, parse_records):
  """The `_tokens` / `_masked_lm_labels` of the fixture decode from our ids."""
  output = str(tmp_path / "out.tfrecord")
  run_fixture_command(output, 2, monkeypatch)
  for got, want in zip(parse_records(output), expected_records):
    n = sum(got["input_mask"][1])
    assert uncased.convert_ids_to_tokens(got["input_ids"][1][:n]) == want["_tokens"]
    k = int(sum(got["masked_lm_weights"][1]))
    assert (uncased.convert_ids_to_tokens(got["masked_lm_ids"][1][:k]) ==
            want["_masked_lm_labels"])


# ----------------------------------------------------------------------------
# Fast path == original path on other flags and awkward input.
# ----------------------------------------------------------------------------


def _run_both(parse_records, tmp_path, input_file,
              output_names=("out.tfrecord",), **flags):
  """Runs the original path and the fast path; returns both parsed outputs."""
  results = []
  for workers in (1, 2):
    outputs = [str(tmp_path / ("w%d_%s" % (workers, n))) for n in output_names]
    count = create_data.run(input_file=input_file, output_file=",".join(outputs),
                            vocab_file=VOCAB, num_workers=workers, **flags)
    parsed = [parse_records(o) for o in outputs]
    assert sum(len(p) for p in parsed) == count
    results.append(parsed)
  return results


FLAG_SETS = {
    "whole_word_mask": dict(do_whole_word_mask=True),
    "cased": dict(do_lower_case=False),
    "short_seq_prob_0.5": dict(short_seq_prob=0.5),
    "masked_lm_prob_0.2": dict(masked_lm_prob=0.2, max_predictions_per_seq=30),
    "dupe_3_seed_7": dict(dupe_factor=3, random_seed=7),
    "short_max_seq_32_wwm_cased": dict(max_seq_length=32, do_whole_word_mask=True,
                                       do_lower_case=False,
                                       max_predictions_per_seq=5),
    "edge_max_seq_5_short_1": dict(max_seq_length=5, max_predictions_per_seq=1,
                                   short_seq_prob=1.0, dupe_factor=1),
    "edge_no_predictions": dict(max_predictions_per_seq=0, dupe_factor=1),
}


@pytest.mark.parametrize("name", sorted(FLAG_SETS))
def test_fast_path_equals_original_path(tmp_path, corpus_files, parse_records,
                                        name):
  flags = dict(max_seq_length=64, max_predictions_per_seq=10, dupe_factor=2,
               random_seed=12345)
  flags.update(FLAG_SETS[name])
  original, fast = _run_both(parse_records, tmp_path, ",".join(corpus_files),
                             **flags)
  assert len(original[0]) > 300
  assert original == fast


def test_fast_path_equals_original_path_three_outputs(tmp_path, corpus_files,
                                                      parse_records):
  names = ("a.tfrecord", "b.tfrecord", "c.tfrecord")
  original, fast = _run_both(parse_records, tmp_path, ",".join(corpus_files),
                             names, max_seq_length=48, dupe_factor=1)
  assert original == fast
  # Round-robin: file k holds instances k, k+3, ... of the one-file output.
  single = str(tmp_path / "single.tfrecord")
  create_data.run(input_file=",".join(corpus_files), output_file=single,
                  vocab_file=VOCAB, max_seq_length=48, dupe_factor=1,
                  num_workers=2)
  single = parse_records(single)
  assert [len(f) for f in fast] == [len(single[k::3]) for k in range(3)]
  for k in range(3):
    assert fast[k] == single[k::3]


def test_glob_pattern_reads_files_in_tf_glob_order(tmp_path, corpus_files,
                                                   parse_records):
  pattern = os.path.join(os.path.dirname(corpus_files[0]), "part*.txt")
  order = tf.io.gfile.glob(pattern)
  assert sorted(order) == sorted(corpus_files)
  by_glob = str(tmp_path / "glob.tfrecord")
  by_list = str(tmp_path / "list.tfrecord")
  create_data.run(input_file=pattern, output_file=by_glob, vocab_file=VOCAB,
                  max_seq_length=64, dupe_factor=1)
  create_data.run(input_file=",".join(order), output_file=by_list,
                  vocab_file=VOCAB, max_seq_length=64, dupe_factor=1)
  assert parse_records(by_glob) == parse_records(by_list)


# ----------------------------------------------------------------------------
# Bad input, atomic output.
# ----------------------------------------------------------------------------


def test_directory_as_input_is_an_error(tmp_path):
  (tmp_path / "sub").mkdir()
  (tmp_path / "a.txt").write_text("some text\n")
  for num_workers in (1, 2):
    with pytest.raises(InputError, match="matches the directory"):
      create_data.run(input_file=str(tmp_path / "*"),
                      output_file=str(tmp_path / "o"), vocab_file=VOCAB,
                      num_workers=num_workers)


def test_missing_output_directory_fails_before_reading(tmp_path):
  with pytest.raises(InputError, match="does not exist"):
    create_data.run(input_file=os.path.join(FIXTURE_DIR, "sample_text.txt"),
                    output_file=str(tmp_path / "no" / "out.tfrecord"),
                    vocab_file=VOCAB)


@pytest.mark.parametrize("num_workers", [1, 2])
def test_interrupted_write_leaves_no_partial_file(tmp_path, monkeypatch,
                                                  num_workers):
  """An interrupt while writing deletes the temporaries and keeps old outputs."""
  outputs = [str(tmp_path / "a.tfrecord"), str(tmp_path / "b.tfrecord")]
  with open(outputs[0], "wb") as f:
    f.write(b"previous complete file")
  if num_workers == 1:
    calls = [0]
    original = reference.features_to_example

    def interrupting_features_to_example(features):
      calls[0] += 1
      if calls[0] == 10:
        raise KeyboardInterrupt
      return original(features)
    monkeypatch.setattr(reference, "features_to_example",
                        interrupting_features_to_example)
  else:
    original_open = tfrecord.open_binary

    class InterruptedFile(object):
      """The second output file is interrupted after a partial write."""

      def __init__(self, path, mode):
        self.file = original_open(path, mode)
        self.second = path.startswith(outputs[1])

      def write(self, data):
        self.file.write(data[:len(data) // 2])
        if self.second:
          raise KeyboardInterrupt
        self.file.write(data[len(data) // 2:])

      def close(self):
        self.file.close()
    monkeypatch.setattr(tfrecord, "open_binary", lambda path, mode: (
        InterruptedFile(path, mode) if "w" in mode else original_open(path, mode)))
  with pytest.raises(KeyboardInterrupt):
    create_data.run(input_file=os.path.join(FIXTURE_DIR, "sample_text.txt"),
                    output_file=",".join(outputs), vocab_file=VOCAB,
                    max_seq_length=64, dupe_factor=2, num_workers=num_workers)
  assert sorted(os.listdir(tmp_path)) == ["a.tfrecord"]
  with open(outputs[0], "rb") as f:
    assert f.read() == b"previous complete file"
