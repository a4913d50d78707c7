"""The keras-hub preset format: a BertBackbone + BertTokenizer preset directory.

Export (`export_keras_hub_preset`): a directory
`keras_hub.models.BertBackbone.from_preset` and
`keras_hub.models.BertTokenizer.from_preset` load (q/k/v kernels reshaped to
[H,A,d], biases to [A,d], the attention output kernel to [A,d,H]).
Load (`load_keras_hub_preset`): the backbone's weights mapped back to the
original names.  keras_hub is imported only when one of them is called.
"""

import json
import os

import numpy as np

from bert_tf import checkpoints
from bert_tf.configuration import BertConfig
from bert_tf.interop import HubError
from bert_tf.interop import weights
from bert_tf.interop.hub_encoder import HubEncoder


def _keras_hub_map(config):
  """[(original name, keras-hub weight path, original->keras-hub reshape)]."""
  h, a = config.hidden_size, config.num_attention_heads
  d = h // a
  out = [("bert/embeddings/word_embeddings", "token_embedding/embeddings", None),
         ("bert/embeddings/position_embeddings", "position_embedding/embeddings", None),
         ("bert/embeddings/token_type_embeddings", "segment_embedding/embeddings", None),
         ("bert/embeddings/LayerNorm/gamma", "embeddings_layer_norm/gamma", None),
         ("bert/embeddings/LayerNorm/beta", "embeddings_layer_norm/beta", None),
         ("bert/pooler/dense/kernel", "pooled_dense/kernel", None),
         ("bert/pooler/dense/bias", "pooled_dense/bias", None)]
  for n in range(config.num_hidden_layers):
    p, k = "bert/encoder/layer_%d/" % n, "transformer_layer_%d/" % n
    for part in ("query", "key", "value"):
      out.append((p + "attention/self/%s/kernel" % part,
                  k + "self_attention_layer/%s/kernel" % part, (h, a, d)))
      out.append((p + "attention/self/%s/bias" % part,
                  k + "self_attention_layer/%s/bias" % part, (a, d)))
    out += [(p + "attention/output/dense/kernel",
             k + "self_attention_layer/attention_output/kernel", (a, d, h)),
            (p + "attention/output/dense/bias", k + "self_attention_layer/attention_output/bias",
             None)]
    for ln, kln in (("attention/output/LayerNorm", "self_attention_layer_norm"),
                    ("output/LayerNorm", "feedforward_layer_norm")):
      out.append((p + ln + "/gamma", k + kln + "/gamma", None))
      out.append((p + ln + "/beta", k + kln + "/beta", None))
    for dense, kdense in (("intermediate/dense", "feedforward_intermediate_dense"),
                          ("output/dense", "feedforward_output_dense")):
      out.append((p + dense + "/kernel", k + kdense + "/kernel", None))
      out.append((p + dense + "/bias", k + kdense + "/bias", None))
  return out


def export_keras_hub_preset(config, variables_or_ckpt, vocab_file, do_lower_case, preset_dir):
  """Writes a keras-hub BertBackbone + BertTokenizer preset to `preset_dir`.

  `keras_hub.models.BertBackbone.from_preset(preset_dir)` then computes the
  same encoder (keras-hub's tanh GELU and 1e-12 LayerNorm are the original's;
  it masks with about -1e9 instead of -10000, equal in float32).  keras-hub has
  one dropout rate, taken from hidden_dropout_prob.  The tokenizer is saved
  with lowercase = strip_accents = do_lower_case; it is keras-hub's, with the
  tensorflow-text differences listed in the README.
  """
  import keras_hub  # pylint: disable=g-import-not-at-top
  if str(config.hidden_act).lower() != "gelu":
    raise HubError("keras-hub BertBackbone only has the gelu activation, the config has %r" %
                   config.hidden_act)
  values = weights.encoder_values(config, variables_or_ckpt)
  backbone = keras_hub.models.BertBackbone(
      vocabulary_size=config.vocab_size, num_layers=config.num_hidden_layers,
      num_heads=config.num_attention_heads, hidden_dim=config.hidden_size,
      intermediate_dim=config.intermediate_size, dropout=config.hidden_dropout_prob,
      max_sequence_length=config.max_position_embeddings,
      num_segments=config.type_vocab_size)
  by_path = {w.path: w for w in backbone.weights}
  for orig, path, shape in _keras_hub_map(config):
    value = values[orig]
    by_path[path].assign(value.reshape(shape) if shape else value)
  tokenizer = keras_hub.models.BertTokenizer(vocabulary=vocab_file,
                                             lowercase=bool(do_lower_case),
                                             strip_accents=bool(do_lower_case))
  with checkpoints.publish_directory(preset_dir, "keras_hub_preset",
                                     weights.source_name(variables_or_ckpt)) as out:
    backbone.save_to_preset(out)
    tokenizer.save_to_preset(out)
  return preset_dir


def _values_from_keras_hub(backbone):
  """{original name: array} and BertConfig of a keras-hub BertBackbone."""
  cfg = backbone.get_config()
  config = BertConfig(vocab_size=cfg["vocabulary_size"], hidden_size=cfg["hidden_dim"],
                      num_hidden_layers=cfg["num_layers"], num_attention_heads=cfg["num_heads"],
                      intermediate_size=cfg["intermediate_dim"],
                      hidden_dropout_prob=cfg["dropout"],
                      attention_probs_dropout_prob=cfg["dropout"],
                      max_position_embeddings=cfg["max_sequence_length"],
                      type_vocab_size=cfg["num_segments"])
  by_path = {w.path: w for w in backbone.weights}
  values = {}
  for orig, path, _ in _keras_hub_map(config):
    values[orig] = np.asarray(by_path[path].numpy()).reshape(
        weights.encoder_variable_shapes(config)[orig])
  return config, values


def load_keras_hub_preset(path):
  """A HubEncoder for a keras-hub BertBackbone preset directory."""
  import keras_hub  # pylint: disable=g-import-not-at-top
  backbone = keras_hub.models.BertBackbone.from_preset(path)
  config, values = _values_from_keras_hub(backbone)
  vocab_file = os.path.join(path, "assets", "tokenizer", "vocabulary.txt")
  do_lower_case = None
  tok = os.path.join(path, "tokenizer.json")
  if os.path.exists(tok):
    with open(tok, encoding="utf-8") as f:
      do_lower_case = bool(json.load(f).get("config", {}).get("lowercase", False))
  return HubEncoder("keras_hub_preset", path, config,
                    vocab_file if os.path.exists(vocab_file) else None, do_lower_case, values,
                    "keras-hub BertBackbone weights")
