"""The BERT encoder's weights by original TF1 name: what every interop format reads and writes.

Every export takes the encoder weights as a built model with
`original_variables()`, a {original name: variable or array} dict, or an
original checkpoint path (`encoder_values`); every loader ends with
{original name: float32 array} and a BertConfig, inferred from the shapes when
the format does not carry one (`infer_config`).  Formats that write our config
and vocab as assets use the file names below.
"""

import os

import numpy as np

from bert_tf import checkpoints
from bert_tf import modeling
from bert_tf.configuration import BertConfig
from bert_tf.interop import HubError

CONFIG_ASSET = "bert_config.json"
VOCAB_ASSET = "vocab.txt"


def encoder_variable_shapes(config):
  """{original name: shape} of every `bert/*` variable of `config`."""
  h, i = config.hidden_size, config.intermediate_size
  out = {
      "bert/embeddings/word_embeddings": (config.vocab_size, h),
      "bert/embeddings/token_type_embeddings": (config.type_vocab_size, h),
      "bert/embeddings/position_embeddings": (config.max_position_embeddings, h),
      "bert/embeddings/LayerNorm/beta": (h,),
      "bert/embeddings/LayerNorm/gamma": (h,),
      "bert/pooler/dense/kernel": (h, h),
      "bert/pooler/dense/bias": (h,),
  }
  for n in range(config.num_hidden_layers):
    p = "bert/encoder/layer_%d/" % n
    for part in ("query", "key", "value"):
      out[p + "attention/self/%s/kernel" % part] = (h, h)
      out[p + "attention/self/%s/bias" % part] = (h,)
    out[p + "attention/output/dense/kernel"] = (h, h)
    out[p + "attention/output/dense/bias"] = (h,)
    for ln in ("attention/output/LayerNorm", "output/LayerNorm"):
      out[p + ln + "/beta"] = (h,)
      out[p + ln + "/gamma"] = (h,)
    out[p + "intermediate/dense/kernel"] = (h, i)
    out[p + "intermediate/dense/bias"] = (i,)
    out[p + "output/dense/kernel"] = (i, h)
    out[p + "output/dense/bias"] = (h,)
  return out


def encoder_values(config, source):
  """{original name: float32 ndarray} of the encoder (`bert/*`) from `source`.

  source: a model with `original_variables()` (BertModel, BertClassifier, ...),
  a {original name: variable or array} dict, or an original checkpoint path.
  Raises HubError when a variable is missing or has the wrong shape.
  """
  shapes = encoder_variable_shapes(config)
  if isinstance(source, (str, os.PathLike)):
    prefix, reader = checkpoints.open_checkpoint(os.fspath(source))
    have = reader.get_variable_to_shape_map()
    missing = sorted(n for n in shapes if n not in have)
    if missing:
      raise HubError("%s: checkpoint lacks %d encoder variables (first: %s)" %
                     (prefix, len(missing), missing[0]))
    values = {n: reader.get_tensor(n) for n in shapes}
  else:
    variables = source.original_variables() if hasattr(source, "original_variables") \
        else dict(source)
    missing = sorted(n for n in shapes if n not in variables)
    if missing:
      raise HubError("the model lacks %d encoder variables (first: %s)" %
                     (len(missing), missing[0]))
    values = {n: np.asarray(variables[n]) for n in shapes}
  for name, shape in shapes.items():
    if tuple(values[name].shape) != tuple(shape):
      raise HubError("variable %s has shape %s but bert_config expects %s" %
                     (name, list(values[name].shape), list(shape)))
    values[name] = values[name].astype(np.float32)
  return values


def source_name(source):
  """What an export records as its source (the marker file): a checkpoint path as an
  absolute path, None for weights given as a model or a dict."""
  return os.path.abspath(source) if isinstance(source, str) else None


def bert_model_from_values(config, values):
  """A built `modeling.BertModel` holding `values` ({original name: array})."""
  model = modeling.BertModel(config)
  model.build()
  for name, var in model.original_variables().items():
    var.assign(values[name])
  return model


def write_config(config, path):
  with open(path, "w", encoding="utf-8") as f:
    f.write(config.to_json_string())


def infer_config(values, num_attention_heads=None):
  """BertConfig from {original name: array} shapes (A = H/64 unless given)."""
  try:
    vocab, h = values["bert/embeddings/word_embeddings"].shape
    positions = values["bert/embeddings/position_embeddings"].shape[0]
    types = values["bert/embeddings/token_type_embeddings"].shape[0]
    layers = 0
    while "bert/encoder/layer_%d/attention/self/query/bias" % layers in values:
      layers += 1
    inter = int(np.prod(values["bert/encoder/layer_0/intermediate/dense/bias"].shape))
  except KeyError as e:
    raise HubError("not a BERT encoder: variable %s missing" % e)
  if not num_attention_heads:
    if h % 64:
      raise HubError("cannot infer num_attention_heads for hidden size %d (not a multiple "
                     "of 64); pass num_attention_heads" % h)
    num_attention_heads = h // 64
  return BertConfig(vocab_size=int(vocab), hidden_size=int(h), num_hidden_layers=layers,
                    num_attention_heads=int(num_attention_heads), intermediate_size=inter,
                    max_position_embeddings=int(positions), type_vocab_size=int(types))
