"""The in-graph tokenizer: FullTokenizer + run_classifier's feature layout as core TF ops.

`TextFeaturizer` turns [B] strings (or pairs) into the int32 [B,S]
input_ids / input_mask / segment_ids that run_classifier.py computes between a
TSV row and the model: FullTokenizer's BasicTokenizer + WordPiece,
bert_tf.data.features.truncate_seq_pair, the `[CLS] a [SEP] b [SEP]` layout and zero padding to
`max_seq_length`.  The serving export (bert_tf.interop.serving) puts it in a
SavedModel.  Tested against the Python FullTokenizer (bert_tf.tokenization) and
the original convert_single_example on every shipped GLUE row and adversarial
strings (tests/interop/test_serving.py).

It is built from core TensorFlow ops only (regex_replace, unicode_split, hash
tables, substr, a while loop), not from tensorflow-text: tensorflow-text
kernels are not registered in `saved_model_cli`, TF Serving builds without
them, or a plain `tf.saved_model.load` that did not import tensorflow_text, and
its normalizers differ from the original anyway (NFKC case-folding,
NUL/U+FFFD handling, 100-byte words: see the README table).  The character
classes and per-character maps are generated at build time from
`bert_tf.tokenization` (the exact original) and the running Python's
`unicodedata`, so the graph agrees with FullTokenizer by construction:

  1. invalid UTF-8 -> U+FFFD (then deleted, like the original's
     decode(errors="ignore")); delete NUL, U+FFFD, Cc, Cf (but \\t\\n\\r);
     whitespace (\\t\\n\\r, Zs, and U+2028/U+2029 on which str.split() splits)
     -> " "; pad CJK ideographs with spaces.
  2. uncased only: Greek capital sigma in word-final position -> final sigma
     (str.lower()'s one context-dependent rule), with the cased and
     case-ignorable classes measured on str.lower() itself.
  3. a per-character map: (uncased) str.lower(), NFD, drop Mn; then spaces
     around every punctuation character of the original's definition.
  4. split on spaces; WordPiece by greedy longest-match-first over the vocab
     hash table; a word of more than 200 characters, or with an unmatched
     position, becomes [UNK].

Known difference (documented in the README): step 3 decomposes character by
character, so a run of non-Mn combining marks with non-zero combining classes
typed out of canonical order is not reordered as whole-string NFD would.
"""

import functools
import unicodedata

import tensorflow as tf

from bert_tf import tokenization

# A value no character maps to (U+FFFF is a noncharacter), marking "unchanged".
_UNCHANGED = "\uffff\uffff"
_SIGMA = "\u03a3"
_FINAL_SIGMA = "\u03c2"
_MAX_WORD_CHARS = 200  # the original WordpieceTokenizer's max_input_chars_per_word


def _code_points():
  """Every Unicode scalar value (surrogates cannot occur in valid UTF-8)."""
  return (cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF)


def _ranges(code_points):
  """Sorted code points -> [(lo, hi)] runs."""
  out = []
  for cp in code_points:
    if out and out[-1][1] == cp - 1:
      out[-1][1] = cp
    else:
      out.append([cp, cp])
  return out


def _re2_class(code_points, negate=False):
  parts = []
  for lo, hi in _ranges(sorted(code_points)):
    parts.append("\\x{%X}" % lo if lo == hi else "\\x{%X}-\\x{%X}" % (lo, hi))
  return "[%s%s]" % ("^" if negate else "", "".join(parts))


def _deleted(char):
  cp = ord(char)
  return cp == 0 or cp == 0xFFFD or tokenization._is_control(char)


@functools.lru_cache(maxsize=None)
def _clean_classes():
  """RE2 classes (deleted, whitespace, CJK) of the original's _clean_text and
  _tokenize_chinese_chars, plus str.split()'s extra separators."""
  deleted, space, cjk = [], [], []
  for cp in _code_points():
    c = chr(cp)
    if unicodedata.category(c) == "Cn":  # unassigned: only the CJK ranges apply
      if tokenization._is_chinese_char(cp):
        cjk.append(cp)
    elif _deleted(c):
      deleted.append(cp)
    elif tokenization._is_whitespace(c) or c.isspace():
      space.append(cp)
    elif tokenization._is_chinese_char(cp):
      cjk.append(cp)
  return _re2_class(deleted), _re2_class(space), _re2_class(cjk), frozenset(deleted + space)


def _strip_accents(text):
  return "".join(c for c in unicodedata.normalize("NFD", text)
                 if unicodedata.category(c) != "Mn")


@functools.lru_cache(maxsize=None)
def _char_map(do_lower_case):
  """(keys, values): every character the basic tokenizer's per-token steps change.

  value = punctuation-padded (strip_accents(c.lower()) if uncased else c).
  Characters removed or mapped to " " in step 1 never reach this map.
  """
  gone = _clean_classes()[3]
  keys, values = [], []
  for cp in _code_points():
    c = chr(cp)
    if cp in gone or unicodedata.category(c) == "Cn":  # unassigned: all steps are identity
      continue
    s = _strip_accents(c.lower()) if do_lower_case else c
    out = []
    for d in s:
      if ord(d) in gone:
        raise AssertionError("U+%04X lower-cases/decomposes to a space or control "
                             "character; the per-character map would be inexact" % cp)
      out.append(" %s " % d if tokenization._is_punctuation(d) else d)
    mapped = "".join(out)
    if mapped != c:
      keys.append(c)
      values.append(mapped)
  return keys, values


@functools.lru_cache(maxsize=None)
def _final_sigma_pattern():
  """RE2 pattern for a capital sigma that str.lower() turns into a final sigma.

  Python lower-cases U+03A3 to U+03C2 when it follows a cased character (case-
  ignorable ones skipped) and is not followed by one.  Both classes are
  measured on this interpreter's str.lower(), so they match its Unicode data.
  """
  gone = _clean_classes()[3]
  cased, ignorable = [], []
  for cp in _code_points():
    c = chr(cp)
    if cp in gone or cp == 0x3A3 or unicodedata.category(c) == "Cn":
      continue
    low = ("A" + _SIGMA + c).lower()
    if low[1] == "\u03c3":
      cased.append(cp)
    elif ("A" + _SIGMA + c + "B").lower()[1] == "\u03c3":
      ignorable.append(cp)
  cased.append(0x3A3)
  c_cls, i_cls = _re2_class(cased), _re2_class(ignorable)
  not_ci = _re2_class(cased + ignorable, negate=True)
  return "(%s%s*)\\x{3A3}(%s*(?:%s|$))" % (c_cls, i_cls, i_cls, not_ci)


class TextFeaturizer(tf.Module):
  """In-graph FullTokenizer + run_classifier's feature layout (core TF ops only).

  vocab_file, do_lower_case: as the original flags.
  max_seq_length: S of the padded features.
  """

  def __init__(self, vocab_file, do_lower_case, max_seq_length, name=None):
    super().__init__(name=name)
    vocab = tokenization.load_vocab(vocab_file)
    for special in ("[CLS]", "[SEP]", "[UNK]"):
      if special not in vocab:
        raise ValueError("%s: vocab has no %s token" % (vocab_file, special))
    if max_seq_length < 3:
      raise ValueError("max_seq_length must be at least 3, got %d" % max_seq_length)
    self.do_lower_case = bool(do_lower_case)
    self.max_seq_length = int(max_seq_length)
    self._cls_id = vocab["[CLS]"]
    self._sep_id = vocab["[SEP]"]
    self._unk_id = vocab["[UNK]"]
    self._max_piece_chars = max(len(k) for k in vocab)
    self._vocab_table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            tf.constant(list(vocab.keys()), tf.string),
            tf.constant(list(vocab.values()), tf.int64)), default_value=-1)
    keys, values = _char_map(self.do_lower_case)
    self._char_table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(keys, tf.string),
                                            tf.constant(values, tf.string)),
        default_value=_UNCHANGED)
    self._deleted_re, self._space_re, self._cjk_re, _ = _clean_classes()
    self._sigma_re = _final_sigma_pattern() if self.do_lower_case else None

  # -- basic tokenizer ------------------------------------------------------

  def normalize(self, texts):
    """[B] strings -> [B] strings whose space-separated words are the basic tokens."""
    t = tf.strings.unicode_transcode(texts, "UTF-8", "UTF-8", errors="replace",
                                     replacement_char=0xFFFD,
                                     replace_control_characters=False)
    t = tf.strings.regex_replace(t, self._deleted_re, "")
    t = tf.strings.regex_replace(t, self._space_re, " ")
    t = tf.strings.regex_replace(t, self._cjk_re, " \\0 ")
    if self._sigma_re is not None:
      t = tf.strings.regex_replace(t, self._sigma_re, "\\1" + _FINAL_SIGMA + "\\2")
    chars = tf.strings.unicode_split(t, "UTF-8")  # [B,(C)]
    flat = chars.flat_values
    mapped = self._char_table.lookup(flat)
    flat = tf.where(tf.equal(mapped, _UNCHANGED), flat, mapped)
    return tf.strings.reduce_join(chars.with_flat_values(flat), axis=-1)

  def basic_tokens(self, texts):
    """[B] strings -> ragged [B,(W)] basic tokens."""
    return tf.strings.split(self.normalize(texts))

  # -- WordPiece ------------------------------------------------------------

  def _wordpiece(self, words):
    """Unique words [U] -> ragged [U,(P)] int64 ids (greedy longest match first)."""
    n_chars = tf.strings.length(words, unit="UTF8_CHAR")
    too_long = n_chars > _MAX_WORD_CHARS
    lens = tf.range(1, self._max_piece_chars + 1, dtype=tf.int32)  # [L]
    u = tf.shape(words)[0]

    def body(step, start, done, failed, pieces):
      active = tf.where(tf.logical_not(done))[:, 0]  # [n]
      w = tf.gather(words, active)
      s = tf.gather(start, active)
      remaining = tf.gather(n_chars, active) - s
      n = tf.shape(active)[0]
      cand = tf.strings.substr(
          tf.tile(w[:, None], [1, self._max_piece_chars]),
          tf.tile(s[:, None], [1, self._max_piece_chars]),
          tf.tile(lens[None, :], [n, 1]), unit="UTF8_CHAR")  # [n,L]
      cand = tf.where((s > 0)[:, None], tf.strings.join(["##", cand]), cand)
      ids = self._vocab_table.lookup(cand)  # [n,L]
      ok = tf.logical_and(ids >= 0, lens[None, :] <= remaining[:, None])
      best = tf.reduce_max(tf.where(ok, lens[None, :], tf.zeros_like(lens)[None, :]),
                           axis=1)  # [n] longest match, 0 if none
      best_id = tf.gather(ids, tf.maximum(best - 1, 0), batch_dims=1)
      matched = best > 0
      new_start = s + best
      finished = tf.logical_or(tf.logical_not(matched), new_start >= s + remaining)
      idx = active[:, None]
      none = tf.constant(-1, tf.int64)
      piece = tf.tensor_scatter_nd_update(tf.fill([u], none), idx,
                                          tf.where(matched, best_id, none))
      return (step + 1,
              tf.tensor_scatter_nd_update(start, idx, new_start),
              tf.tensor_scatter_nd_update(done, idx, finished),
              tf.tensor_scatter_nd_update(failed, idx, tf.logical_not(matched)),
              pieces.write(step, piece))

    def cond(step, start, done, failed, pieces):
      return tf.logical_not(tf.reduce_all(done))

    start0 = tf.zeros([u], tf.int32)
    done0 = tf.logical_or(too_long, n_chars == 0)
    pieces0 = tf.TensorArray(tf.int64, size=0, dynamic_size=True, element_shape=[None])
    _, _, _, failed, pieces = tf.while_loop(
        cond, body, (tf.constant(0), start0, done0, tf.zeros([u], tf.bool), pieces0))
    steps = pieces.size()
    table = tf.cond(steps > 0, lambda: tf.transpose(pieces.stack()),
                    lambda: tf.fill([u, 1], tf.constant(-1, tf.int64)))  # [U,T]
    unk_row = tf.where(tf.range(tf.shape(table)[1]) == 0, tf.constant(self._unk_id, tf.int64),
                       tf.constant(-1, tf.int64))
    table = tf.where(tf.logical_or(failed, too_long)[:, None], unk_row[None, :], table)
    return tf.RaggedTensor.from_tensor(table, padding=tf.constant(-1, tf.int64))

  def token_ids(self, texts):
    """[B] strings -> ragged [B,(T)] int64 WordPiece ids (FullTokenizer.tokenize)."""
    words = self.basic_tokens(texts)  # [B,(W)]
    unique, index = tf.unique(words.flat_values)
    pieces = tf.gather(self._wordpiece(unique), index)  # [N,(P)]
    return tf.RaggedTensor.from_row_splits(pieces, words.row_splits).merge_dims(1, 2)

  # -- run_classifier's convert_single_example layout ------------------------

  def pack(self, ids_a, ids_b=None):
    """Ragged ids [B,(Ta)] (and [B,(Tb)]) -> dict of int32 [B,S] features.

    A row whose b has no tokens is single-sentence: a[:S-2].  Otherwise
    (even if b is then cut to nothing, which only a tiny S allows)
    `truncate_seq_pair(a, b, S-3)` (bert_tf.data.features): pop the last token of the longer list (of
    b on a tie) until the pair fits, which in closed form is: keep both if they
    fit; else if the shorter one fits in half the budget keep it and cut the
    longer to the rest; else cut a to ceil(m/2) and b to floor(m/2).
    """
    s = self.max_seq_length
    la = ids_a.row_lengths()
    if ids_b is None:
      ids_b = tf.RaggedTensor.from_row_lengths(tf.zeros([0], ids_a.dtype),
                                               tf.zeros_like(la))
    lb = ids_b.row_lengths()
    pair = lb > 0
    m = tf.constant(s - 3, la.dtype)
    short = tf.minimum(la, lb)
    fits = la + lb <= m
    keep_short = 2 * short <= m
    fa_pair = tf.where(fits, la, tf.where(keep_short, tf.where(la <= lb, la, m - lb),
                                          (m + 1) // 2))
    fb_pair = tf.where(fits, lb, tf.where(keep_short, tf.where(la <= lb, m - la, lb),
                                          m // 2))
    fa = tf.where(pair, fa_pair, tf.minimum(la, s - 2))
    fb = tf.where(pair, fb_pair, tf.zeros_like(lb))
    # Dense layout by position j: 0 [CLS] | 1..fa a[j-1] | fa+1 [SEP] |
    # fa+2..fa+1+fb b[j-fa-2] | fa+2+fb [SEP] if fb > 0 (the original tests
    # `if tokens_b:` again after truncation) | padding 0.
    dense_a = ids_a.to_tensor(default_value=0, shape=[None, s])  # [B,S]
    dense_b = ids_b.to_tensor(default_value=0, shape=[None, s])
    j = tf.range(s, dtype=la.dtype)[None, :]  # [1,S]
    fa, fb = fa[:, None], fb[:, None]
    in_a = tf.logical_and(j >= 1, j <= fa)
    in_b = tf.logical_and(j >= fa + 2, j <= fa + 1 + fb)
    sep = tf.logical_or(tf.equal(j, fa + 1), tf.logical_and(fb > 0, tf.equal(j, fa + 2 + fb)))
    from_a = tf.gather(dense_a, tf.clip_by_value(j - 1, 0, s - 1) + tf.zeros_like(fa), batch_dims=1)
    from_b = tf.gather(dense_b, tf.clip_by_value(j - fa - 2, 0, s - 1), batch_dims=1)
    ids = tf.where(in_a, from_a, tf.where(in_b, from_b, tf.zeros_like(from_a)))
    ids = tf.where(sep, tf.constant(self._sep_id, ids.dtype), ids)
    ids = tf.where(tf.equal(j, 0), tf.constant(self._cls_id, ids.dtype), ids)
    length = fa + 2 + tf.where(fb > 0, fb + 1, tf.zeros_like(fb))
    input_ids = tf.cast(ids, tf.int32)
    input_mask = tf.cast(j < length, tf.int32)
    segment_ids = tf.cast(tf.logical_and(j >= fa + 2, j < length), tf.int32)
    return {"input_ids": input_ids, "input_mask": input_mask, "segment_ids": segment_ids}

  def features(self, text_a, text_b=None):
    """[B] strings (and [B] strings) -> dict of int32 [B,S] input_ids/input_mask/segment_ids."""
    ids_a = self.token_ids(text_a)
    ids_b = None if text_b is None else self.token_ids(text_b)
    return self.pack(ids_a, ids_b)

  # Traced once and shared by every signature that needs them.
  @tf.function(input_signature=[tf.TensorSpec([None], tf.string)], autograph=False)
  def encode(self, text_a):
    return self.features(text_a)

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string),
                                tf.TensorSpec([None], tf.string)], autograph=False)
  def encode_pair(self, text_a, text_b):
    return self.features(text_a, text_b)
