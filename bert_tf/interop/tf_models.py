"""The variable names of Google's published TF2 encoders (tf-models BertEncoder, BertEncoderV2).

`map_tf_models_names` maps `word_embeddings/embeddings`,
`position_embedding/embeddings`, `type_embeddings/embeddings`,
`embeddings/layer_norm/*`,
`transformer/layer_N/self_attention/{query,key,value,attention_output}/*`,
`transformer/layer_N/{self_attention_layer_norm,intermediate,output,
output_layer_norm}/*` and `pooler_transform/*` (any prefix) to the original
names, with the [H,A,d] / [A,d] / [A,d,H] attention reshapes undone.
"""

import re

import numpy as np

from bert_tf.interop import HubError
from bert_tf.interop import weights

_TF_MODELS_RULES = [
    (r"(?:^|/)word_embeddings/embeddings$", "bert/embeddings/word_embeddings"),
    (r"(?:^|/)position_embedding/embeddings$", "bert/embeddings/position_embeddings"),
    (r"(?:^|/)type_embeddings/embeddings$", "bert/embeddings/token_type_embeddings"),
    (r"(?:^|/)embeddings/layer_norm/(gamma|beta)$", r"bert/embeddings/LayerNorm/\1"),
    (r"(?:^|/)transformer/layer_(\d+)/self_attention/(query|key|value)/(kernel|bias)$",
     r"bert/encoder/layer_\1/attention/self/\2/\3"),
    (r"(?:^|/)transformer/layer_(\d+)/self_attention/attention_output/(kernel|bias)$",
     r"bert/encoder/layer_\1/attention/output/dense/\2"),
    (r"(?:^|/)transformer/layer_(\d+)/self_attention_output/(kernel|bias)$",
     r"bert/encoder/layer_\1/attention/output/dense/\2"),
    (r"(?:^|/)transformer/layer_(\d+)/self_attention_layer_norm/(gamma|beta)$",
     r"bert/encoder/layer_\1/attention/output/LayerNorm/\2"),
    (r"(?:^|/)transformer/layer_(\d+)/intermediate/(kernel|bias)$",
     r"bert/encoder/layer_\1/intermediate/dense/\2"),
    (r"(?:^|/)transformer/layer_(\d+)/output/(kernel|bias)$",
     r"bert/encoder/layer_\1/output/dense/\2"),
    (r"(?:^|/)transformer/layer_(\d+)/output_layer_norm/(gamma|beta)$",
     r"bert/encoder/layer_\1/output/LayerNorm/\2"),
    (r"(?:^|/)pooler_transform/(kernel|bias)$", r"bert/pooler/dense/\1"),
]


def map_tf_models_names(named_values):
  """{tf-models variable name: array} -> ({original name: array}, heads) or (None, None).

  Undoes the [H,A,d] / [A,d] / [A,d,H] attention layouts.  Returns None when a
  variable is not recognised or an encoder variable is missing.
  """
  out, heads = {}, None
  for name, value in named_values.items():
    base = re.sub(r":\d+$", "", name)
    for pattern, repl in _TF_MODELS_RULES:
      m = re.search(pattern, base)
      if m:
        orig = m.expand(repl)
        break
    else:
      return None, None
    value = np.asarray(value)
    if re.search(r"attention/self/query/kernel$", orig) and value.ndim == 3:
      heads = value.shape[1]
    out[orig] = value
  if heads is None:
    heads = 0
  try:
    config = weights.infer_config(out, heads or None)
  except HubError:
    return None, None
  shapes = weights.encoder_variable_shapes(config)
  if set(shapes) != set(out):
    return None, None
  for name, shape in shapes.items():
    out[name] = out[name].reshape(shape).astype(np.float32)
  return out, config
