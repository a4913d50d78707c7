"""The `[CLS] a [SEP] b [SEP]` sequence layout, pair truncation, and per-example featurization.

This module is the one owner of BERT's input layout; anything that turns one or
two texts into model input (classifier features, extract_features, the masked
LM, the graph featurizer) should call these functions:

* `truncate_seq_pair(a, b, budget)`: the original's loop, popping the last
  token of the longer list (of b on a tie) until len(a) + len(b) <= budget;
* `pair_lengths(len_a, len_b, budget)`: the lengths that loop leaves, in
  closed form (tested equal to it for every length);
* `pair_layout(a, b, cls, sep, S)`: `cls a sep (b sep)` and its segment ids, a
  pair truncated to S - 3, a single text cut to S - 2.

`convert_single_example` is the original's featurization, readable and one
example at a time; it is the reference the batched path in `features_fast` is
tested against.  Shapes: S = max_seq_length.
"""

from absl import logging

from bert_tf import tokenization
from bert_tf.errors import DataError
from bert_tf.data.examples import (InputFeatures, PaddingInputExample,
                                   is_regression_label_list, where)

# ----------------------------------------------------------------------------
# Layout and truncation
# ----------------------------------------------------------------------------


def check_max_seq_length(max_seq_length):
  """ValueError unless S leaves room for `[CLS] A [SEP] B [SEP]`'s 3 special tokens."""
  if max_seq_length < 3:
    raise ValueError("max_seq_length must be at least 3 ([CLS] A [SEP] B [SEP] "
                     "has 3 special tokens), got %d" % max_seq_length)


def truncate_seq_pair(tokens_a, tokens_b, max_length):
  """Shortens two token lists in place until len(a) + len(b) <= max_length.

  Each step pops the last token of the longer list (of b on a tie), so a short
  sentence keeps its tokens and a long one loses its tail.
  """
  while len(tokens_a) + len(tokens_b) > max_length:
    if len(tokens_a) > len(tokens_b):
      tokens_a.pop()
    else:
      tokens_b.pop()


def pair_lengths(len_a, len_b, max_length):
  """The lengths `truncate_seq_pair` leaves, without popping one token at a time.

  It pops from the longer list (b on a tie) until the total fits: the longer one
  loses the excess if that does not make it the shorter, else both end at half
  the budget, a keeping the odd token (a tie pops b first).
  """
  excess = len_a + len_b - max_length
  if excess <= 0:
    return len_a, len_b
  if len_a > len_b and len_a - len_b >= excess:
    return len_a - excess, len_b
  if len_b >= len_a and len_b - len_a >= excess:
    return len_a, len_b - excess
  return (max_length + 1) // 2, max_length // 2


def pair_layout(a, b, cls, sep, max_seq_length):
  """`cls a sep (b sep)` and its segment ids, truncated as the original.

  a and b are token lists or id lists (truncation only looks at lengths); b is
  None or empty for a single text.  A pair is cut to S - 3 by
  `truncate_seq_pair` (in place), a single text to S - 2; `cls a sep` is
  segment 0 and `b sep` segment 1.
  """
  if b:
    truncate_seq_pair(a, b, max_seq_length - 3)
    return [cls] + a + [sep] + b + [sep], [0] * (len(a) + 2) + [1] * (len(b) + 1)
  seq = [cls] + a[:max_seq_length - 2] + [sep]
  return seq, [0] * len(seq)


def padded_features(input_ids, segment_ids, max_seq_length, label_id):
  """Real-example InputFeatures: ids, mask and segments zero-padded to S."""
  padding = [0] * (max_seq_length - len(input_ids))
  return InputFeatures(input_ids + padding, [1] * len(input_ids) + padding,
                       segment_ids + padding, label_id, is_real_example=True)


def padding_features(max_seq_length):
  """The all-zero features of a PaddingInputExample."""
  return InputFeatures(input_ids=[0] * max_seq_length,
                       input_mask=[0] * max_seq_length,
                       segment_ids=[0] * max_seq_length,
                       label_id=0,
                       is_real_example=False)


# ----------------------------------------------------------------------------
# Labels
# ----------------------------------------------------------------------------


def make_label_map(label_list):
  """{label: id}, or None for a regression label list."""
  if is_regression_label_list(label_list):
    return None
  return {label: i for i, label in enumerate(label_list)}


def example_label_id(example, label_map, label_list):
  """The int id of example.label (float score for regression), or DataError."""
  if label_map is None:
    try:
      return float(example.label)
    except (TypeError, ValueError):
      raise DataError("%s: label %r is not a number (this is a regression "
                      "task)" % (where(example), example.label))
  label_id = label_map.get(example.label)
  if label_id is None:
    raise DataError("%s: label %r is not in the label list %s; fix the row, "
                    "or check --task_name (for tsv/csv: label_list.txt in "
                    "--output_dir)" %
                    (where(example), example.label, list(label_list)))
  return label_id


# ----------------------------------------------------------------------------
# One example (the reference)
# ----------------------------------------------------------------------------


def featurize(example, label_map, label_list, max_seq_length, tokenizer):
  """Tokens and InputFeatures of one real example (the original's layout).

  Returns:
    (tokens, InputFeatures): tokens is `[CLS] A [SEP] (B [SEP])`, unpadded;
    input_ids/input_mask/segment_ids have length max_seq_length.
  """
  tokens_a = tokenizer.tokenize(example.text_a)
  tokens_b = tokenizer.tokenize(example.text_b) if example.text_b else None
  tokens, segment_ids = pair_layout(tokens_a, tokens_b, "[CLS]", "[SEP]", max_seq_length)
  input_ids = tokenizer.convert_tokens_to_ids(tokens)
  return tokens, padded_features(input_ids, segment_ids, max_seq_length,
                                 example_label_id(example, label_map, label_list))


def log_example(example, tokens, feature):
  """The original's INFO log of one converted example ("*** Example ***")."""
  logging.info("*** Example ***")
  logging.info("guid: %s" % (example.guid))
  logging.info("tokens: %s" % " ".join(
      [tokenization.printable_text(x) for x in tokens]))
  logging.info("input_ids: %s" % " ".join([str(x) for x in feature.input_ids]))
  logging.info("input_mask: %s" % " ".join([str(x) for x in feature.input_mask]))
  logging.info("segment_ids: %s" %
               " ".join([str(x) for x in feature.segment_ids]))
  if isinstance(feature.label_id, float):
    logging.info("label: %s (id = %s)" % (example.label, feature.label_id))
  else:
    logging.info("label: %s (id = %d)" % (example.label, feature.label_id))


def convert(ex_index, example, label_map, label_list, max_seq_length,
            tokenizer):
  """convert_single_example with a precomputed label map."""
  if isinstance(example, PaddingInputExample):
    return padding_features(max_seq_length)
  tokens, feature = featurize(example, label_map, label_list, max_seq_length,
                              tokenizer)
  if ex_index < 5:
    log_example(example, tokens, feature)
  return feature


def convert_single_example(ex_index, example, label_list, max_seq_length,
                           tokenizer):
  """Converts one InputExample (or PaddingInputExample) to InputFeatures.

  Exactly the original: tokens_b only when text_b is truthy; pairs truncated
  to S - 3 by `truncate_seq_pair`, singles cut to S - 2; `[CLS] A [SEP]` is
  segment 0 and `B [SEP]` segment 1; ids/mask/segments zero-padded to S.
  The first 5 examples (ex_index < 5) are logged at INFO as the original.

  Args:
    ex_index: position of the example in its file (controls the log).
    example: InputExample or PaddingInputExample.
    label_list: list of labels (id = index), or [None] for regression.
    max_seq_length: S.
    tokenizer: a FullTokenizer.

  Returns:
    InputFeatures with int lists of length S and label_id (int, or float for
    regression); a PaddingInputExample gives zeros, 0, is_real_example False.

  Raises:
    DataError: a label not in label_list (or not a number for regression),
      naming the file and line the example came from.
  """
  check_max_seq_length(max_seq_length)
  return convert(ex_index, example, make_label_map(label_list), label_list,
                 max_seq_length, tokenizer)
