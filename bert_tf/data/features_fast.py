"""Batched featurization of many examples: the fast path of `features.convert_single_example`.

With a FullTokenizer, texts are tokenized a chunk at a time straight to ids
(`FullTokenizer.tokenize_to_id_spans`) and each feature is built from slices of the
chunk's flat id list, with `features.pair_lengths` (the closed form of the
original's truncation loop) in place of popping tokens.  The result is the
same list of InputFeatures and the same log as calling
`features.convert_single_example` on every example: tests/data/test_features.py
compares the two on every shipped GLUE file and on random pairs.
"""

import contextlib
import gc

from absl import logging

from bert_tf.data import features
from bert_tf.data.examples import InputFeatures, PaddingInputExample

# Examples tokenized per call of a tokenizer's tokenize_to_id_spans.
_TOKENIZE_CHUNK = 4096


def iter_features(examples, label_list, max_seq_length, tokenizer):
  """Yields the InputFeatures of `examples` in order, logging like the original.

  With a FullTokenizer the texts are tokenized a chunk at a time straight to
  ids and each feature is built from slices of the chunk's flat id list -- the
  same lists `features.featurize` builds.  Any other tokenizer object, and any
  example whose ids could not be looked up, takes the original per-example
  token path (`features.convert`).
  """
  features.check_max_seq_length(max_seq_length)
  label_map = features.make_label_map(label_list)
  total = len(examples)
  id_spans = getattr(tokenizer, "tokenize_to_id_spans", None)
  vocab = getattr(tokenizer, "vocab", {})
  cls, sep = vocab.get("[CLS]"), vocab.get("[SEP]")
  if id_spans is None or cls is None or sep is None:
    for ex_index, example in enumerate(examples):
      if ex_index % 10000 == 0:
        logging.info("Writing example %d of %d" % (ex_index, total))
      yield features.convert(ex_index, example, label_map, label_list, max_seq_length,
                             tokenizer)
    return
  seq = max_seq_length
  zeros = [0] * seq
  masks = [[1] * n + [0] * (seq - n) for n in range(seq + 1)]  # copied per feature
  pair_segments = {}  # (len(cls a sep), len(b sep)) -> segment ids, copied per feature
  for chunk_start in range(0, total, _TOKENIZE_CHUNK):
    part = examples[chunk_start:chunk_start + _TOKENIZE_CHUNK]
    texts = []
    for example in part:
      if not isinstance(example, PaddingInputExample):
        texts.append(example.text_a)
        if example.text_b:
          texts.append(example.text_b)
    flat, spans = id_spans(texts)
    next_span = iter(spans).__next__
    for ex_index, example in enumerate(part, chunk_start):
      if ex_index % 10000 == 0:
        logging.info("Writing example %d of %d" % (ex_index, total))
      if isinstance(example, PaddingInputExample):
        yield features.padding_features(seq)
        continue
      text_b = example.text_b
      span_a = next_span()
      span_b = next_span() if text_b else None
      if span_a is None or (text_b and span_b is None):
        yield features.convert(ex_index, example, label_map, label_list, seq, tokenizer)
        continue
      label_id = label_map.get(example.label) if label_map is not None else None
      if label_id is None:  # regression, or DataError
        label_id = features.example_label_id(example, label_map, label_list)
      start_a, end_a = span_a
      if span_b is not None and span_b[1] > span_b[0]:  # a pair (tokens_b non-empty)
        start_b, end_b = span_b
        len_a, len_b = features.pair_lengths(end_a - start_a, end_b - start_b, seq - 3)
        n = len_a + len_b + 3
        input_ids = [cls, *flat[start_a:start_a + len_a], sep,
                     *flat[start_b:start_b + len_b], sep, *zeros[n:]]
        segments = pair_segments.get((len_a, len_b))
        if segments is None:
          segments = pair_segments[(len_a, len_b)] = (
              [0] * (len_a + 2) + [1] * (len_b + 1) + zeros[n:])
        segment_ids = segments[:]
      else:  # a single text, or an empty tokens_b: cut to S - 2
        end_a = min(end_a, start_a + seq - 2)
        n = end_a - start_a + 2
        input_ids = [cls, *flat[start_a:end_a], sep, *zeros[n:]]
        segment_ids = zeros[:]
      feature = InputFeatures(input_ids, masks[n][:], segment_ids, label_id, True)
      if ex_index < 5:
        features.log_example(example, tokenizer.convert_ids_to_tokens(input_ids[:n]),
                             feature)
      yield feature


@contextlib.contextmanager
def gc_paused():
  """Pauses the cyclic garbage collector during a bulk conversion.

  Featurization allocates only acyclic lists and bytes, but millions of them:
  with the collector on, its repeated scans of the growing feature list make
  SST-2's in-memory conversion ~2.5x slower.  Reference counting still frees
  everything; the collector is restored afterwards.
  """
  was_enabled = gc.isenabled()
  gc.disable()
  try:
    yield
  finally:
    if was_enabled:
      # Everything allocated meanwhile sits in the youngest generation, and the
      # first collection after enable() would scan all of it (~20% of SST-2's
      # conversion time).  freeze() + unfreeze() moves every tracked object to
      # the oldest generation without a scan; cycles are still collected there.
      gc.freeze()
      gc.unfreeze()
      gc.enable()


def convert_examples_to_features(examples, label_list, max_seq_length,
                                 tokenizer):
  """Converts N examples to a list of N InputFeatures (in order).

  Logs "Writing example %d of %d" every 10000 examples, as the original.
  """
  with gc_paused():
    return list(iter_features(examples, label_list, max_seq_length, tokenizer))
