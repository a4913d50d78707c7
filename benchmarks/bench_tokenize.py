"""Tokenization + feature conversion on a GLUE train set: bert_tf's fast path vs the
original Python path, same examples, outputs checked identical.

  fast:      features_fast.convert_examples_to_features(examples, labels, S,
             FullTokenizer)  (ASCII shortcut + per-word WordPiece cache + GC pause);
             and file_based_convert_examples_to_features (hand-encoded records).
  original:  the original algorithm step by step, per example:
             convert_single_example(i, example, ...) with a tokenizer whose
             tokenize() is FullTokenizer.tokenize_exact (BasicTokenizer then
             WordPiece per word) and whose WordPiece scan starts at the end of the
             word, as the original's `end = len(chars)` (bert_tf's longest-piece
             shortcut switched off); for the TFRecord variant each feature becomes a
             tf.train.Example of OrderedDict Int64List features written with
             tf.io.TFRecordWriter, as the original file_based_convert_examples_to_features.

Every repeat builds fresh tokenizers (cold WordPiece cache).  The TSV is read
once, outside the timing.  Prints one line `BENCH_JSON {...}`.
"""

import argparse
import collections
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bert_tf import runtime  # noqa: E402

runtime.configure_process()  # TensorFlow's start-up options, before anything imports TF
import common  # noqa: E402


class OriginalPathTokenizer(object):
  """tokenize() = the original two-stage loop with the original WordPiece scan."""

  def __init__(self, vocab_file, do_lower_case=True):
    from bert_tf import tokenization
    self._full = tokenization.FullTokenizer(vocab_file, do_lower_case=do_lower_case)
    # The original scans each position from the end of the word downwards; bert_tf's
    # WordpieceTokenizer starts at the longest vocab entry (same result, less work).
    self._full.wordpiece_tokenizer._max_piece_chars = 10 ** 9
    self.vocab = self._full.vocab

  def tokenize(self, text):
    return self._full.tokenize_exact(text)

  def convert_tokens_to_ids(self, tokens):
    return self._full.convert_tokens_to_ids(tokens)


def original_features(examples, label_list, seq, tokenizer):
  from bert_tf.data import features as data_features
  features = []
  for ex_index, example in enumerate(examples):
    features.append(data_features.convert_single_example(ex_index, example, label_list,
                                                         seq, tokenizer))
  return features


def original_file(examples, label_list, seq, tokenizer, path):
  import tensorflow as tf
  from bert_tf.data import features as data_features

  def create_int_feature(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=list(values)))

  with tf.io.TFRecordWriter(path) as writer:
    for ex_index, example in enumerate(examples):
      feature = data_features.convert_single_example(ex_index, example, label_list, seq,
                                                     tokenizer)
      features = collections.OrderedDict()
      features["input_ids"] = create_int_feature(feature.input_ids)
      features["input_mask"] = create_int_feature(feature.input_mask)
      features["segment_ids"] = create_int_feature(feature.segment_ids)
      features["label_ids"] = create_int_feature([feature.label_id])
      features["is_real_example"] = create_int_feature([int(feature.is_real_example)])
      example_proto = tf.train.Example(features=tf.train.Features(feature=features))
      writer.write(example_proto.SerializeToString())


def parsed_records(path):
  """The records as tf.train.Example messages (map entry order is not part of the value:
  protobuf serializes map<string, Feature> in its own order)."""
  import tensorflow as tf
  return [tf.train.Example.FromString(r.numpy()) for r in tf.data.TFRecordDataset(path)]


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--task", default="SST-2")
  p.add_argument("--seq", type=int, default=128)
  p.add_argument("--repeats", type=int, default=3)
  p.add_argument("--limit", type=int, default=0, help="first N examples only (smoke runs)")
  p.add_argument("--no_file", action="store_true", help="skip the TFRecord variant")
  args = p.parse_args()
  load_start = common.load1()
  from absl import logging
  logging.set_verbosity(logging.WARNING)  # the 5 example dumps + progress lines, both paths
  from bert_tf import tokenization
  from bert_tf.data import features_fast, records, tasks
  vocab = os.path.join(common.MINILM, "vocab.txt")
  processor = tasks.get_processor(args.task.lower())
  with common.Window() as w:
    examples = processor.get_train_examples(os.path.join(common.GLUE, args.task))
  read_s = w.wall
  if args.limit:
    examples = examples[:args.limit]
  labels = processor.get_labels()
  n = len(examples)
  tmp = tempfile.mkdtemp(prefix="bench_tokenize_")
  times = collections.defaultdict(list)
  identical = {}
  for r in range(args.repeats):
    tok = OriginalPathTokenizer(vocab)
    with common.Window() as w:
      ref = original_features(examples, labels, args.seq, tok)
    times["original_features"].append(w.wall)
    tok = tokenization.FullTokenizer(vocab, do_lower_case=True)
    with common.Window() as w:
      fast = features_fast.convert_examples_to_features(examples, labels, args.seq, tok)
    times["fast_features"].append(w.wall)
    if r == 0:
      identical["features"] = (len(ref) == len(fast) == n and
                               all(a == b for a, b in zip(ref, fast)))
    del ref, fast
    if args.no_file:
      continue
    orig_path, fast_path = os.path.join(tmp, "orig.tfr"), os.path.join(tmp, "fast.tfr")
    tok = OriginalPathTokenizer(vocab)
    with common.Window() as w:
      original_file(examples, labels, args.seq, tok, orig_path)
    times["original_tfrecord"].append(w.wall)
    tok = tokenization.FullTokenizer(vocab, do_lower_case=True)
    with common.Window() as w:
      records.file_based_convert_examples_to_features(examples, labels, args.seq,
                                                      tok, fast_path)
    times["fast_tfrecord"].append(w.wall)
    if r == 0:
      identical["tfrecord_parsed"] = parsed_records(orig_path) == parsed_records(fast_path)
    os.remove(orig_path)
    os.remove(fast_path)
  os.rmdir(tmp)
  out = {"system": "tokenize+features", "mode": "tokenize", "task": args.task,
         "examples": n, "seq": args.seq, "read_tsv_s": round(read_s, 3),
         "identical": identical, "load1_start": load_start, "by_path": {}}
  for key, secs in times.items():
    out["by_path"][key] = {"s": [round(s, 3) for s in secs], "s_min": min(secs),
                           "s_median": statistics.median(secs),
                           "ex_per_s_median": n / statistics.median(secs),
                           "ex_per_s_best": n / min(secs)}
  for kind in ("features", "tfrecord"):
    o, f = out["by_path"].get("original_" + kind), out["by_path"].get("fast_" + kind)
    if o and f:
      out["speedup_" + kind] = {"median": o["s_median"] / f["s_median"],
                                "min": o["s_min"] / f["s_min"]}
  common.emit(out)


if __name__ == "__main__":
  main()
