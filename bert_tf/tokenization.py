"""WordPiece tokenization with the exact behaviour of google-research/bert.

This module is written by hand on purpose: every peer tokenizer (tensorflow-text,
keras-hub, HF fast tokenizers) differs from the original on some inputs (NFKC
case-folding, NUL handling, a 100-*byte* word limit, ...), and a fine-tuned
checkpoint is only as good as the ids it was trained on.  The functions below
follow the original algorithm step by step:

  BasicTokenizer:  convert_to_unicode -> drop NUL/U+FFFD/control chars and map
                   whitespace to " " -> pad CJK ideographs with spaces ->
                   whitespace split -> (uncased only) str.lower() + NFD + drop Mn
                   -> split every punctuation char off -> whitespace split.
  WordpieceTokenizer: greedy longest-match-first from the left, "##" on
                   non-initial pieces; a word longer than 200 characters, or
                   one with any unmatchable position, becomes "[UNK]".

`FullTokenizer.tokenize` is the fast path: an ASCII shortcut for the basic step
and a per-word cache for WordPiece.  Both are exact by construction and are
tested equal to the step-by-step path (`FullTokenizer.tokenize_exact`).
"""

import collections
import re
import unicodedata

import numpy as np
from absl import logging

from bert_tf.errors import InputError

_LOWER_MODELS = (
    "uncased_L-24_H-1024_A-16",
    "uncased_L-12_H-768_A-12",
    "multilingual_L-12_H-768_A-12",
    "chinese_L-12_H-768_A-12",
)
_CASED_MODELS = (
    "cased_L-12_H-768_A-12",
    "cased_L-24_H-1024_A-16",
    "multi_cased_L-12_H-768_A-12",
)


def validate_case_matches_checkpoint(do_lower_case, init_checkpoint):
  """Raises ValueError when `do_lower_case` contradicts a known Google model name."""
  if not init_checkpoint:
    return
  m = re.match(r"^.*?([A-Za-z0-9_-]+)/bert_model.ckpt", init_checkpoint)
  if m is None:
    return
  model_name = m.group(1)
  bad = None
  if model_name in _LOWER_MODELS and not do_lower_case:
    bad = ("False", "lowercased", "True")
  if model_name in _CASED_MODELS and do_lower_case:
    bad = ("True", "cased", "False")
  if bad:
    actual_flag, case_name, opposite_flag = bad
    raise ValueError(
        "You passed in `--do_lower_case=%s` with `--init_checkpoint=%s`. "
        "However, `%s` seems to be a %s model, so you "
        "should pass in `--do_lower_case=%s` so that the fine-tuning matches "
        "how the model was pre-training. If this error is wrong, please "
        "just comment out this check." %
        (actual_flag, init_checkpoint, model_name, case_name, opposite_flag))


def convert_to_unicode(text):
  """str is returned as is; bytes are decoded as UTF-8, dropping invalid bytes."""
  if isinstance(text, str):
    return text
  if isinstance(text, (bytes, bytearray, np.bytes_)):
    return bytes(text).decode("utf-8", "ignore")
  raise ValueError("Unsupported string type: %s" % (type(text)))


# On Python 3 the original's printable_text is the same function.
printable_text = convert_to_unicode


def read_vocab_tokens(vocab_file):
  """The tokens of a vocabulary file in line order (token i has id i).

  Like the original (tf.gfile readline), lines end only at "\\n" and each line
  is `strip()`ped (so a blank line is the token "").
  """
  try:
    with open(vocab_file, "r", encoding="utf-8", newline="\n") as reader:
      tokens = [line.strip() for line in reader]
  except FileNotFoundError:
    raise ValueError("%s: vocab file not found; pass the vocab.txt that "
                     "came with the checkpoint (--vocab_file)" % vocab_file)
  except UnicodeDecodeError as e:
    raise ValueError("%s: vocab file is not UTF-8 text (byte %d)" %
                     (vocab_file, e.start))
  except IsADirectoryError:
    raise ValueError("%s: is a directory, expected the vocab.txt file" % vocab_file)
  if not tokens:
    raise ValueError("%s: vocab file is empty" % vocab_file)
  return tokens


def load_vocab(vocab_file):
  """Reads a vocabulary file into an OrderedDict token -> id (id = line number).

  Exactly the original's ids: lines as `read_vocab_tokens` reads them, and a
  duplicated token keeps the id of its last line (`check_vocab` refuses such a
  vocab for the scripts).
  """
  vocab = collections.OrderedDict()
  for index, token in enumerate(read_vocab_tokens(vocab_file)):
    vocab[token] = index
  return vocab


def convert_by_vocab(vocab, items):
  return [vocab[item] for item in items]


def convert_tokens_to_ids(vocab, tokens):
  return convert_by_vocab(vocab, tokens)


def convert_ids_to_tokens(inv_vocab, ids):
  return convert_by_vocab(inv_vocab, ids)


def whitespace_tokenize(text):
  """strip() then split() on any whitespace, as the original."""
  text = text.strip()
  if not text:
    return []
  return text.split()


def _is_whitespace(char):
  if char == " " or char == "\t" or char == "\n" or char == "\r":
    return True
  return unicodedata.category(char) == "Zs"


def _is_control(char):
  if char == "\t" or char == "\n" or char == "\r":
    return False
  return unicodedata.category(char) in ("Cc", "Cf")


def _is_punctuation(char):
  cp = ord(char)
  if (33 <= cp <= 47) or (58 <= cp <= 64) or (91 <= cp <= 96) or (123 <= cp <= 126):
    return True
  return unicodedata.category(char).startswith("P")


def _is_chinese_char(cp):
  """CJK Unified Ideographs blocks only (not Hangul, Hiragana or Katakana)."""
  return ((0x4E00 <= cp <= 0x9FFF) or (0x3400 <= cp <= 0x4DBF) or
          (0x20000 <= cp <= 0x2A6DF) or (0x2A700 <= cp <= 0x2B73F) or
          (0x2B740 <= cp <= 0x2B81F) or (0x2B820 <= cp <= 0x2CEAF) or
          (0xF900 <= cp <= 0xFAFF) or (0x2F800 <= cp <= 0x2FA1F))


class BasicTokenizer(object):
  """Punctuation splitting, lower-casing and accent stripping (exact original)."""

  def __init__(self, do_lower_case=True):
    self.do_lower_case = do_lower_case

  def tokenize(self, text):
    text = convert_to_unicode(text)
    text = self._clean_text(text)
    text = self._tokenize_chinese_chars(text)
    split_tokens = []
    for token in whitespace_tokenize(text):
      if self.do_lower_case:
        token = token.lower()
        token = self._run_strip_accents(token)
      split_tokens.extend(self._run_split_on_punc(token))
    return whitespace_tokenize(" ".join(split_tokens))

  def _run_strip_accents(self, text):
    text = unicodedata.normalize("NFD", text)
    return "".join(c for c in text if unicodedata.category(c) != "Mn")

  def _run_split_on_punc(self, text):
    output = []
    start_new_word = True
    for char in text:
      if _is_punctuation(char):
        output.append([char])
        start_new_word = True
      else:
        if start_new_word:
          output.append([])
        start_new_word = False
        output[-1].append(char)
    return ["".join(x) for x in output]

  def _tokenize_chinese_chars(self, text):
    output = []
    for char in text:
      if _is_chinese_char(ord(char)):
        output.extend((" ", char, " "))
      else:
        output.append(char)
    return "".join(output)

  def _clean_text(self, text):
    output = []
    for char in text:
      cp = ord(char)
      if cp == 0 or cp == 0xFFFD or _is_control(char):
        continue
      output.append(" " if _is_whitespace(char) else char)
    return "".join(output)


class WordpieceTokenizer(object):
  """Greedy longest-match-first WordPiece (exact original)."""

  def __init__(self, vocab, unk_token="[UNK]", max_input_chars_per_word=200):
    self.vocab = vocab
    self.unk_token = unk_token
    self.max_input_chars_per_word = max_input_chars_per_word
    # A candidate longer than the longest vocab entry can never match, so the
    # inner scan may start there instead of at the end of the word.  This does
    # not change the result (the first match scanning downwards is the same).
    self._max_piece_chars = max((len(k) for k in vocab), default=0)

  def tokenize(self, text):
    output_tokens = []
    for token in whitespace_tokenize(convert_to_unicode(text)):
      output_tokens.extend(self.tokenize_word(token))
    return output_tokens

  def tokenize_word(self, token):
    """WordPiece of one whitespace-free token."""
    n = len(token)
    if n > self.max_input_chars_per_word:
      return [self.unk_token]
    vocab = self.vocab
    sub_tokens = []
    start = 0
    while start < n:
      end = min(n, start + self._max_piece_chars)
      cur_substr = None
      while start < end:
        substr = token[start:end]
        if start > 0:
          substr = "##" + substr
        if substr in vocab:
          cur_substr = substr
          break
        end -= 1
      if cur_substr is None:
        return [self.unk_token]
      sub_tokens.append(cur_substr)
      start = end
    return sub_tokens


# ASCII fast path of BasicTokenizer: for pure-ASCII text the original reduces to
# "delete C0 controls and DEL except \t\n\r (which become spaces), optionally
# lower-case, split on spaces, split off every ASCII punctuation character".
# (No ASCII char is Mn, CJK or Zs, and str.lower() of ASCII is ASCII.)
_ASCII_CLEAN = {c: None for c in list(range(0, 32)) + [127]}
_ASCII_CLEAN.update({ord("\t"): " ", ord("\n"): " ", ord("\r"): " "})
_ASCII_PUNCT = r"!-/:-@\[-`{-~"
_ASCII_SPLIT = re.compile(r"[^ %s]+|[%s]" % (_ASCII_PUNCT, _ASCII_PUNCT))
# Batch form: ASCII texts joined by " \ue000 " go through the clean and lower-case
# steps as one string, then str.split() (after cleaning, the only whitespace left
# in ASCII text is " ") -- the separator is a chunk of its own.  Each
# space-free chunk's ids are its _ASCII_SPLIT words' WordPiece ids, cached per
# chunk as int32 bytes, so a whole batch's ids are one bytes join.
_BATCH_SEPARATOR = " \ue000 "
_SEPARATOR_ID, _MISSING_ID = -1, -2  # markers in a batch's flat ids
_SEPARATOR_BYTES = np.array([_SEPARATOR_ID], np.int32).tobytes()
_MISSING_BYTES = np.array([_MISSING_ID], np.int32).tobytes()
_CHUNK_CACHE_SIZE = 1_000_000


class FullTokenizer(object):
  """BasicTokenizer then WordPiece, as the original FullTokenizer."""

  def __init__(self, vocab_file, do_lower_case=True):
    self.vocab = load_vocab(vocab_file)
    self.inv_vocab = {v: k for k, v in self.vocab.items()}
    self.do_lower_case = do_lower_case
    self.basic_tokenizer = BasicTokenizer(do_lower_case=do_lower_case)
    self.wordpiece_tokenizer = WordpieceTokenizer(vocab=self.vocab)
    self._word_cache = {}
    self._chunk_ids_cache = {_BATCH_SEPARATOR.strip(): _SEPARATOR_BYTES}

  def tokenize(self, text):
    """Fast path; always equal to `tokenize_exact`."""
    text = convert_to_unicode(text)
    if text.isascii():
      text = text.translate(_ASCII_CLEAN)
      if self.do_lower_case:
        text = text.lower()
      words = _ASCII_SPLIT.findall(text)
    else:
      words = self.basic_tokenizer.tokenize(text)
    cache = self._word_cache
    out = []
    for word in words:
      pieces = cache.get(word)
      if pieces is None:
        pieces = self._pieces(word)
      out.extend(pieces)
    return out

  def tokenize_to_ids_batch(self, texts):
    """The ids of each text: [convert_tokens_to_ids(tokenize(t)) for t in texts].

    A text with a word piece that is not in the vocab (only possible when
    "[UNK]" is missing from it) gives None instead of raising, so the caller
    can fall back to the token path and fail (or not, after truncation)
    exactly where the original would.  See tokenize_to_id_spans.
    """
    flat, spans = self.tokenize_to_id_spans(texts)
    return [None if span is None else flat[span[0]:span[1]] for span in spans]

  def tokenize_to_id_spans(self, texts):
    """All texts' ids in one flat list: (flat, spans), text i's ids being
    flat[spans[i][0]:spans[i][1]] (spans[i] None: a piece missing, as above).

    Faster than one text at a time: the ASCII texts are cleaned, lower-cased
    and split as one joined string, each new space-free chunk goes through the
    basic split and WordPiece once (then a chunk -> ids cache), and the ids of
    all texts come out of one bytes join.
    """
    texts = [convert_to_unicode(t) for t in texts]
    ascii_texts = [t for t in texts if t.isascii()]
    flat, bounds, missing = [], [], set()
    if ascii_texts:
      joined = _BATCH_SEPARATOR.join(ascii_texts + [""])  # the last text ends with one too
      if not all(map(str.isprintable, ascii_texts)):  # ASCII: False only for C0 and DEL
        joined = joined.translate(_ASCII_CLEAN)
      if self.do_lower_case:
        joined = joined.lower()
      chunks = joined.split()
      cache = self._chunk_ids_cache
      pieces = list(map(cache.get, chunks))
      if None in pieces:  # chunks not cached yet: basic split + WordPiece once each
        new = {}
        for chunk in set(chunks).difference(cache):
          ids = self._ids_or_none([p for word in _ASCII_SPLIT.findall(chunk)
                                   for p in self._pieces(word)])
          new[chunk] = _MISSING_BYTES if ids is None else np.array(ids, np.int32).tobytes()
        pieces = list(map(new.get, chunks, pieces))  # new.get(chunk, cached ids)
        if len(cache) < _CHUNK_CACHE_SIZE:
          cache.update(new)
      packed = b"".join(pieces)
      ids = np.frombuffer(packed, np.int32)
      flat = ids.tolist()
      bounds = np.flatnonzero(ids == _SEPARATOR_ID).tolist()
      missing_positions = np.flatnonzero(ids == _MISSING_ID)
      if missing_positions.size:  # the texts holding them: their separator is the next one
        missing = set(np.searchsorted(bounds, missing_positions).tolist())
    spans = [None] * len(texts)
    k, start = 0, 0
    for i, text in enumerate(texts):
      if text.isascii():
        end = bounds[k]
        if k not in missing:
          spans[i] = (start, end)
        k, start = k + 1, end + 1
      else:
        ids = self._ids_or_none(self.tokenize(text))
        if ids is not None:
          spans[i] = (len(flat), len(flat) + len(ids))
          flat.extend(ids)
    return flat, spans

  def _pieces(self, word):
    """WordPiece tokens of one basic-tokenized word (cached)."""
    pieces = self._word_cache.get(word)
    if pieces is None:
      pieces = self.wordpiece_tokenizer.tokenize_word(word)
      if len(self._word_cache) < _CHUNK_CACHE_SIZE:
        self._word_cache[word] = pieces
    return pieces

  def _ids_or_none(self, tokens):
    vocab = self.vocab
    if all(t in vocab for t in tokens):
      return [vocab[t] for t in tokens]
    return None

  def tokenize_exact(self, text):
    """The original two-stage loop, step by step (the reference for tests)."""
    split_tokens = []
    for token in self.basic_tokenizer.tokenize(text):
      for sub_token in self.wordpiece_tokenizer.tokenize(token):
        split_tokens.append(sub_token)
    return split_tokens

  def convert_tokens_to_ids(self, tokens):
    return convert_by_vocab(self.vocab, tokens)

  def convert_ids_to_tokens(self, ids):
    return convert_by_vocab(self.inv_vocab, ids)


# The special tokens the scripts look up.  [UNK] is what WordPiece gives an
# unknown word, [CLS]/[SEP] frame every sequence, [MASK] is what the masked-LM
# data and fill_mask.py write.  [PAD] is not looked up (padding is id 0), so a
# vocab without it still runs, as with the original (check_vocab warns).
SPECIAL_TOKENS = ("[UNK]", "[CLS]", "[SEP]")
MASKED_LM_TOKENS = SPECIAL_TOKENS + ("[MASK]",)
PAD_TOKEN = "[PAD]"


def load_tokenizer(vocab_file, do_lower_case, vocab_size=None, bert_config_file=None,
                   needed=SPECIAL_TOKENS):
  """The FullTokenizer of `vocab_file`, after `check_vocab` (duplicates, the
  special tokens in `needed`, the size against the config's vocab_size)."""
  check_vocab(read_vocab_tokens(vocab_file), vocab_file, needed, vocab_size, bert_config_file)
  return FullTokenizer(vocab_file=vocab_file, do_lower_case=do_lower_case)


def check_vocab(tokens, vocab_file, needed=SPECIAL_TOKENS, vocab_size=None,
                bert_config_file=None):
  """Fails (one line naming the file and the line) for a vocab that would give wrong ids.

  tokens: `read_vocab_tokens(vocab_file)`.  The original checks none of this and
  trains on shifted or changed ids:
  * a token on two lines: the original gives it the id of the later line, so
    the checkpoint's row for the earlier one is never used;
  * a special token of `needed` missing: WordPiece / the feature writer look
    it up (and a deleted line shifts every later id against the checkpoint);
  * more lines than vocab_size (check_vocab_size).
  Blank lines are not tokens (they keep their id, as in the original, and are
  never looked up), so several of them are not duplicates.
  """
  first_line = {}
  duplicates = []
  for number, token in enumerate(tokens, 1):
    if not token:
      continue
    if token in first_line:
      duplicates.append((number, token, first_line[token]))
    else:
      first_line[token] = number
  if duplicates:
    number, token, first = duplicates[0]
    more = (" (and %d more repeated lines)" % (len(duplicates) - 1)) if len(duplicates) > 1 else ""
    raise InputError(
        "%s line %d: the token %r is also on line %d%s; the original silently gives a "
        "repeated token the id of its last line, so the checkpoint's other row for it is "
        "never used. Use the vocab.txt that came with the checkpoint (or, for a vocab of your "
        "own, delete the repeated line)" % (vocab_file, number, token, first, more))
  missing = [token for token in needed if token not in first_line]
  if missing:
    raise InputError(
        "%s: no %s line in the vocab; this script needs %s, and in a vocab.txt with a "
        "deleted line every later id is shifted against the checkpoint. Use the vocab.txt "
        "that came with the checkpoint" % (vocab_file, " or ".join(missing),
                                           "it" if len(missing) == 1 else "them"))
  if PAD_TOKEN not in first_line:
    logging.warning(
        "%s has no %s line. This runs (padding is id 0, as in the original), but BERT's "
        "vocab files have %s on line 1: if it was deleted, every id is shifted by one against "
        "the checkpoint.", vocab_file, PAD_TOKEN, PAD_TOKEN)
  if vocab_size is not None:
    check_vocab_size(tokens, vocab_size, vocab_file, bert_config_file)


def check_vocab_size(tokens, vocab_size, vocab_file, bert_config_file):
  """Fails before any work when vocab.txt has more ids than the embedding table.

  tokens: `read_vocab_tokens(vocab_file)` (or the OrderedDict of `load_vocab`).
  The count is the ids the file gives (its lines, up to the last non-blank
  one), not its distinct tokens.  The original would look up ids past
  vocab_size - 1 and train on NaN/garbage (google-research/bert #82, #354).
  Fewer ids only leave rows unused (a padded vocab size), with a warning.
  """
  if isinstance(tokens, dict):
    tokens = sorted(tokens, key=tokens.get)
  n = len(tokens)
  while n and not tokens[n - 1]:
    n -= 1  # trailing blank lines give no id that is ever looked up
  if n > vocab_size:
    raise InputError(
        "%s has %d tokens but %s says vocab_size = %d: ids past %d would index outside the "
        "embedding table (NaN/garbage, google-research/bert #82); line %d (%r) is the first "
        "of them. Use the vocab.txt that came with the checkpoint." %
        (vocab_file, n, bert_config_file, vocab_size, vocab_size - 1, vocab_size + 1,
         tokens[vocab_size]))
  if n < vocab_size:
    logging.warning(
        "%s has %d tokens, %d fewer than vocab_size = %d in %s: the last %d row(s) of the "
        "embedding table are never used. That is normal for a vocab size padded to a round "
        "number; but if lines were deleted from the vocab.txt the checkpoint was trained with, "
        "every id after them is shifted: use that file.",
        vocab_file, n, vocab_size - n, vocab_size, bert_config_file, vocab_size - n)
