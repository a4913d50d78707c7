"""SQuAD features: the fixed-length model inputs of each document window.

`convert_examples_to_features` is google-research/bert's function of that
name, feature for feature and log line for log line:

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

Two implementations give identical features and logs:

* `convert_examples_to_features_reference`: the original algorithm step by
  step (tokenizes every word again for every question, rescans all windows
  for each token's max context, joins strings in `_improve_answer_span`).
* `convert_examples_to_features` (the fast path): every distinct document
  word is WordPiece-tokenized once per run and each paragraph's token/id
  arrays are gathered once (questions of a paragraph share its `doc_tokens`
  list), windows and max-context flags are computed once per (paragraph,
  window size) in one pass over the windows, `_improve_answer_span` compares
  token lists of the answer's length only (tokens are non-empty and hold no
  whitespace, so equal joins mean equal lists), the two position maps of a
  feature are built on first access, and the cyclic garbage collector is
  paused meanwhile.  Tested equal to the reference on real SQuAD data and on
  generated text; `benchmarks/squad_convert.py` measures the two.
"""

import collections
import contextlib
import gc

import numpy as np
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


def _check_args(max_seq_length, doc_stride, max_tokens_for_doc):
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


def _log_feature(feature, is_training, is_impossible):
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
    _check_args(max_seq_length, doc_stride, max_tokens_for_doc)
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
        _log_feature(feature, is_training, example.is_impossible)
      yield feature
      unique_id += 1


def convert_examples_to_features_reference(examples, tokenizer, max_seq_length,
                                           doc_stride, max_query_length,
                                           is_training, output_fn=None):
  """The original algorithm; same arguments and result as the fast path below."""
  return _emit(list(iter_features_reference(
      examples, tokenizer, max_seq_length, doc_stride, max_query_length,
      is_training)), output_fn)


# ----------------------------------------------------------------------------
# Fast path
# ----------------------------------------------------------------------------


# Paragraphs kept tokenized (with their windows); shuffled training examples
# revisit paragraphs in any order, so the cache is bounded, not per run.
_PARAGRAPH_CACHE_SIZE = 1024
# Questions are tokenized in batches of this many examples.
_QUESTION_BATCH = 512


class _Window(object):
  """The query-independent parts of one window (max_context True: all True)."""

  __slots__ = ("start", "length", "orig", "max_context", "tail_tokens", "ids")

  def __init__(self, paragraph, start, length, max_context):
    end = start + length
    self.start = start
    self.length = length
    self.orig = paragraph.tok_to_orig[start:end]
    self.max_context = max_context
    self.tail_tokens = paragraph.tokens[start:end] + ["[SEP]"]
    self.ids = paragraph.ids[start:end]


class _Paragraph(object):
  """A paragraph's WordPiece tokens, ids and word maps, computed once.

  `exact` is False when a piece is missing from the vocab (only possible
  without "[UNK]"); such examples go through the reference path.
  """

  def __init__(self, exact, tokens=None, ids=None, tok_to_orig=None,
               orig_to_tok=None):
    self.exact = exact
    self.tokens = tokens
    self.ids = ids
    self.tok_to_orig = tok_to_orig
    self.orig_to_tok = orig_to_tok
    self.layouts = {}  # (max_tokens_for_doc, doc_stride) or "one" -> [_Window]

  def windows(self, max_tokens_for_doc, doc_stride):
    num_tokens = len(self.tokens)
    key = "one" if num_tokens <= max_tokens_for_doc else (max_tokens_for_doc, doc_stride)
    windows = self.layouts.get(key)
    if windows is None:
      doc_spans = doc_spans_of(num_tokens, max_tokens_for_doc, doc_stride)
      flags = _max_context_flags(doc_spans, num_tokens)
      windows = [_Window(self, span.start, span.length, flags[k])
                 for k, span in enumerate(doc_spans)]
      self.layouts[key] = windows
    return windows


def _max_context_flags(doc_spans, num_tokens):
  """Per window, the max-context flag of each of its tokens, in one pass.

  Same float scores and strict-greater rule as _check_is_max_context, so the
  same window wins every position.
  """
  if len(doc_spans) == 1:
    return [True]
  best_score = np.full(num_tokens, -np.inf)
  best_span = np.full(num_tokens, -1, np.int64)
  for span_index, span in enumerate(doc_spans):
    offsets = np.arange(span.length)
    score = np.minimum(offsets, span.length - 1 - offsets) + 0.01 * span.length
    sl = slice(span.start, span.start + span.length)
    better = score > best_score[sl]
    best_score[sl] = np.where(better, score, best_score[sl])
    best_span[sl] = np.where(better, span_index, best_span[sl])
  return [(best_span[span.start:span.start + span.length] == span_index).tolist()
          for span_index, span in enumerate(doc_spans)]


def _fast_improve_answer_span(doc_tokens, input_start, input_end, answer_tokens):
  """_improve_answer_span on token lists: only the answer's length can match.

  WordPiece tokens are non-empty and hold no whitespace, so two " "-joins are
  equal exactly when the token lists are.
  """
  n = len(answer_tokens)
  if n == 0:
    return input_start, input_end
  for new_start in range(input_start, input_end + 1):
    new_end = new_start + n - 1
    if new_end > input_end:
      break
    if doc_tokens[new_start:new_end + 1] == answer_tokens:
      return new_start, new_end
  return input_start, input_end


class _WordTable(object):
  """Every distinct document word's WordPiece ids, tokenized once per run.

  Words get consecutive numbers; `flat[offsets[k]:offsets[k] + lengths[k]]`
  are word k's ids (length -1: a piece missing from the vocab).
  """

  def __init__(self, tokenizer):
    self.tokenizer = tokenizer
    self.number = {}
    self.flat = np.zeros(0, np.int64)
    self.offsets = np.zeros(0, np.int64)
    self.lengths = np.zeros(0, np.int64)

  def add(self, words):
    """The numbers of `words` as an array, tokenizing the words not seen yet."""
    number = self.number
    new = [w for w in dict.fromkeys(words) if w not in number]
    if new:
      tokenizer = self.tokenizer
      tokenize, vocab = tokenizer.tokenize, tokenizer.vocab
      wordpiece = tokenizer.wordpiece_tokenizer.tokenize_word
      lower = tokenizer.do_lower_case
      flat, lengths = [], []
      for word in new:
        if word.isascii() and word.isalnum():
          # BasicTokenizer leaves an ASCII letters-and-digits word whole
          # (lower-cased when uncased): only WordPiece is left to do.
          pieces = wordpiece(word.lower() if lower else word)
        else:
          pieces = tokenize(word)
        ids = [vocab.get(t) for t in pieces]
        if None in ids:
          lengths.append(-1)
        else:
          lengths.append(len(ids))
          flat.extend(ids)
      lengths = np.array(lengths, np.int64)
      starts = np.cumsum(np.maximum(lengths, 0)) - np.maximum(lengths, 0)
      flat = np.array(flat, np.int64)
      number.update(zip(new, range(len(number), len(number) + len(new))))
      self.offsets = np.concatenate([self.offsets, starts + len(self.flat)])
      self.lengths = np.concatenate([self.lengths, lengths])
      self.flat = np.concatenate([self.flat, flat])
    return np.array(list(map(number.__getitem__, words)), np.int64)

  def paragraphs(self, paragraphs, token_table):
    """_Paragraph of each word list in `paragraphs`, all gathered at once."""
    counts = np.array([len(words) for words in paragraphs], np.int64)
    numbers = self.add([w for words in paragraphs for w in words])
    lengths = self.lengths[numbers]
    word_starts = np.cumsum(counts) - counts
    paragraph_of_word = np.repeat(np.arange(len(paragraphs)), counts)
    exact = np.ones(len(paragraphs), bool)
    exact[paragraph_of_word[lengths < 0]] = False
    lengths = np.maximum(lengths, 0)
    firsts = np.cumsum(lengths) - lengths  # first token of each word, run-wide
    index = (np.repeat(self.offsets[numbers] - firsts, lengths) +
             np.arange(int(lengths.sum())))
    ids = self.flat[index]
    ids_list = ids.tolist()
    tokens = token_table[ids].tolist()
    bounds = np.append(firsts, int(lengths.sum()))  # + the end of the last word
    token_starts = bounds[word_starts].tolist()
    token_ends = bounds[word_starts + counts].tolist()
    local_word = np.arange(len(numbers)) - np.repeat(word_starts, counts)
    tok_to_orig = np.repeat(local_word, lengths).tolist()
    orig_to_tok = (firsts - np.repeat(np.array(token_starts, np.int64), counts)).tolist()
    out = []
    for k, (w0, count) in enumerate(zip(word_starts.tolist(), counts.tolist())):
      if not exact[k]:
        out.append(_Paragraph(False))
        continue
      t0, t1 = token_starts[k], token_ends[k]
      out.append(_Paragraph(True, tokens[t0:t1], ids_list[t0:t1],
                            tok_to_orig[t0:t1], orig_to_tok[w0:w0 + count]))
    return out


def _tokenize_chunk(chunk, paragraphs, words, token_table, max_query_length):
  """Tokenizes a chunk's questions and new paragraphs.

  Adds the new paragraphs to `paragraphs` (id(doc_tokens) -> (doc_tokens,
  _Paragraph)) and returns each example's (query tokens, query ids or None).
  """
  tokenizer = words.tokenizer
  new = {}
  for example in chunk:
    key = id(example.doc_tokens)
    entry = paragraphs.get(key)
    if entry is None or entry[0] is not example.doc_tokens:
      new[key] = example.doc_tokens
  for (key, doc_words), paragraph in zip(
      new.items(), words.paragraphs(list(new.values()), token_table)):
    paragraphs[key] = (doc_words, paragraph)
  vocab = tokenizer.vocab
  queries = []
  for example in chunk:
    tokens = tokenizer.tokenize(example.question_text)[:max_query_length]
    ids = [vocab.get(t) for t in tokens]
    # A piece missing from the vocab: the reference decides.
    queries.append((tokens, None if None in ids else ids))
  return queries


def iter_features(examples, tokenizer, max_seq_length, doc_stride,
                  max_query_length, is_training):
  """Yields the same InputFeatures (and logs) as iter_features_reference, faster.

  Needs a bert_tf FullTokenizer (its vocab and WordPiece).  An example with a
  piece missing from the vocab goes through the reference, so it fails (or
  not) exactly where the original would.
  """
  if not isinstance(examples, (list, tuple)):
    examples = list(examples)
  vocab = tokenizer.vocab
  cls_id, sep_id = vocab.get("[CLS]"), vocab.get("[SEP]")
  inv_vocab = tokenizer.inv_vocab
  token_table = np.empty(max(inv_vocab, default=-1) + 1, object)  # id -> token
  token_table[:] = list(map(inv_vocab.get, range(len(token_table))))
  templates = {}  # (doc_offset, length) -> (input_mask, segment_ids, padding)
  paragraphs = {}  # id(doc_tokens) -> (doc_tokens, _Paragraph)
  words = _WordTable(tokenizer)
  unique_id = FIRST_UNIQUE_ID
  for chunk_start in range(0, len(examples), _QUESTION_BATCH):
    chunk = examples[chunk_start:chunk_start + _QUESTION_BATCH]
    if len(paragraphs) >= _PARAGRAPH_CACHE_SIZE:
      paragraphs.clear()
    queries = _tokenize_chunk(chunk, paragraphs, words, token_table,
                              max_query_length)
    for example_index, example in enumerate(chunk, chunk_start):
      query_tokens, query_ids = queries[example_index - chunk_start]
      paragraph = paragraphs[id(example.doc_tokens)][1]
      if not paragraph.exact or cls_id is None or sep_id is None or query_ids is None:
        for feature in iter_features_reference(
            [example], tokenizer, max_seq_length, doc_stride, max_query_length,
            is_training, first_unique_id=unique_id,
            first_example_index=example_index):
          yield feature
          unique_id += 1
        continue
      for feature in _example_features(
          example, example_index, unique_id, paragraph, query_tokens, query_ids,
          tokenizer, max_seq_length, doc_stride, is_training, cls_id, sep_id,
          templates):
        yield feature
        unique_id += 1


def _example_features(example, example_index, unique_id, paragraph, query_tokens,
                      query_ids, tokenizer, max_seq_length, doc_stride,
                      is_training, cls_id, sep_id, templates):
  """The features of one example whose tokens are all in the vocab."""
  all_doc_tokens = paragraph.tokens
  is_impossible = example.is_impossible
  answerable = is_training and not is_impossible
  if answerable:
    orig_to_tok = paragraph.orig_to_tok
    tok_start_position = orig_to_tok[example.start_position]
    if example.end_position < len(example.doc_tokens) - 1:
      tok_end_position = orig_to_tok[example.end_position + 1] - 1
    else:
      tok_end_position = len(all_doc_tokens) - 1
    tok_start_position, tok_end_position = _fast_improve_answer_span(
        all_doc_tokens, tok_start_position, tok_end_position,
        tokenizer.tokenize(example.orig_answer_text))

  query_length = len(query_tokens)
  max_tokens_for_doc = max_seq_length - query_length - 3
  _check_args(max_seq_length, doc_stride, max_tokens_for_doc)
  head_tokens = ["[CLS]"] + query_tokens + ["[SEP]"]
  head_ids = [cls_id] + query_ids + [sep_id]
  doc_offset = query_length + 2
  for doc_span_index, window in enumerate(
      paragraph.windows(max_tokens_for_doc, doc_stride)):
    length = window.length
    template = templates.get((doc_offset, length))
    if template is None:
      used = doc_offset + length + 1
      padding = [0] * (max_seq_length - used)
      template = ([1] * used + padding,
                  [0] * doc_offset + [1] * (length + 1) + padding,
                  [sep_id] + padding)
      templates[(doc_offset, length)] = template
    start_position = end_position = None
    if answerable:
      if (tok_start_position >= window.start and
          tok_end_position <= window.start + length - 1):
        start_position = tok_start_position - window.start + doc_offset
        end_position = tok_end_position - window.start + doc_offset
      else:
        start_position = end_position = 0
    elif is_training:
      start_position = end_position = 0
    feature = InputFeatures(
        unique_id, example_index, doc_span_index, head_tokens + window.tail_tokens,
        None, None, head_ids + window.ids + template[2], template[0][:],
        template[1][:], start_position, end_position, is_impossible)
    feature._window = window  # pylint: disable=protected-access
    feature._doc_offset = doc_offset  # pylint: disable=protected-access
    if example_index < LOGGED_EXAMPLES:
      _log_feature(feature, is_training, is_impossible)
    yield feature
    unique_id += 1


def convert_examples_to_features(examples, tokenizer, max_seq_length,
                                 doc_stride, max_query_length, is_training,
                                 output_fn=None):
  """Converts SquadExamples to InputFeatures, as the original (fast path).

  Args:
    examples: list of SquadExample (training: in the order to convert, i.e.
      after records.shuffle_training_examples for run_squad's train records).
    tokenizer: tokenization.FullTokenizer (any other tokenizer object with
      tokenize/convert_tokens_to_ids, subclasses included, goes through the
      reference path).
    max_seq_length, doc_stride, max_query_length: as the original flags.
    is_training: compute answer positions (0/0 outside the window).
    output_fn: called with each feature in order, as the original's callback;
      None returns the list instead.

  Returns:
    The list of InputFeatures, or their number when output_fn is given.
  """
  if type(tokenizer) is tokenization.FullTokenizer:  # pylint: disable=unidiomatic-typecheck
    features = iter_features(examples, tokenizer, max_seq_length, doc_stride,
                             max_query_length, is_training)
  else:
    features = iter_features_reference(examples, tokenizer, max_seq_length,
                                       doc_stride, max_query_length, is_training)
  with _gc_paused():
    if output_fn is None:
      return list(features)
    count = 0
    for feature in features:
      output_fn(feature)
      count += 1
    return count


@contextlib.contextmanager
def _gc_paused():
  """No cyclic garbage collection while features pile up (they hold no cycles).

  Each feature is a handful of new lists; with the collector on, its passes
  over the growing feature list cost more than building the features.  On
  exit the survivors are moved to the oldest generation (freeze + unfreeze)
  instead of being scanned once more.
  """
  enabled = gc.isenabled()
  gc.disable()
  try:
    yield
  finally:
    if enabled:
      gc.freeze()
      gc.unfreeze()
      gc.enable()
