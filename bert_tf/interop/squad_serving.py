"""Serving export of a SQuAD model: raw question and context in, the answer out.

`export_squad` writes a TF2 SavedModel whose `serving_default` signature does
in the graph, with core TensorFlow ops only (no bert_tf, no tensorflow-text at
load time), everything run_squad.py does between a SQuAD question and its
line of predictions.json:

  1. the context is split into words on the original's whitespace (" ", \\t,
     \\r, \\n, U+202F: bert_tf.squad.examples.is_whitespace), each word is
     WordPiece-tokenized (bert_tf.graph_tokenizer.TextFeaturizer, exact to
     FullTokenizer) and the question is tokenized and cut to max_query_length;
  2. windows of max_seq_length - len(query) - 3 document tokens advance by
     min(that, doc_stride) (features.doc_spans_of), `[CLS] q [SEP] window
     [SEP]`, each token's max-context window (features._check_is_max_context,
     scores in float64 as Python's);
  3. the model runs on every window of the batch at once;
  4. post-processing as postprocess.compute_predictions: the n_best_size best
     start and end positions per window (top_k: ties to the lower index), the
     valid pairs, the best one by start + end logit (float64; ties to the first
     in the original's insertion order: window, start rank, end rank), for 2.0
     the null score min over windows of start[0] + end[0] and the threshold;
  5. get_final_text: the WordPiece text of the span is searched in the basic-
     tokenized original words, and mapped back through both space-free texts
     onto the words (falling back to the whole words, as the original).

Signature `serving_default`:
  question, context   tf.string [B]
  -> answer tf.string [B], start / end int32 [B] (code point offsets into the
     context, end exclusive; -1 / -1 with the answer ""), score float32 [B],
     null_score_diff float32 [B], has_answer bool [B],
     start_logits / end_logits float32 [B, W, max_seq_length] and window_mask
     bool [B, W] (W = the most windows of a context in the batch; padded windows
     have logits 0 and mask False).

Where the answer differs from predictions.json (documented in docs/run_squad.md):
no valid span at all (e.g. an empty context) gives "" / -1 / -1 / score 0 and
has_answer False, where the original's 1.1 files write the placeholder
"empty"; `answer` is the original's text, whose words are joined by one space
where the context may have several whitespace characters between them (so
context[start:end] equals the answer up to runs of whitespace).
"""

import json
import os

import tensorflow as tf

from bert_tf import checkpoints, tokenization
from bert_tf.graph_tokenizer import TextFeaturizer
from bert_tf.interop import saved_model

SETTINGS_FILE = "squad_settings.json"
# The original's starting value of the minimum null score (an example without windows keeps it).
_NO_NULL_SCORE = 1000000.0
_SQUAD_WHITESPACE = (" ", "\t", "\r", "\n", "\u202f")  # examples.is_whitespace
_BIG = 2 ** 30


def _first_true(mask, axis=-1):
  """Index of the first True along `axis` (the size of the axis when there is none)."""
  n = tf.shape(mask, out_type=tf.int64)[axis]
  idx = tf.range(n, dtype=tf.int64)
  shape = [1] * mask.shape.rank
  shape[axis] = -1
  return tf.reduce_min(tf.where(mask, tf.reshape(idx, shape), n), axis=axis)


class SquadAnswerer(tf.Module):
  """Raw question/context -> the run_squad answer, in the graph (what export_squad saves).

  model: a built squad.model.BertForSquad with its weights.
  The settings are run_squad's flags of the same names.
  """

  def __init__(self, model, vocab_file, do_lower_case, max_seq_length, doc_stride,
               max_query_length, version_2_with_negative=False, null_score_diff_threshold=0.0,
               n_best_size=20, max_answer_length=30):
    super().__init__(name="bert_squad_server")
    self._holder = saved_model.Untracked(model)
    self.model_variables = saved_model.tf_variables(model.variables)
    self.featurizer = TextFeaturizer(vocab_file, do_lower_case, max_seq_length)
    vocab = tokenization.load_vocab(vocab_file)
    tokens = [""] * (max(vocab.values()) + 1)
    for token, i in vocab.items():
      tokens[i] = token
    self.id_to_token = tf.constant(tokens, tf.string)
    self.vocab_file = tf.saved_model.Asset(vocab_file)
    settings = {
        "max_seq_length": int(max_seq_length), "doc_stride": int(doc_stride),
        "max_query_length": int(max_query_length), "do_lower_case": bool(do_lower_case),
        "version_2_with_negative": bool(version_2_with_negative),
        "null_score_diff_threshold": float(null_score_diff_threshold),
        "n_best_size": int(n_best_size), "max_answer_length": int(max_answer_length)}
    self._settings = saved_model.Untracked(settings)  # plain Python values, not saved as objects
    # Also readable from the loaded object (m.settings_json.numpy()).
    self.settings_json = tf.Variable(json.dumps(settings, sort_keys=True),
                                     trainable=False, name="squad_settings")

  @property
  def settings(self):
    """The run_squad settings of the export (squad_settings.json)."""
    return self._settings.model

  # -- 1. words of the context, with their code point offsets ------------------

  def _words(self, contexts):
    """The context's words on the original's whitespace rule.

    Returns a dict: words [B,(N)] (ragged, global word ids = flat positions),
    word_start / word_end int64 [N] (code point offsets, end exclusive),
    kept_pos int64 [K+1] (offset of every non-whitespace character, in order,
    plus a sentinel), kept_word int64 [K+1] (its global word id), word_first_kept
    int64 [N] (index into kept_* of the word's first character).
    """
    chars = tf.strings.unicode_split(contexts, "UTF-8", errors="replace")  # [B,(C)]
    flat = chars.flat_values
    ws = tf.zeros_like(flat, tf.bool)
    for c in _SQUAD_WHITESPACE:
      ws = tf.logical_or(ws, tf.equal(flat, c))
    pos = tf.ragged.range(chars.row_lengths()).flat_values  # int64, per context
    keep = tf.logical_not(ws)
    prev_ws = tf.concat([[True], ws[:-1]], 0)
    prev_ws = tf.logical_or(prev_ws, tf.equal(pos, 0))
    next_ws = tf.concat([ws[1:], [True]], 0)
    next_ws = tf.logical_or(next_ws, tf.equal(pos + 1, tf.gather(chars.row_lengths(),
                                                                 chars.value_rowids())))
    first = tf.logical_and(keep, prev_ws)
    last = tf.logical_and(keep, next_ws)
    word_id = tf.cumsum(tf.cast(first, tf.int64)) - 1  # global word of each character
    n_words = tf.reduce_sum(tf.cast(first, tf.int64))
    kept_word = tf.boolean_mask(word_id, keep)
    kept_chars = tf.boolean_mask(flat, keep)
    words_flat = tf.strings.reduce_join(
        tf.RaggedTensor.from_value_rowids(kept_chars, kept_word, nrows=n_words), axis=1)
    words = tf.RaggedTensor.from_value_rowids(
        words_flat, tf.boolean_mask(chars.value_rowids(), first), nrows=tf.shape(
            contexts, out_type=tf.int64)[0])
    kept_index = tf.cumsum(tf.cast(keep, tf.int64)) - 1
    sentinel = tf.constant([0], tf.int64)
    return {"words": words,
            "word_start": tf.boolean_mask(pos, first),
            "word_end": tf.boolean_mask(pos, last) + 1,
            "kept_pos": tf.concat([tf.boolean_mask(pos, keep), sentinel], 0),
            "kept_word": tf.concat([kept_word, sentinel], 0),
            "word_first_kept": tf.concat([tf.boolean_mask(kept_index, first), sentinel], 0)}

  # -- 2. windows -----------------------------------------------------------

  def _windows(self, query_ids, doc_ids, doc_word):
    """The original's windows and feature layout, dense [B, W, S].

    query_ids [B,(Q)] (already cut), doc_ids / doc_word [B,(T)] (token ids, global word ids).
    """
    s = self.settings["max_seq_length"]
    stride = self.settings["doc_stride"]
    q = query_ids.row_lengths()  # int64 [B]
    t = doc_ids.row_lengths()
    m = s - q - 3  # max_tokens_for_doc (>= 1: checked at export)
    step = tf.minimum(m, stride)
    n_win = tf.where(t == 0, tf.zeros_like(t),
                     tf.where(t <= m, tf.ones_like(t), (t - m + step - 1) // step + 1))
    # At least one (masked) window, so that a batch of empty contexts keeps its shapes.
    w_max = tf.reduce_max(tf.concat([n_win, [1]], 0))
    k = tf.range(w_max, dtype=tf.int64)[None, :]  # [1,W]
    wmask = k < n_win[:, None]  # [B,W]
    wstart = k * step[:, None]
    wlen = tf.where(wmask, tf.minimum(t[:, None] - wstart, m[:, None]), 0)
    j = tf.range(s, dtype=tf.int64)[None, None, :]  # [1,1,S]
    q3, wstart3, wlen3 = q[:, None, None], wstart[:, :, None], wlen[:, :, None]
    p = wstart3 + j - q3 - 2  # document token index at position j  [B,W,S]
    in_doc = tf.logical_and(j >= q3 + 2, j < q3 + 2 + wlen3)
    # A zero column keeps the gathers valid when every context is empty.
    doc_dense = tf.pad(doc_ids.to_tensor(), [[0, 0], [0, 1]])
    t_cols = tf.shape(doc_dense, out_type=tf.int64)[1]
    pc = tf.clip_by_value(p, 0, t_cols - 1)
    from_doc = tf.gather(doc_dense, tf.reshape(pc, [tf.shape(pc)[0], -1]), batch_dims=1)
    from_doc = tf.reshape(from_doc, tf.shape(p))
    mql = self.settings["max_query_length"]
    q_dense = query_ids.to_tensor(default_value=0, shape=[None, mql])
    qi = tf.clip_by_value(j - 1, 0, mql - 1) + tf.zeros_like(p)
    from_q = tf.reshape(tf.gather(q_dense, tf.reshape(qi, [tf.shape(qi)[0], -1]), batch_dims=1),
                        tf.shape(p))
    in_q = tf.logical_and(j >= 1, j <= q3)
    sep = tf.logical_or(tf.equal(j, q3 + 1), tf.equal(j, q3 + 2 + wlen3))
    ids = tf.where(in_doc, from_doc, tf.where(in_q, from_q, tf.zeros_like(p)))
    ids = tf.where(sep, tf.constant(self.featurizer._sep_id, tf.int64), ids)
    ids = tf.where(tf.equal(j, 0), tf.constant(self.featurizer._cls_id, tf.int64), ids)
    length = q3 + 3 + wlen3
    valid3 = wmask[:, :, None]
    features = {
        "input_ids": tf.cast(tf.where(valid3, ids, 0), tf.int32),
        "input_mask": tf.cast(tf.logical_and(valid3, j < length), tf.int32),
        "segment_ids": tf.cast(tf.logical_and(valid3, tf.logical_and(j >= q3 + 2, j < length)),
                               tf.int32)}
    # Max context (features._check_is_max_context): over every window w' holding the token,
    # min(left, right) + 0.01 * length in float64; the first window with the highest wins.
    p4 = p[:, :, :, None]  # [B,W,S,1]
    ws4 = wstart[:, None, None, :]  # [B,1,1,W']
    we4 = ws4 + wlen[:, None, None, :] - 1
    holds = tf.logical_and(wmask[:, None, None, :], tf.logical_and(p4 >= ws4, p4 <= we4))
    score = (tf.cast(tf.minimum(p4 - ws4, we4 - p4), tf.float64) +
             0.01 * tf.cast(wlen[:, None, None, :], tf.float64))
    score = tf.where(holds, score, tf.constant(-1e300, tf.float64))
    best = tf.reduce_max(score, axis=-1, keepdims=True)
    first_best = _first_true(tf.logical_and(holds, tf.equal(score, best)))  # [B,W,S]
    is_max = tf.logical_and(in_doc, tf.equal(first_best, tf.range(w_max)[None, :, None]))
    doc_word_dense = tf.pad(doc_word.to_tensor(), [[0, 0], [0, 1]])
    word_of = tf.reshape(tf.gather(doc_word_dense, tf.reshape(pc, [tf.shape(pc)[0], -1]),
                                   batch_dims=1), tf.shape(p))  # global word of position j
    return {"features": features, "wmask": wmask, "in_doc": tf.logical_and(in_doc, valid3),
            "is_max": tf.logical_and(is_max, valid3), "doc_index": p, "word_of": word_of,
            "n_win": n_win}

  # -- 3. the model over the batch's windows ------------------------------------

  def _logits(self, features, wmask):
    where = tf.where(wmask)  # [Nw,2]
    flat = {k: tf.gather_nd(v, where) for k, v in features.items()}
    out = self._holder.model(flat, training=False)
    shape = tf.shape(features["input_ids"], out_type=tf.int64)

    def dense(x):
      return tf.scatter_nd(where, tf.cast(x, tf.float32), shape)
    return dense(out["start_logits"]), dense(out["end_logits"])

  # -- 4. the best span -----------------------------------------------------

  def _best_span(self, start_logits, end_logits, win):
    """(has_span, window, start position, end position, start logit, end logit) per example."""
    s = self.settings["max_seq_length"]
    k = min(self.settings["n_best_size"], s)
    sv, si = tf.math.top_k(start_logits, k=k, sorted=True)  # [B,W,k]: ties to the lower index
    ev, ei = tf.math.top_k(end_logits, k=k, sorted=True)
    si64, ei64 = tf.cast(si, tf.int64), tf.cast(ei, tf.int64)
    s_ok = tf.logical_and(tf.gather(win["in_doc"], si, batch_dims=2),
                          tf.gather(win["is_max"], si, batch_dims=2))
    e_ok = tf.gather(win["in_doc"], ei, batch_dims=2)
    span = ei64[:, :, None, :] - si64[:, :, :, None]  # end - start  [B,W,k,k]
    valid = tf.logical_and(s_ok[:, :, :, None], e_ok[:, :, None, :])
    valid = tf.logical_and(valid, tf.logical_and(span >= 0,
                                                 span + 1 <= self.settings["max_answer_length"]))
    valid = tf.logical_and(valid, win["wmask"][:, :, None, None])
    score = (tf.cast(sv, tf.float64)[:, :, :, None] + tf.cast(ev, tf.float64)[:, :, None, :])
    b = tf.shape(score)[0]
    valid_f = tf.reshape(valid, [b, -1])  # the original's insertion order: window, start, end rank
    score_f = tf.reshape(score, [b, -1])
    neg = tf.constant(-float("inf"), tf.float64)
    best = tf.reduce_max(tf.where(valid_f, score_f, neg), axis=1, keepdims=True)
    has = tf.reduce_any(valid_f, axis=1)
    idx = tf.minimum(_first_true(tf.logical_and(valid_f, tf.equal(score_f, best))),
                     tf.cast(tf.shape(score_f)[1] - 1, tf.int64))
    idx = tf.where(has, idx, 0)
    w = idx // (k * k)
    r = idx % (k * k)
    st = tf.gather(tf.reshape(si64, [b, -1]), w * k + r // k, batch_dims=1)
    en = tf.gather(tf.reshape(ei64, [b, -1]), w * k + r % k, batch_dims=1)
    s_logit = tf.gather(tf.reshape(sv, [b, -1]), w * k + r // k, batch_dims=1)
    e_logit = tf.gather(tf.reshape(ev, [b, -1]), w * k + r % k, batch_dims=1)
    zero = tf.zeros_like(s_logit)
    return (has, w, st, en, tf.where(has, s_logit, zero), tf.where(has, e_logit, zero))

  # -- 5. get_final_text ----------------------------------------------------------

  def _final_text(self, has, doc, words, t_start, t_end, w_first, w_last):
    """The original get_final_text on the span's tokens, and its offsets in the context.

    doc: ragged [B,(T)] token ids; t_start/t_end: the span's document token indices;
    w_first/w_last: its first and last global word ids.
    """
    t_start = tf.where(has, t_start, 0)
    t_end = tf.where(has, t_end, -1)
    # WordPiece text: " ".join(tokens), " ##" and "##" removed, whitespace cleaned.
    tok_idx = tf.ragged.range(t_start, t_end + 1)
    flat_idx = tok_idx + doc.row_splits[:-1][:, None]
    pieces = tf.gather(self.id_to_token, tf.gather(doc.flat_values, flat_idx))
    pred = tf.strings.reduce_join(pieces, axis=1, separator=" ")
    pred = tf.strings.regex_replace(pred, " ##", "", replace_global=True)
    pred = tf.strings.regex_replace(pred, "##", "", replace_global=True)
    pred = tf.strings.regex_replace(pred, " +", " ")
    pred = tf.strings.regex_replace(pred, "^ | $", "")
    # The original words, joined by one space, and their basic tokens joined by one space.
    w_first = tf.where(has, w_first, 0)
    w_last = tf.where(has, w_last, -1)
    word_idx = tf.ragged.range(w_first, w_last + 1)
    words_flat = tf.concat([words["words"].flat_values, [""]], 0)
    orig = tf.strings.reduce_join(tf.gather(words_flat, word_idx), axis=1, separator=" ")
    tok = tf.strings.reduce_join(self.featurizer.basic_tokens(orig), axis=1, separator=" ")
    # tok.find(pred): the first code point position where pred's characters start.
    pred_len = tf.strings.length(pred, unit="UTF8_CHAR")
    tok_chars = tf.strings.unicode_split(tok, "UTF-8")
    positions = tf.ragged.range(tok_chars.row_lengths())
    rows = positions.value_rowids()
    cand = tf.strings.substr(tf.gather(tok, rows), tf.cast(positions.flat_values, tf.int32),
                             tf.gather(pred_len, rows), unit="UTF8_CHAR")
    hit = tf.equal(cand, tf.gather(pred, rows))
    n = tf.shape(tok, out_type=tf.int64)[0]
    found_at = tf.minimum(tf.math.unsorted_segment_min(
        tf.where(hit, positions.flat_values, _BIG), rows, n), _BIG)  # [B] int64
    found = tf.logical_and(found_at < _BIG, pred_len > 0)
    end_at = found_at + tf.cast(pred_len, tf.int64) - 1

    def no_space_len(x):
      return tf.strings.length(tf.strings.regex_replace(x, " ", ""), unit="UTF8_CHAR")
    same_len = tf.equal(no_space_len(orig), no_space_len(tok))
    # Non-space characters of tok before the start / end: their index in the space-free text.
    not_space = tf.not_equal(tok_chars.flat_values, " ")

    def non_spaces_before(at):
      before = tf.logical_and(not_space, positions.flat_values < tf.gather(at, rows))
      return tf.math.unsorted_segment_sum(tf.cast(before, tf.int64), rows, n)
    ns_start, ns_end = non_spaces_before(found_at), non_spaces_before(end_at)
    mapped = tf.logical_and(has, tf.logical_and(found, same_len))
    # The space-free original text is the words' characters in order: index -> context offset.
    base = tf.gather(words["word_first_kept"], w_first)
    n_kept = tf.shape(words["kept_pos"], out_type=tf.int64)[0] - 1
    k_s = tf.clip_by_value(base + ns_start, 0, n_kept)
    k_e = tf.clip_by_value(base + ns_end, 0, n_kept)
    start = tf.gather(words["kept_pos"], k_s)
    end = tf.gather(words["kept_pos"], k_e) + 1
    orig_s = ns_start + tf.gather(words["kept_word"], k_s) - w_first  # one space per word gap
    orig_e = ns_end + tf.gather(words["kept_word"], k_e) - w_first
    # (Positions that do not line up are not used; zeros keep substr in range.)
    orig_s, orig_e = tf.where(mapped, orig_s, 0), tf.where(mapped, orig_e, -1)
    sliced = tf.strings.substr(orig, tf.cast(orig_s, tf.int32),
                               tf.cast(orig_e - orig_s + 1, tf.int32), unit="UTF8_CHAR")
    # Anything that does not line up: the whole original words, as the original.
    word_start = tf.concat([words["word_start"], [0]], 0)
    word_end = tf.concat([words["word_end"], [0]], 0)
    answer = tf.where(mapped, sliced, orig)
    start = tf.where(mapped, start, tf.gather(word_start, w_first))
    end = tf.where(mapped, end, tf.gather(word_end, tf.maximum(w_last, 0)))
    minus = tf.constant(-1, tf.int64)
    return (tf.where(has, answer, ""), tf.where(has, start, minus), tf.where(has, end, minus))

  # -- the signature --------------------------------------------------------------

  def answer(self, question, context):
    """[B] question and context strings -> the dict of the serving signature."""
    mql = self.settings["max_query_length"]
    query = self.featurizer.token_ids(question)[:, :mql]
    words = self._words(context)
    w = words["words"]
    pieces = self.featurizer.token_ids(w.flat_values)  # [N,(P)]
    doc = tf.RaggedTensor.from_row_splits(pieces, w.row_splits).merge_dims(1, 2)  # [B,(T)]
    doc_word = doc.with_flat_values(pieces.value_rowids())  # global word of each token
    win = self._windows(query, doc, doc_word)
    start_logits, end_logits = self._logits(win["features"], win["wmask"])
    has, bw, st, en, s_logit, e_logit = self._best_span(start_logits, end_logits, win)

    pos_both = tf.stack([st, en], axis=1)

    def at(x):  # x[b, bw, position] for the span's start and end
      return tf.gather(tf.gather(x, bw, batch_dims=1), pos_both, batch_dims=1)
    doc_index, word_of = at(win["doc_index"]), at(win["word_of"])
    answer, start, end = self._final_text(has, doc, words, doc_index[:, 0], doc_index[:, 1],
                                          word_of[:, 0], word_of[:, 1])
    score = tf.cast(s_logit, tf.float64) + tf.cast(e_logit, tf.float64)
    # 2.0: the null score is the minimum over the windows of start[0] + end[0].
    null = tf.cast(start_logits[:, :, 0], tf.float64) + tf.cast(end_logits[:, :, 0], tf.float64)
    null = tf.reduce_min(tf.where(win["wmask"], null, _NO_NULL_SCORE), axis=1)
    null = tf.minimum(null, _NO_NULL_SCORE)
    diff = null - tf.cast(s_logit, tf.float64) - tf.cast(e_logit, tf.float64)
    if self.settings["version_2_with_negative"]:
      has_answer = tf.logical_and(has, diff <= self.settings["null_score_diff_threshold"])
    else:
      has_answer = has
    minus = tf.constant(-1, tf.int64)
    return {
        "answer": tf.where(has_answer, answer, ""),
        "start": tf.cast(tf.where(has_answer, start, minus), tf.int32),
        "end": tf.cast(tf.where(has_answer, end, minus), tf.int32),
        "score": tf.cast(score, tf.float32),
        "null_score_diff": tf.cast(diff, tf.float32),
        "has_answer": has_answer,
        "start_logits": start_logits,
        "end_logits": end_logits,
        "window_mask": win["wmask"],
    }

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="question"),
                                tf.TensorSpec([None], tf.string, name="context")],
               autograph=False)
  def serve(self, question, context):
    return self.answer(question, context)


def export_squad(model, vocab_file, export_dir, *, do_lower_case, max_seq_length, doc_stride,
                 max_query_length, version_2_with_negative=False, null_score_diff_threshold=0.0,
                 n_best_size=20, max_answer_length=30, source=None):
  """Writes the serving SavedModel of a fine-tuned squad.model.BertForSquad to `export_dir`.

  The settings are run_squad's flags of the same names (those of the run).  source:
  the checkpoint it came from (the export marker records it).  An earlier export there
  is replaced; any other non-empty directory is refused (checkpoints.publish_directory).
  Returns export_dir.  Loading needs only TensorFlow:
  `tf.saved_model.load(export_dir).signatures["serving_default"](question=..., context=...)`.
  """
  if max_seq_length > model.config.max_position_embeddings:
    raise ValueError("Cannot use sequence length %d because the BERT model was only "
                     "trained up to sequence length %d"
                     % (max_seq_length, model.config.max_position_embeddings))
  if max_seq_length <= max_query_length + 3:
    raise ValueError("The max_seq_length (%d) must be greater than max_query_length (%d) + 3"
                     % (max_seq_length, max_query_length))
  for name, value in (("doc_stride", doc_stride), ("max_query_length", max_query_length),
                      ("n_best_size", n_best_size), ("max_answer_length", max_answer_length)):
    if value < 1:
      raise ValueError("%s must be at least 1, got %d" % (name, value))
  server = SquadAnswerer(model, vocab_file, do_lower_case, max_seq_length, doc_stride,
                         max_query_length, version_2_with_negative, null_score_diff_threshold,
                         n_best_size, max_answer_length)
  signatures = {"serving_default": server.serve.get_concrete_function()}
  with checkpoints.publish_directory(export_dir, "squad", source) as out:
    tf.saved_model.save(server, out, signatures=signatures)
    with open(os.path.join(out, SETTINGS_FILE), "w", encoding="utf-8") as f:
      f.write(json.dumps(server.settings, indent=2, sort_keys=True) + "\n")
  return export_dir
