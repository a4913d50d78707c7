"""SQuAD features: the original convert_examples_to_features, step by step.

`convert_examples_to_features_reference` is google-research/bert's
convert_examples_to_features, feature for feature and log line for log line,
kept readable (it tokenizes every word again for every question, rescans all
windows for each token's max context, joins strings in
`_improve_answer_span`).  It is the reference the fast path in
`features_fast` is tested against.  The algorithm:

1. The question is WordPiece-tokenized and cut to `max_query_length` tokens.
2. Every document word is WordPiece-tokenized, giving `all_doc_tokens` with
   `tok_to_orig_index` (token -> word) and `orig_to_tok_index` (word -> first
   token).
3. Training, answerable: the token span of the answer words is narrowed by
   `_improve_answer_span` to the first (start ascending, end descending)
   sub-span whose tokens equal the tokenized answer text.
4. Windows of at most `max_seq_length - len(query) - 3` document tokens,
   starting at 0 and advancing by `min(length, doc_stride)` until one reaches
   the end of the document.
5. A token is "max context" in the first window where
   `min(left, right) + 0.01 * window_length` is highest.
6. Layout `[CLS] query [SEP] doc [SEP]`, segment ids 0 then 1 (the final
   [SEP] included), mask 1 on real tokens, zero padding to max_seq_length.
7. Training positions: sequence positions of the answer when the window
   holds all of it, else 0/0 ([CLS]); impossible examples 0/0 everywhere.
8. unique_id counts from 1000000000 over all features; an "*** Example ***"
   INFO block is logged for every window of the first 20 examples.

InputFeatures, the windows (`doc_spans_of`), the size checks and the log block
are shared with the fast path.
"""

import collections

from absl import logging

from bert_tf import tokenization

FIRST_UNIQUE_ID = 1000000000
# Windows of the first LOGGED_EXAMPLES examples are logged, as the original.
LOGGED_EXAMPLES = 20


class InputFeatures(object):
  """One window of one example, as the original InputFeatures.

  token_to_orig_map / token_is_max_context: sequence position of a document
  token -> its word index in example.doc_tokens / whether this window is its
  max-context window (insertion order = position order).  start_position /
  end_position are None outside training.

  The fast path leaves the two maps pending (`_window`, `_doc_offset`) and
  builds them as plain dicts on first access: training records never need
  them, and they are the bulk of a feature.
  """

  def __init__(self, unique_id, example_index, doc_span_index, tokens,
               token_to_orig_map, token_is_max_context, input_ids, input_mask,
               segment_ids, start_position=None, end_position=None,
               is_impossible=None):
    self.unique_id = unique_id
    self.example_index = example_index
    self.doc_span_index = doc_span_index
    self.tokens = tokens
    self._token_to_orig_map = token_to_orig_map
    self._token_is_max_context = token_is_max_context
    self._window = None
    self._doc_offset = None
    self.input_ids = input_ids
    self.input_mask = input_mask
    self.segment_ids = segment_ids
    self.start_position = start_position
    self.end_position = end_position
    self.is_impossible = is_impossible

  def _build_maps(self):
    window, self._window = self._window, None
    keys = range(self._doc_offset, self._doc_offset + window.length)
    self._token_to_orig_map = dict(zip(keys, window.orig))
    if window.max_context is True:
      self._token_is_max_context = dict.fromkeys(keys, True)
    else:
      self._token_is_max_context = dict(zip(keys, window.max_context))

  @property
  def token_to_orig_map(self):
    if self._window is not None:
      self._build_maps()
    return self._token_to_orig_map

  @token_to_orig_map.setter
  def token_to_orig_map(self, value):
    if self._window is not None:
      self._build_maps()
    self._token_to_orig_map = value

  @property
  def token_is_max_context(self):
    if self._window is not None:
      self._build_maps()
    return self._token_is_max_context

  @token_is_max_context.setter
  def token_is_max_context(self, value):
    if self._window is not None:
      self._build_maps()
    self._token_is_max_context = value


DocSpan = collections.namedtuple("DocSpan", ["start", "length"])


def check_args(max_seq_length, doc_stride, max_tokens_for_doc):
  # The original loops forever here; its flag checks only catch part of it.
  if doc_stride < 1:
    raise ValueError("doc_stride must be at least 1, got %d" % doc_stride)
  if max_tokens_for_doc < 1:
    raise ValueError(
        "max_seq_length (%d) leaves no room for document tokens after the "
        "question and [CLS]/[SEP]/[SEP]; it must be greater than "
        "max_query_length + 3" % max_seq_length)


def doc_spans_of(num_tokens, max_tokens_for_doc, doc_stride):
  """The original's sliding windows over `num_tokens` document tokens."""
  doc_spans = []
  start_offset = 0
  while start_offset < num_tokens:
    length = num_tokens - start_offset
    if length > max_tokens_for_doc:
      length = max_tokens_for_doc
    doc_spans.append(DocSpan(start=start_offset, length=length))
    if start_offset + length == num_tokens:
      break
    start_offset += min(length, doc_stride)
  return doc_spans


def _improve_answer_span(doc_tokens, input_start, input_end, tokenizer,
                         orig_answer_text):
  """The first sub-span of [input_start, input_end] equal to the tokenized answer.

  E.g. the answer "1895" in "(1895-1943)." is word-aligned to the whole word
  but matches its tokens exactly at "1895"; with no match the span is kept.
  """
  tok_answer_text = " ".join(tokenizer.tokenize(orig_answer_text))
  for new_start in range(input_start, input_end + 1):
    for new_end in range(input_end, new_start - 1, -1):
      text_span = " ".join(doc_tokens[new_start:(new_end + 1)])
      if text_span == tok_answer_text:
        return new_start, new_end
  return input_start, input_end


def _check_is_max_context(doc_spans, cur_span_index, position):
  """Whether window `cur_span_index` is the max-context window of `position`.

  Score of a window holding the token: min(left context, right context) +
  0.01 * window length; the first window with the highest score wins.
  """
  best_score = None
  best_span_index = None
  for span_index, doc_span in enumerate(doc_spans):
    end = doc_span.start + doc_span.length - 1
    if position < doc_span.start:
      continue
    if position > end:
      continue
    num_left_context = position - doc_span.start
    num_right_context = end - position
    score = min(num_left_context, num_right_context) + 0.01 * doc_span.length
    if best_score is None or score > best_score:
      best_score = score
      best_span_index = span_index
  return cur_span_index == best_span_index


def log_feature(feature, is_training, is_impossible):
  """The original's "*** Example ***" INFO block of one feature.

  Not built when INFO is off (a long document's first example can have
  thousands of windows).
  """
  if not logging.get_absl_logger().isEnabledFor(logging.converter.STANDARD_INFO):
    return
  logging.info("*** Example ***")
  logging.info("unique_id: %s" % (feature.unique_id))
  logging.info("example_index: %s" % (feature.example_index))
  logging.info("doc_span_index: %s" % (feature.doc_span_index))
  logging.info("tokens: %s" % " ".join(
      [tokenization.printable_text(x) for x in feature.tokens]))
  logging.info("token_to_orig_map: %s" % " ".join(
      ["%d:%d" % (x, y) for (x, y) in feature.token_to_orig_map.items()]))
  logging.info("token_is_max_context: %s" % " ".join(
      ["%d:%s" % (x, y) for (x, y) in feature.token_is_max_context.items()]))
  logging.info("input_ids: %s" % " ".join([str(x) for x in feature.input_ids]))
  logging.info("input_mask: %s" % " ".join([str(x) for x in feature.input_mask]))
  logging.info("segment_ids: %s" % " ".join([str(x) for x in feature.segment_ids]))
  if is_training and is_impossible:
    logging.info("impossible example")
  if is_training and not is_impossible:
    start, end = feature.start_position, feature.end_position
    answer_text = " ".join(feature.tokens[start:(end + 1)])
    logging.info("start_position: %d" % (start))
    logging.info("end_position: %d" % (end))
    logging.info("answer: %s" % (tokenization.printable_text(answer_text)))


def _emit(features, output_fn):
  if output_fn is None:
    return features
  for feature in features:
    output_fn(feature)
  return len(features)


# ----------------------------------------------------------------------------
# Reference: the original algorithm, step by step
# ----------------------------------------------------------------------------


def iter_features_reference(examples, tokenizer, max_seq_length, doc_stride,
                            max_query_length, is_training, *,
                            first_unique_id=FIRST_UNIQUE_ID, first_example_index=0):
  """Yields the InputFeatures of `examples` exactly as the original computes them.

  first_unique_id / first_example_index: where the numbering starts (the fast
  path converts single examples this way).
  """
  unique_id = first_unique_id
  for example_index, example in enumerate(examples, first_example_index):
    query_tokens = tokenizer.tokenize(example.question_text)
    if len(query_tokens) > max_query_length:
      query_tokens = query_tokens[0:max_query_length]

    tok_to_orig_index = []
    orig_to_tok_index = []
    all_doc_tokens = []
    for i, token in enumerate(example.doc_tokens):
      orig_to_tok_index.append(len(all_doc_tokens))
      for sub_token in tokenizer.tokenize(token):
        tok_to_orig_index.append(i)
        all_doc_tokens.append(sub_token)

    tok_start_position = None
    tok_end_position = None
    if is_training and example.is_impossible:
      tok_start_position = -1
      tok_end_position = -1
    if is_training and not example.is_impossible:
      tok_start_position = orig_to_tok_index[example.start_position]
      if example.end_position < len(example.doc_tokens) - 1:
        tok_end_position = orig_to_tok_index[example.end_position + 1] - 1
      else:
        tok_end_position = len(all_doc_tokens) - 1
      tok_start_position, tok_end_position = _improve_answer_span(
          all_doc_tokens, tok_start_position, tok_end_position, tokenizer,
          example.orig_answer_text)

    # [CLS], [SEP] and [SEP].
    max_tokens_for_doc = max_seq_length - len(query_tokens) - 3
    check_args(max_seq_length, doc_stride, max_tokens_for_doc)
    doc_spans = doc_spans_of(len(all_doc_tokens), max_tokens_for_doc, doc_stride)

    for doc_span_index, doc_span in enumerate(doc_spans):
      tokens = []
      token_to_orig_map = {}
      token_is_max_context = {}
      segment_ids = []
      tokens.append("[CLS]")
      segment_ids.append(0)
      for token in query_tokens:
        tokens.append(token)
        segment_ids.append(0)
      tokens.append("[SEP]")
      segment_ids.append(0)

      for i in range(doc_span.length):
        split_token_index = doc_span.start + i
        token_to_orig_map[len(tokens)] = tok_to_orig_index[split_token_index]
        token_is_max_context[len(tokens)] = _check_is_max_context(
            doc_spans, doc_span_index, split_token_index)
        tokens.append(all_doc_tokens[split_token_index])
        segment_ids.append(1)
      tokens.append("[SEP]")
      segment_ids.append(1)

      input_ids = tokenizer.convert_tokens_to_ids(tokens)
      input_mask = [1] * len(input_ids)
      while len(input_ids) < max_seq_length:
        input_ids.append(0)
        input_mask.append(0)
        segment_ids.append(0)

      start_position = None
      end_position = None
      if is_training and not example.is_impossible:
        doc_start = doc_span.start
        doc_end = doc_span.start + doc_span.length - 1
        if not (tok_start_position >= doc_start and tok_end_position <= doc_end):
          start_position = 0
          end_position = 0
        else:
          doc_offset = len(query_tokens) + 2
          start_position = tok_start_position - doc_start + doc_offset
          end_position = tok_end_position - doc_start + doc_offset
      if is_training and example.is_impossible:
        start_position = 0
        end_position = 0

      feature = InputFeatures(
          unique_id=unique_id,
          example_index=example_index,
          doc_span_index=doc_span_index,
          tokens=tokens,
          token_to_orig_map=token_to_orig_map,
          token_is_max_context=token_is_max_context,
          input_ids=input_ids,
          input_mask=input_mask,
          segment_ids=segment_ids,
          start_position=start_position,
          end_position=end_position,
          is_impossible=example.is_impossible)
      if example_index < LOGGED_EXAMPLES:
        log_feature(feature, is_training, example.is_impossible)
      yield feature
      unique_id += 1


def convert_examples_to_features_reference(examples, tokenizer, max_seq_length,
                                           doc_stride, max_query_length,
                                           is_training, output_fn=None):
  """The original algorithm, with the same arguments and result as the fast
  path, features_fast.convert_examples_to_features."""
  return _emit(list(iter_features_reference(
      examples, tokenizer, max_seq_length, doc_stride, max_query_length,
      is_training)), output_fn)
