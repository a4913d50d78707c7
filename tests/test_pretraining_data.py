"""create_pretraining_data: parity with the original, fast path == original path.

* The fixture command (tests/fixtures/pretraining_data/command.txt) must give
  the original script's 35 records feature for feature, and its log lines.
* The parallel fast path must equal the single-process original path on other
  flags and on awkward input (CR/LF, BOM, Unicode, control characters, several
  files, block boundaries).
* Invariants the original guarantees are checked on the output directly, so an
  algorithm slip shows up even where no reference output exists.
"""
import collections
import csv
import json
import logging as std_logging
import os
import random
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from absl import logging

from bert_tf import pretraining_data as pd
from bert_tf import tokenization
from helpers import FIXTURES, ROOT, TINY

VOCAB = os.path.join(TINY, "vocab.txt")
FIXTURE_DIR = os.path.join(FIXTURES, "pretraining_data")
SCRIPT = os.path.join(ROOT, "create_pretraining_data.py")
FEATURES = ("input_ids", "input_mask", "segment_ids", "masked_lm_positions",
            "masked_lm_ids", "masked_lm_weights", "next_sentence_labels")
# The fixture command (command.txt), as run() arguments.
FIXTURE_FLAGS = dict(do_lower_case=True, max_seq_length=64,
                     max_predictions_per_seq=10, masked_lm_prob=0.15,
                     random_seed=12345, dupe_factor=2, short_seq_prob=0.1)
CLS, SEP, MASK = 101, 102, 103
_ABSL_PREFIX = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ [^\]]+\] ")


@pytest.fixture(scope="module")
def uncased():
  return tokenization.FullTokenizer(VOCAB, True)


@pytest.fixture(scope="module")
def expected_records():
  with open(os.path.join(FIXTURE_DIR, "tf_examples.json"), encoding="utf-8") as f:
    return json.load(f)


def parse_records(path):
  """Every record of a TFRecord file as {feature: list of values} (read by TF)."""
  records = []
  for raw in tf.data.TFRecordDataset(path).as_numpy_iterator():
    example = tf.train.Example.FromString(raw)
    record = {}
    for name, feature in example.features.feature.items():
      kind = feature.WhichOneof("kind")
      record[name] = (kind, list(getattr(feature, kind).value))
    records.append(record)
  return records


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
  old_verbosity = logging.get_verbosity()
  logging.set_verbosity(logging.INFO)
  absl_logger.addHandler(capture)
  yield capture.messages
  absl_logger.removeHandler(capture)
  logging.set_verbosity(old_verbosity)


def run_fixture_command(output_file, num_workers, monkeypatch):
  monkeypatch.chdir(FIXTURE_DIR)
  return pd.run(input_file="sample_text.txt", output_file=output_file,
                vocab_file="../tiny_uncased/vocab.txt", num_workers=num_workers,
                **FIXTURE_FLAGS)


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
                                                  expected_records, num_workers):
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
                                       uncased):
  """The `_tokens` / `_masked_lm_labels` of the fixture decode from our ids."""
  output = str(tmp_path / "out.tfrecord")
  run_fixture_command(output, 2, monkeypatch)
  for got, want in zip(parse_records(output), expected_records):
    n = sum(got["input_mask"][1])
    assert uncased.convert_ids_to_tokens(got["input_ids"][1][:n]) == want["_tokens"]
    k = int(sum(got["masked_lm_weights"][1]))
    assert (uncased.convert_ids_to_tokens(got["masked_lm_ids"][1][:k]) ==
            want["_masked_lm_labels"])


def _strip_absl(stderr):
  return [_ABSL_PREFIX.sub("", line) for line in stderr.splitlines()
          if _ABSL_PREFIX.match(line)]


def test_script_subprocess_fixture_command(tmp_path, expected_records):
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


# ----------------------------------------------------------------------------
# Fast path == original path on other flags and awkward input.
# ----------------------------------------------------------------------------


def _tricky_lines():
  """Unicode / control / long lines from the tokenizer fixture's tricky strings."""
  lines = []
  with open(os.path.join(FIXTURES, "tokenization.jsonl"), encoding="utf-8") as f:
    for line in f:
      row = json.loads(line)
      if row["source"].startswith("tricky") and row["do_lower_case"]:
        lines.append(row["text"].replace("\n", " ").replace("\r", " "))
  return lines


def _cola_sentences(limit):
  path = os.path.join(ROOT, "data", "glue", "CoLA", "train.tsv")
  with open(path, encoding="utf-8", newline="") as f:
    rows = csv.reader(f, delimiter="\t", quotechar=None)
    return [row[3] for _, row in zip(range(limit), rows)]


@pytest.fixture(scope="module")
def corpus_files(tmp_path_factory):
  """Two input files with documents of 1-25 sentences, and some awkward bytes.

  File 1 ends without a blank line, so its last document continues in file 2
  (as in the original).  Contains CRLF, a lone CR inside a line, a BOM,
  whitespace-only and control-only lines, long lines (truncation), one-line
  documents (forced random next) and repeated blank lines.
  """
  rng = random.Random(7)
  sentences = _cola_sentences(900) + _tricky_lines()
  with open(os.path.join(FIXTURE_DIR, "sample_text.txt"), encoding="utf-8") as f:
    sample = f.read()
  rng.shuffle(sentences)
  long_line = " ".join(sentences[:40])
  docs = []
  while sentences:
    size = rng.choice([1, 1, 2, 3, 5, 8, 13, 25])
    docs.append(sentences[:size])
    sentences = sentences[size:]
  docs[3].insert(1, long_line)
  docs[10].append("\x00\x07\u200b")  # tokenizes to nothing: dropped
  docs[11].append("   \t ")           # whitespace only: a document break
  text1 = "\ufeff" + sample + "\n".join("\n".join(d) + "\n" for d in docs[:30])
  text1 = text1.replace("\n", "\r\n", 40)
  text1 = text1.replace("the ", "the\rsame ", 3)
  text2 = "\n\n\n".join("\n".join(d) for d in docs[30:])
  directory = tmp_path_factory.mktemp("corpus")
  path1, path2 = directory / "part1.txt", directory / "part2.txt"
  path1.write_bytes(text1.encode("utf-8"))
  path2.write_bytes(text2.encode("utf-8"))  # no final newline
  return str(path1), str(path2)


def _run_both(tmp_path, input_file, output_names=("out.tfrecord",), **flags):
  """Runs the original path and the fast path; returns both parsed outputs."""
  results = []
  for workers in (1, 2):
    outputs = [str(tmp_path / ("w%d_%s" % (workers, n))) for n in output_names]
    count = pd.run(input_file=input_file, output_file=",".join(outputs),
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
def test_fast_path_equals_original_path(tmp_path, corpus_files, name):
  flags = dict(max_seq_length=64, max_predictions_per_seq=10, dupe_factor=2,
               random_seed=12345)
  flags.update(FLAG_SETS[name])
  original, fast = _run_both(tmp_path, ",".join(corpus_files), **flags)
  assert len(original[0]) > 300
  assert original == fast


def test_fast_path_equals_original_path_three_outputs(tmp_path, corpus_files):
  names = ("a.tfrecord", "b.tfrecord", "c.tfrecord")
  original, fast = _run_both(tmp_path, ",".join(corpus_files), names,
                             max_seq_length=48, dupe_factor=1)
  assert original == fast
  # Round-robin: file k holds instances k, k+3, ... of the one-file output.
  single = str(tmp_path / "single.tfrecord")
  pd.run(input_file=",".join(corpus_files), output_file=single,
         vocab_file=VOCAB, max_seq_length=48, dupe_factor=1, num_workers=2)
  single = parse_records(single)
  assert [len(f) for f in fast] == [len(single[k::3]) for k in range(3)]
  for k in range(3):
    assert fast[k] == single[k::3]


def test_glob_pattern_reads_files_in_tf_glob_order(tmp_path, corpus_files):
  pattern = os.path.join(os.path.dirname(corpus_files[0]), "part*.txt")
  order = tf.io.gfile.glob(pattern)
  assert sorted(order) == sorted(corpus_files)
  by_glob = str(tmp_path / "glob.tfrecord")
  by_list = str(tmp_path / "list.tfrecord")
  pd.run(input_file=pattern, output_file=by_glob, vocab_file=VOCAB,
         max_seq_length=64, dupe_factor=1)
  pd.run(input_file=",".join(order), output_file=by_list, vocab_file=VOCAB,
         max_seq_length=64, dupe_factor=1)
  assert parse_records(by_glob) == parse_records(by_list)


def test_glob_equals_tf_glob(tmp_path, monkeypatch):
  for name in ("b.txt", "a.txt", ".hidden.txt", "c.TXT", "x1.txt", "sub/d.txt"):
    (tmp_path / name).parent.mkdir(exist_ok=True)
    (tmp_path / name).write_text("x\n")
  monkeypatch.chdir(tmp_path)
  for pattern in ("*.txt", "?.txt", "[ab].txt", "[!a].txt", "x[0-9].txt", "*",
                  ".*", "sub/*", "sub/*.txt", "./*.txt", "*.TXT", "a.txt",
                  "missing.txt", "nodir/*.txt", "sub/", "*/d.txt",
                  str(tmp_path / "*.txt"), str(tmp_path) + "/sub/[d].txt"):
    assert pd._glob(pattern) == tf.io.gfile.glob(pattern), pattern  # pylint: disable=protected-access


def test_documents_equal_between_readers(tmp_path, corpus_files):
  """Block reader + parallel fast tokenizer == GFile readline + tokenize_exact."""
  for lower in (True, False):
    tokenizer = tokenization.FullTokenizer(VOCAB, lower)
    reference = [[tokenizer.convert_tokens_to_ids(s) for s in d]
                 for d in pd.read_documents(list(corpus_files), tokenizer)]
    for workers, block_bytes in ((1, 64), (2, 1000), (3, 1 << 18)):
      fast = pd.read_documents_as_ids(list(corpus_files), tokenizer, workers,
                                      block_bytes=block_bytes)
      assert fast == reference, (lower, workers, block_bytes)


@pytest.mark.parametrize("data, expected", [
    # The original's GFile drops every "\r" and splits only at "\n".
    (b"a b\r\nc\rd\n\ne\n", [[["a", "b"], ["cd"]], [["e"]]]),
    # Unterminated last line, and a last "line" of only "\r" (= end of file).
    (b"a\n\n\nb\n\r", [[["a"]], [], [["b"]]]),
    # Whitespace-only line breaks a document; a control-only line is dropped.
    (b"a\n \t \nb\n\x07\x00\nc", [[["a"]], [["b"], ["c"]]]),
    # A BOM is removed by the tokenizer (category Cf) and does not break.
    (b"\xef\xbb\xbfa\n\xef\xbb\xbf\nb\n", [[["a"], ["b"]]]),
])
def test_line_and_document_rules(tmp_path, uncased, data, expected):
  path = tmp_path / "in.txt"
  path.write_bytes(data)
  reference = pd.read_documents([str(path)], uncased)
  assert reference == expected
  fast = pd.read_documents_as_ids([str(path)], uncased, 2, block_bytes=3)
  assert fast == [[uncased.convert_tokens_to_ids(s) for s in d] for d in reference]


def test_document_continues_into_next_file(tmp_path, uncased):
  first, second = tmp_path / "1.txt", tmp_path / "2.txt"
  first.write_text("one\ntwo\n")
  second.write_text("three\n\nfour\n")
  files = [str(first), str(second)]
  assert pd.read_documents(files, uncased) == [[["one"], ["two"], ["three"]],
                                               [["four"]]]
  assert pd.read_documents_as_ids(files, uncased, 2) == [
      [[2028], [2048], [2093]], [[2176]]]


def test_invalid_utf8_is_a_one_line_error_naming_the_line(tmp_path, uncased):
  path = tmp_path / "bad.txt"
  path.write_bytes(b"fine\nalso fine\nbad \xff byte\n")
  for reader in (lambda: pd.read_documents([str(path)], uncased),
                 lambda: pd.read_documents_as_ids([str(path)], uncased, 2)):
    with pytest.raises(pd.InputError, match=r"bad\.txt:3: not valid UTF-8"):
      reader()


# ----------------------------------------------------------------------------
# Building blocks checked against the library / TensorFlow.
# ----------------------------------------------------------------------------


def test_fast_random_draws_exactly_like_random_random():
  for seed in range(5):
    mine, library = random.Random(seed), random.Random(seed)
    fast = pd.FastRandom(mine)
    assert "shuffle" not in vars(fast)  # the re-stated version is in use
    for n in list(range(0, 140)) + [1000, 4097, 20000]:
      a, b = list(range(n)), list(range(n))
      fast.shuffle(a)
      library.shuffle(b)
      assert a == b
      assert fast.randint(0, n) == library.randint(0, n)
      assert fast.random() == library.random()
    assert mine.getstate() == library.getstate()


def test_fast_random_falls_back_for_subclasses():
  class Custom(random.Random):
    pass
  rng = Custom(1)
  fast = pd.FastRandom(rng)
  assert fast.shuffle == rng.shuffle and fast.randint == rng.randint


def instance_features(instance, max_seq_length, max_predictions_per_seq):
  """The padded features a FastInstanceMaker instance tuple stands for."""
  input_ids, len_a, len_b, positions, label_ids, is_random_next = instance
  seq, preds = max_seq_length, max_predictions_per_seq
  n, k = len(input_ids), len(positions)
  return collections.OrderedDict([
      ("input_ids", list(input_ids) + [0] * (seq - n)),
      ("input_mask", [1] * n + [0] * (seq - n)),
      ("segment_ids", [0] * (len_a + 2) + [1] * (len_b + 1) + [0] * (seq - n)),
      ("masked_lm_positions", list(positions) + [0] * (preds - k)),
      ("masked_lm_ids", list(label_ids) + [0] * (preds - k)),
      ("masked_lm_weights", [1.0] * k + [0.0] * (preds - k)),
      ("next_sentence_labels", [1 if is_random_next else 0]),
  ])


def test_example_encoder_parses_like_tf_train_example():
  rng = random.Random(3)
  framer = pd.TFRecordFramer()
  for seq, preds in ((64, 10), (128, 20), (512, 80)):
    encoder = pd.ExampleEncoder(30522, seq, preds)
    for _ in range(50):
      n = rng.randint(5, seq)
      len_a = rng.randint(1, n - 4)
      len_b = n - 3 - len_a
      ids = [CLS] + [rng.randint(0, 30521) for _ in range(n - 1)]
      k = rng.randint(1, preds)
      positions = sorted(rng.sample(range(1, n), min(k, n - 1)))
      labels = [rng.randint(0, 30521) for _ in positions]
      instance = (ids, len_a, len_b, positions, labels, rng.random() < 0.5)
      features = instance_features(instance, seq, preds)
      expected = pd.features_to_example(features)
      serialized = encoder.encode(instance)
      assert tf.train.Example.FromString(serialized) == expected
      framed = framer.frame([serialized])[0]
      assert pd.decode_framed_example(framed) == features
      assert len(features["input_ids"]) == seq
      assert len(features["masked_lm_weights"]) == preds


def test_tfrecord_framing_is_byte_identical_to_tf_writer(tmp_path):
  rng = np.random.RandomState(0)
  records = [b"", b"x", b"123456789"] + [
      rng.bytes(int(n)) for n in rng.randint(1, 3000, size=300)]
  ours, theirs = str(tmp_path / "ours"), str(tmp_path / "theirs")
  writer = pd.TFRecordFileWriter(ours)
  writer.BATCH = 37
  for r in records:
    writer.write(r)
  writer.close()
  with tf.io.TFRecordWriter(theirs) as tf_writer:
    for r in records:
      tf_writer.write(r)
  with open(ours, "rb") as a, open(theirs, "rb") as b:
    assert a.read() == b.read()
  # Known CRC32C check value, unmasked from the TFRecord masking.
  masked = int(pd.Crc32c().masked([b"123456789"])[0])
  rotated = (masked - 0xA282EAD8) & 0xFFFFFFFF
  assert ((rotated << 15) | (rotated >> 17)) & 0xFFFFFFFF == 0xE3069283


def test_truncate_seq_pair_trims_longer_side_with_one_draw_per_token():
  class Recorder(random.Random):
    def __init__(self, values):
      super().__init__(0)
      self.values = list(values)

    def random(self):
      return self.values.pop(0)

  a, b = list("abcdef"), list("xyz")
  # a longer: front, back, front; then 3 vs 3: tie -> b, back.
  rng = Recorder([0.1, 0.9, 0.3, 0.7])
  pd.truncate_seq_pair(a, b, 5, rng)
  assert a == list("cde") and b == list("xy") and rng.values == []


def test_num_masked_positions_rounds_half_to_even():
  assert pd.num_masked_positions(10, 0.25, 20) == 2   # 2.5 -> 2
  assert pd.num_masked_positions(14, 0.25, 20) == 4   # 3.5 -> 4
  assert pd.num_masked_positions(6, 0.25, 20) == 2    # 1.5 -> 2
  assert pd.num_masked_positions(2, 0.25, 20) == 1    # 0.5 -> 0 -> at least 1
  assert pd.num_masked_positions(128, 0.15, 20) == 19
  assert pd.num_masked_positions(200, 0.15, 20) == 20


def test_whole_word_groups_join_across_sep_like_the_original(uncased):
  """A "##" piece right after [SEP] joins the last word of segment A."""
  tokens = ["[CLS]", "em", "##bed", "[SEP]", "##ding", "run", "[SEP]"]
  seen = []

  class Spy(random.Random):
    def shuffle(self, x):
      seen.append([list(g) for g in x])
      x.reverse()

  rng = Spy(0)
  _, positions, labels = pd.create_masked_lm_predictions(
      tokens, 0.5, 20, list(uncased.vocab), rng, do_whole_word_mask=True)
  assert seen == [[[1, 2, 4], [5]]]
  # num_to_predict = round(3.5) = 4: [5] then the 3-piece group fit.
  assert positions == [1, 2, 4, 5] and labels == ["em", "##bed", "##ding", "run"]
  vocabulary = pd.IdVocabulary(uncased.vocab)
  maker = pd.FastInstanceMaker(vocabulary, 64, 0.1, 0.5, 20, random.Random(0),
                               do_whole_word_mask=True)
  ids = uncased.convert_tokens_to_ids(tokens)
  assert maker.candidates(ids, 2) == [[1, 2, 4], [5]]


# ----------------------------------------------------------------------------
# Invariants of the output (independent of any reference implementation).
# ----------------------------------------------------------------------------


def _layout(record):
  ids = record["input_ids"][1]
  n = sum(record["input_mask"][1])
  segments = record["segment_ids"][1]
  len_a = segments.index(1) - 2
  return ids, n, len_a, n - len_a - 3


def check_invariants(records, max_seq_length, max_predictions_per_seq,
                     masked_lm_prob, whole_word, vocab_size=30522):
  """Asserts what every record of the original satisfies; returns counters."""
  counts = collections.Counter()
  for record in records:
    ids, n, len_a, len_b = _layout(record)
    assert len(ids) == max_seq_length and n <= max_seq_length
    assert record["input_mask"][1] == [1] * n + [0] * (max_seq_length - n)
    assert record["segment_ids"][1] == (
        [0] * (len_a + 2) + [1] * (len_b + 1) + [0] * (max_seq_length - n))
    assert len_a >= 1 and len_b >= 1
    assert ids[0] == CLS and ids[len_a + 1] == SEP and ids[n - 1] == SEP
    assert ids[n:] == [0] * (max_seq_length - n)
    weights = record["masked_lm_weights"][1]
    k = int(sum(weights))
    assert weights == [1.0] * k + [0.0] * (max_predictions_per_seq - k)
    positions = record["masked_lm_positions"][1]
    labels = record["masked_lm_ids"][1]
    assert positions[k:] == [0] * (max_predictions_per_seq - k)
    assert labels[k:] == [0] * (max_predictions_per_seq - k)
    real = positions[:k]
    assert real == sorted(set(real))
    assert all(0 < p < n - 1 and p != len_a + 1 for p in real)
    assert all(0 <= label < vocab_size and label not in (CLS, SEP)
               for label in labels[:k])
    budget = min(max_predictions_per_seq, max(1, int(round(n * masked_lm_prob))))
    if whole_word:
      assert 1 <= k <= budget
    else:
      assert k == budget
    if (n * masked_lm_prob) % 1 == 0.5:
      counts["exact_half"] += 1
    for p, label in zip(real, labels[:k]):
      counts["mask" if ids[p] == MASK else "kept" if ids[p] == label else
             "random"] += 1
    counts["random_next" if record["next_sentence_labels"][1] == [1] else
           "is_next"] += 1
  return counts


@pytest.mark.parametrize("whole_word", [False, True])
def test_output_invariants(tmp_path, corpus_files, whole_word):
  output = str(tmp_path / "out.tfrecord")
  pd.run(input_file=",".join(corpus_files), output_file=output, vocab_file=VOCAB,
         max_seq_length=96, max_predictions_per_seq=40, masked_lm_prob=0.25,
         dupe_factor=3, do_whole_word_mask=whole_word, num_workers=2)
  records = parse_records(output)
  counts = check_invariants(records, 96, 40, 0.25, whole_word)
  # n * 0.25 hits .5 exactly for n = 2 mod 4: the half-to-even branch is used.
  assert counts["exact_half"] > 20
  total = counts["mask"] + counts["kept"] + counts["random"]
  assert 0.75 < counts["mask"] / total < 0.85
  assert 0.07 < counts["kept"] / total < 0.14
  assert 0.07 < counts["random"] / total < 0.14
  assert 0.35 < counts["random_next"] / len(records) < 0.7


def test_fixture_output_satisfies_invariants(expected_records):
  records = [{name: (None, r[name]) for name in FEATURES} for r in expected_records]
  counts = check_invariants(records, 64, 10, 0.15, whole_word=False)
  assert counts["is_next"] + counts["random_next"] == 35


def test_segments_come_from_the_documents(tmp_path, uncased):
  """Restored A and B are contiguous spans; IsNext pairs come from one document.

  Every document uses its own words, so the source of each span is known.
  """
  words = [w for w in uncased.vocab
           if w.isascii() and w.isalpha() and len(w) > 3][2000:3200]
  rng = random.Random(11)
  lines, owner = [], {}
  for doc in range(40):
    doc_words = words[doc * 30:(doc + 1) * 30]
    for word in doc_words:
      owner[uncased.vocab[word]] = doc
    for _ in range(rng.randint(1, 12)):
      lines.append(" ".join(rng.choice(doc_words)
                            for _ in range(rng.randint(1, 20))))
    lines.append("")
  path = tmp_path / "docs.txt"
  path.write_text("\n".join(lines))
  output = str(tmp_path / "out.tfrecord")
  pd.run(input_file=str(path), output_file=output, vocab_file=VOCAB,
         max_seq_length=40, max_predictions_per_seq=6, dupe_factor=2)
  documents = {}
  for doc in pd.read_documents_as_ids([str(path)], uncased, 1):
    if doc:
      documents[owner[doc[0][0]]] = sum(doc, [])
  is_next = random_next = 0
  for record in parse_records(output):
    ids, n, len_a, len_b = _layout(record)
    ids = list(ids)
    k = int(sum(record["masked_lm_weights"][1]))
    for p, label in zip(record["masked_lm_positions"][1][:k],
                        record["masked_lm_ids"][1][:k]):
      ids[p] = label
    a, b = ids[1:len_a + 1], ids[len_a + 2:n - 1]
    doc_a, doc_b = owner[a[0]], owner[b[0]]
    for span, doc in ((a, doc_a), (b, doc_b)):
      stream = documents[doc]
      assert any(stream[i:i + len(span)] == span
                 for i in range(len(stream) - len(span) + 1))
    if record["next_sentence_labels"][1] == [0]:
      is_next += 1
      assert doc_a == doc_b
      stream = documents[doc_a]
      text = " ".join(map(str, stream))
      assert text.find(" ".join(map(str, a))) <= text.rfind(" ".join(map(str, b)))
    else:
      random_next += 1
  assert is_next > 20 and random_next > 20


# ----------------------------------------------------------------------------
# Bad input, atomic output.
# ----------------------------------------------------------------------------


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
  with pytest.raises(pd.InputError, match="no documents in %s" % re.escape(str(empty))):
    pd.run(input_file=str(empty), output_file=output, vocab_file=VOCAB,
           num_workers=1)
  assert not os.path.exists(output)


def test_directory_as_input_is_an_error(tmp_path):
  (tmp_path / "sub").mkdir()
  (tmp_path / "a.txt").write_text("some text\n")
  for num_workers in (1, 2):
    with pytest.raises(pd.InputError, match="matches the directory"):
      pd.run(input_file=str(tmp_path / "*"), output_file=str(tmp_path / "o"),
             vocab_file=VOCAB, num_workers=num_workers)


def test_missing_output_directory_fails_before_reading(tmp_path):
  with pytest.raises(pd.InputError, match="does not exist"):
    pd.run(input_file=os.path.join(FIXTURE_DIR, "sample_text.txt"),
           output_file=str(tmp_path / "no" / "out.tfrecord"), vocab_file=VOCAB)


@pytest.mark.parametrize("num_workers", [1, 2])
def test_interrupted_write_leaves_no_partial_file(tmp_path, monkeypatch,
                                                  num_workers):
  """An interrupt while writing deletes the temporaries and keeps old outputs."""
  outputs = [str(tmp_path / "a.tfrecord"), str(tmp_path / "b.tfrecord")]
  with open(outputs[0], "wb") as f:
    f.write(b"previous complete file")
  if num_workers == 1:
    calls = [0]
    original = pd.features_to_example

    def interrupting_features_to_example(features):
      calls[0] += 1
      if calls[0] == 10:
        raise KeyboardInterrupt
      return original(features)
    monkeypatch.setattr(pd, "features_to_example",
                        interrupting_features_to_example)
  else:
    original_open = pd._open_binary  # pylint: disable=protected-access

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
    monkeypatch.setattr(pd, "_open_binary", lambda path, mode: (
        InterruptedFile(path, mode) if "w" in mode else original_open(path, mode)))
  with pytest.raises(KeyboardInterrupt):
    pd.run(input_file=os.path.join(FIXTURE_DIR, "sample_text.txt"),
           output_file=",".join(outputs), vocab_file=VOCAB, max_seq_length=64,
           dupe_factor=2, num_workers=num_workers)
  assert sorted(os.listdir(tmp_path)) == ["a.tfrecord"]
  with open(outputs[0], "rb") as f:
    assert f.read() == b"previous complete file"
