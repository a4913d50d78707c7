"""SQuAD feature conversion: the original run_squad's code path vs bert_tf's fast path.

Three conversions of the same examples, in the same process, alternating,
each with a fresh tokenizer (as a new run_squad process would have):

* "original code path" (the headline): `convert_examples_to_features_reference`
  (the original algorithm step by step) with the original's uncached
  two-stage tokenizer (FullTokenizer.tokenize_exact), i.e. what the original
  run_squad.py does per example;
* "fast": `convert_examples_to_features`, what bert_tf's run_squad uses;
* "reference, cached tokenizer": the original algorithm with bert_tf's cached
  tokenizer (how much is the algorithm, how much the tokenizer).

Reports the worst of N runs of each (wall and CPU seconds) and the speed-ups,
and checks the three outputs are identical.

  python benchmarks/squad_convert.py [--squad FILE] [--vocab FILE] [--runs 3]

Default input: the 1,407 questions of the shared SQuAD 2.0 dev sample with
run_squad's default max_seq_length=384, doc_stride=128, max_query_length=64.
"""

import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import logging  # pylint: disable=g-import-not-at-top

from bert_tf import tokenization
from bert_tf.squad import examples as squad_examples
from bert_tf.squad import features as squad_features
from bert_tf.squad import features_fast

ORIGINAL = "original code path"
CACHED = "reference, cached tokenizer"
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _as_dicts(features):
  return [(f.unique_id, f.example_index, f.doc_span_index, f.tokens,
           list(f.token_to_orig_map.items()), list(f.token_is_max_context.items()),
           f.input_ids, f.input_mask, f.segment_ids, f.start_position,
           f.end_position, f.is_impossible) for f in features]


class _OriginalTokenizer(object):
  """FullTokenizer with the original's uncached two-stage tokenize."""

  def __init__(self, tokenizer):
    self.vocab = tokenizer.vocab
    self._tokenizer = tokenizer

  def tokenize(self, text):
    return self._tokenizer.tokenize_exact(text)

  def convert_tokens_to_ids(self, tokens):
    return self._tokenizer.convert_tokens_to_ids(tokens)


def _timed(function, examples, vocab, is_training, args, original_tokenizer=False):
  tokenizer = tokenization.FullTokenizer(vocab, do_lower_case=True)
  if original_tokenizer:
    tokenizer = _OriginalTokenizer(tokenizer)
  wall, cpu = time.perf_counter(), time.process_time()
  features = function(examples, tokenizer, args.max_seq_length, args.doc_stride,
                      args.max_query_length, is_training)
  return time.perf_counter() - wall, time.process_time() - cpu, features


def _training_copy(path):
  """The file with only the first answer of each question (train style)."""
  with open(path, encoding="utf-8") as f:
    data = json.load(f)
  for article in data["data"]:
    for paragraph in article["paragraphs"]:
      for qa in paragraph["qas"]:
        qa["answers"] = qa["answers"][:1]
  handle, out = tempfile.mkstemp(suffix=".json")
  with os.fdopen(handle, "w", encoding="utf-8") as f:
    json.dump(data, f)
  return out


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--squad", default="/work/shared/data/squad/squad_v2.0_dev_first5articles.json")
  parser.add_argument("--vocab", default=os.path.join(_ROOT, "tests", "fixtures", "tiny_uncased", "vocab.txt"))
  parser.add_argument("--runs", type=int, default=3)
  parser.add_argument("--max_seq_length", type=int, default=384)
  parser.add_argument("--doc_stride", type=int, default=128)
  parser.add_argument("--max_query_length", type=int, default=64)
  args = parser.parse_args()
  logging.set_verbosity(logging.WARNING)

  train_file = _training_copy(args.squad)
  try:
    modes = [
        ("predict", squad_examples.read_squad_examples(args.squad, False, True), False),
        ("train", squad_examples.read_squad_examples(train_file, True, True), True),
    ]
  finally:
    os.remove(train_file)
  for mode, examples, is_training in modes:
    runs = {ORIGINAL: [], "fast": [], CACHED: []}
    for _ in range(args.runs):
      wall, cpu, original = _timed(
          squad_features.convert_examples_to_features_reference, examples,
          args.vocab, is_training, args, original_tokenizer=True)
      runs[ORIGINAL].append((wall, cpu))
      wall, cpu, fast = _timed(features_fast.convert_examples_to_features,
                               examples, args.vocab, is_training, args)
      runs["fast"].append((wall, cpu))
      wall, cpu, reference = _timed(
          squad_features.convert_examples_to_features_reference, examples,
          args.vocab, is_training, args)
      runs[CACHED].append((wall, cpu))
      assert _as_dicts(original) == _as_dicts(fast), "fast path differs from the original's"
      assert _as_dicts(reference) == _as_dicts(fast), "fast path differs from the reference"
    worst = {k: (max(w for w, _ in v), max(c for _, c in v)) for k, v in runs.items()}
    print("%s: %d questions -> %d features (identical)" % (mode, len(examples), len(fast)))
    for name, (wall, cpu) in worst.items():
      print("  %-32s worst of %d: wall %.3f s, cpu %.3f s" % (name, args.runs, wall, cpu))
    for name in worst:
      if name != "fast":
        print("  speed-up vs %s: wall %.1fx, cpu %.1fx" % (
            name, worst[name][0] / worst["fast"][0], worst[name][1] / worst["fast"][1]))


if __name__ == "__main__":
  main()
