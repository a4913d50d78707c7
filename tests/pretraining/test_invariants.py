"""Invariants the original guarantees, checked on the output directly.

An algorithm slip shows up here even where no reference output exists.
"""
import collections
import os
import random

import pytest

from bert_tf.pretraining import corpus
from bert_tf.pretraining import create_data
from helpers import TINY

VOCAB = os.path.join(TINY, "vocab.txt")
FEATURES = ("input_ids", "input_mask", "segment_ids", "masked_lm_positions",
            "masked_lm_ids", "masked_lm_weights", "next_sentence_labels")
CLS, SEP, MASK = 101, 102, 103


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
def test_output_invariants(tmp_path, corpus_files, parse_records, whole_word):
  output = str(tmp_path / "out.tfrecord")
  create_data.run(input_file=",".join(corpus_files), output_file=output,
                  vocab_file=VOCAB, max_seq_length=96, max_predictions_per_seq=40,
                  masked_lm_prob=0.25, dupe_factor=3,
                  do_whole_word_mask=whole_word, num_workers=2)
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


def test_segments_come_from_the_documents(tmp_path, uncased, parse_records):
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
  create_data.run(input_file=str(path), output_file=output, vocab_file=VOCAB,
                  max_seq_length=40, max_predictions_per_seq=6, dupe_factor=2)
  documents = {}
  for doc in corpus.read_documents_as_ids([str(path)], uncased, 1):
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
