"""SQuAD features, fast: the same features and log as `features`, faster.

`convert_examples_to_features` (the entry point callers use) gives the same
InputFeatures and the same "*** Example ***" log as
`features.convert_examples_to_features_reference`, the original algorithm:
every distinct document word is WordPiece-tokenized once per run and each
paragraph's token/id arrays are gathered once (questions of a paragraph share
its `doc_tokens` list), windows and max-context flags are computed once per
(paragraph, window size) in one pass over the windows, `_improve_answer_span`
compares token lists of the answer's length only (tokens are non-empty and
hold no whitespace, so equal joins mean equal lists), the two position maps
of a feature are built on first access, and the cyclic garbage collector is
paused meanwhile.  Examples it cannot handle exactly (a tokenizer other than
FullTokenizer, a piece missing from the vocab) go through the reference.

Tested equal to the reference in tests/squad/test_features.py: on the real
SQuAD 1.1 / 2.0 fixtures against the original's features and log
(test_features_and_log_match_original), on real SQuAD data at two sizes
(test_fast_equals_reference_on_real_squad), on generated text
(test_fast_equals_reference_on_generated_text) and through cache eviction and
unshared paragraphs (test_fast_path_cache_eviction_and_unshared_paragraphs).
`benchmarks/squad_convert.py` measures the two.
"""


import numpy as np

from bert_tf import tokenization
from bert_tf.data.features_fast import gc_paused
from bert_tf.squad import features
from bert_tf.squad.features import InputFeatures


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
      doc_spans = features.doc_spans_of(num_tokens, max_tokens_for_doc, doc_stride)
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
  """Yields the same InputFeatures (and logs) as features.iter_features_reference.

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
  unique_id = features.FIRST_UNIQUE_ID
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
        for feature in features.iter_features_reference(
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
  features.check_args(max_seq_length, doc_stride, max_tokens_for_doc)
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
    if example_index < features.LOGGED_EXAMPLES:
      features.log_feature(feature, is_training, is_impossible)
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
    converted = iter_features(examples, tokenizer, max_seq_length, doc_stride,
                              max_query_length, is_training)
  else:
    converted = features.iter_features_reference(
        examples, tokenizer, max_seq_length, doc_stride, max_query_length,
        is_training)
  with gc_paused():
    if output_fn is None:
      return list(converted)
    count = 0
    for feature in converted:
      output_fn(feature)
      count += 1
    return count
