"""Fill in [MASK]: a pre-trained checkpoint's masked-LM head on text (fill_mask.py's library).

`MaskedLM` loads the encoder and the checkpoint's `cls/predictions` head (the
original masked-LM head: dense + LayerNorm, logits against the tied word
embeddings plus `output_bias`, log_softmax) and `fill_mask(...)` returns the
top-k tokens and probabilities for every literal `[MASK]` in the text.  The
text is split on the literal "[MASK]" and the pieces are tokenized apart,
because the original BasicTokenizer would split "[MASK]" into "[", "mask",
"]".

Shapes: B = batch, S = sequence length, M = masks per text, V = vocab size.
"""

import collections
import json

import numpy as np
import tensorflow as tf

from bert_tf import forward, modeling, restore, tokenization
from bert_tf.data.features import pair_layout
from bert_tf.inference import settings, text_input
from bert_tf.inference.settings import InputError

MASK_TOKEN = "[MASK]"
_SEQ_SPEC = tf.TensorSpec([None, None], tf.int32)
_FEATURES_SPEC = {"input_ids": _SEQ_SPEC, "input_mask": _SEQ_SPEC, "segment_ids": _SEQ_SPEC,
                  "masked_lm_positions": _SEQ_SPEC}


MaskedText = collections.namedtuple(
    "MaskedText", ["tokens", "input_ids", "segment_ids", "mask_positions"])
MaskedText.__doc__ = """A text with [MASK]s as model input (unpadded).

tokens: `[CLS] A [SEP] (B [SEP])`; input_ids/segment_ids: ints of the same
length; mask_positions: the indexes of the [MASK] tokens, in order.
"""


def tokenize_with_masks(tokenizer, text):
  """FullTokenizer tokens of `text` with every literal "[MASK]" kept as one token.

  The text is split on "[MASK]" and the pieces are tokenized apart (the
  BasicTokenizer alone would give "[", "mask", "]").
  """
  pieces = text.split(MASK_TOKEN)
  tokens = []
  for i, piece in enumerate(pieces):
    if i:
      tokens.append(MASK_TOKEN)
    tokens.extend(tokenizer.tokenize(piece))
  return tokens


class MaskedLM(object):
  """An encoder with the checkpoint's masked-LM head `cls/predictions`, loaded once.

  Args:
    bert_config_file, vocab_file, do_lower_case: the pre-trained model's.
    init_checkpoint: a checkpoint with bert/* and cls/predictions/* variables
      (Google's bert_model.ckpt, run_pretraining.py's model.ckpt-N).
    max_seq_length: longer texts are truncated as run_classifier truncates;
      a [MASK] cut off this way is an error.  None (default): the model's
      max_position_embeddings (each batch is padded only to its longest text).

  Raises:
    restore.MissingHeadError: the checkpoint has no cls/predictions/* variables.
  """

  def __init__(self, bert_config_file, vocab_file, init_checkpoint, do_lower_case=True,
               max_seq_length=None):
    self.config = settings.load_config(bert_config_file, max_seq_length)
    self.asked_length = max_seq_length is not None
    self.bert_config_file = bert_config_file
    self.tokenizer = settings.load_tokenizer(vocab_file, do_lower_case, self.config,
                                             bert_config_file,
                                             needed=tokenization.MASKED_LM_TOKENS)
    self.max_seq_length = settings.model_length(self.config, max_seq_length)
    prefix = restore.check_masked_lm_head(init_checkpoint)
    self.checkpoint = prefix
    self.bert = modeling.BertModel(self.config)
    self.mlm = modeling.MaskedLMHead(self.config, self.bert.get_embedding_table, name="mlm")
    self.bert.build()
    self.mlm.build()
    variables = dict(self.bert.original_variables())
    variables.update(self.mlm.original_variables())
    restore.restore(variables, prefix, "encoder and masked-LM head")

    def probabilities_step(features):  # padding trimmed by the loop, up to the last position
      sequence_output = self.bert(features, training=False)["sequence_output"]
      log_probs = self.mlm(sequence_output, features["masked_lm_positions"])  # [B*M,V]
      shape = tf.shape(features["masked_lm_positions"])
      return tf.reshape(tf.exp(log_probs), [shape[0], shape[1], -1])

    self._forward = forward.Forward(probabilities_step, input_signature=_FEATURES_SPEC,
                                    trim=True)

  def probabilities(self, input_ids, input_mask, segment_ids, masked_lm_positions):
    """int [B,S] inputs and [B,M] positions -> float32 [B,M,V] = exp(cls/predictions
    log_softmax) at each position (run_pretraining's masked_lm_log_probs, exponentiated)."""
    features = {"input_ids": input_ids, "input_mask": input_mask, "segment_ids": segment_ids,
                "masked_lm_positions": masked_lm_positions}
    return self._forward.run([features])

  def encode(self, text_a, text_b=None, where="text"):
    """One text (or pair) with literal [MASK]s -> MaskedText.

    Raises InputError when there is no [MASK], or when truncation to
    max_seq_length (the longer side loses its last token first, as
    run_classifier) would cut one off.
    """
    tokens_a = tokenize_with_masks(self.tokenizer, text_a)
    tokens_b = tokenize_with_masks(self.tokenizer, text_b) if text_b else []
    num_masks = tokens_a.count(MASK_TOKEN) + tokens_b.count(MASK_TOKEN)
    if not num_masks:
      raise InputError("%s: no %s in the text; write the literal upper-case %s where a word is "
                       "to be predicted" % (where, MASK_TOKEN, MASK_TOKEN))
    total = len(tokens_a) + len(tokens_b)
    tokens, segment_ids = pair_layout(tokens_a, tokens_b, "[CLS]", "[SEP]", self.max_seq_length)
    if tokens.count(MASK_TOKEN) != num_masks:
      limit = self.config.max_position_embeddings
      if self.asked_length:
        raise InputError("%s: the text has %d tokens and a %s falls past --max_seq_length=%d; "
                         "shorten the text%s" % (
                             where, total, MASK_TOKEN, self.max_seq_length,
                             " or raise --max_seq_length (up to %d)" % limit
                             if self.max_seq_length < limit else ""))
      raise InputError("%s: the text has %d tokens and a %s falls past position %d, the most "
                       "this model takes (\"max_position_embeddings\" in %s); shorten the text" %
                       (where, total, MASK_TOKEN, self.max_seq_length, self.bert_config_file))
    positions = [i for i, t in enumerate(tokens) if t == MASK_TOKEN]
    return MaskedText(tokens, self.tokenizer.convert_tokens_to_ids(tokens), segment_ids,
                      positions)

  def fill(self, texts, top_k=5, batch_size=32):
    """Texts with [MASK]s -> one dict per text:

      {"text_a", "text_b" (pairs only), "tokens": [...],
       "masks": [{"position": i, "predictions": [{"token", "probability"}] * top_k}]}

    masks in text order, predictions by decreasing probability (ties: lower id).
    """
    if top_k < 1:
      raise InputError("top_k must be at least 1, got %d" % top_k)
    inputs = text_input.as_inputs(texts)
    self.config.check_pairs(self.bert_config_file,
                            next((text_input.where(x) for x in inputs if x.text_b), None))
    encoded = [self.encode(x.text_a, x.text_b, where=text_input.where(x)) for x in inputs]
    k = min(top_k, self.config.vocab_size)
    results = []
    slices = list(forward.batch_slices(len(encoded), batch_size))
    batches = (_padded(encoded[sl]) for sl in slices)
    for sl, probs in zip(slices, self._forward.iterate(batches)):
      for row, (x, e) in enumerate(zip(inputs[sl], encoded[sl])):
        masks = []
        for m, position in enumerate(e.mask_positions):
          p = probs[row, m]
          best = np.argsort(-p, kind="stable")[:k]
          tokens = self.tokenizer.convert_ids_to_tokens([int(i) for i in best])
          masks.append({"position": position, "predictions": [
              {"token": t, "probability": float(p[i])} for t, i in zip(tokens, best)]})
        result = {"text_a": x.text_a}
        if x.text_b is not None:
          result["text_b"] = x.text_b
        result["tokens"] = list(e.tokens)
        result["masks"] = masks
        results.append(result)
    return results


def _padded(batch):
  """MaskedTexts -> one batch's features: int32 [B,S] padded to its longest text and
  masked_lm_positions [B,M] padded with 0 to its most masks."""
  seq = max(len(e.input_ids) for e in batch)
  num_masks = max(len(e.mask_positions) for e in batch)
  arrays = {name: np.zeros([len(batch), seq], np.int32)
            for name in ("input_ids", "input_mask", "segment_ids")}
  positions = np.zeros([len(batch), num_masks], np.int32)
  for row, e in enumerate(batch):
    n = len(e.input_ids)
    arrays["input_ids"][row, :n] = e.input_ids
    arrays["input_mask"][row, :n] = 1
    arrays["segment_ids"][row, :n] = e.segment_ids
    positions[row, :len(e.mask_positions)] = e.mask_positions
  arrays["masked_lm_positions"] = positions
  return arrays


def fill_mask(texts, bert_config_file, vocab_file, init_checkpoint, do_lower_case=True,
              top_k=5, max_seq_length=None, batch_size=32):
  """Top-k predictions for every literal [MASK] of `texts` (see MaskedLM.fill).

  texts: a string, or a list of strings (a tab separates a sentence pair) or
  (text_a, text_b) tuples.  The inputs are checked before the model loads.
  """
  inputs = text_input.as_inputs(texts)
  for x in inputs:
    if MASK_TOKEN not in x.text_a and MASK_TOKEN not in (x.text_b or ""):
      raise InputError("%s: no %s in the text; write the literal upper-case %s where a word "
                       "is to be predicted" % (text_input.where(x), MASK_TOKEN, MASK_TOKEN))
  model = MaskedLM(bert_config_file, vocab_file, init_checkpoint, do_lower_case=do_lower_case,
                   max_seq_length=max_seq_length)
  return model.fill(inputs, top_k=top_k, batch_size=batch_size)


def format_fill_results(results, output_format="text"):
  """Output lines (no newline) for MaskedLM.fill results.

  text: the input, then one line per [MASK]: "  [MASK] 1: mat 0.9512  rug 0.0123 ...".
  json: one JSON object per input (the result dict without tokens).
  """
  if output_format not in ("text", "json"):
    raise InputError("unknown output format %r (text, json)" % output_format)
  lines = []
  for r in results:
    if output_format == "json":
      obj = {k: v for k, v in r.items() if k != "tokens"}
      lines.append(json.dumps(obj, ensure_ascii=False))
      continue
    lines.append(r["text_a"] if r.get("text_b") is None else r["text_a"] + "\t" + r["text_b"])
    for i, mask in enumerate(r["masks"], 1):
      best = "  ".join("%s %.4f" % (p["token"], p["probability"]) for p in mask["predictions"])
      lines.append("  %s %d: %s" % (MASK_TOKEN, i, best))
  return lines
