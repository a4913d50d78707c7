"""TF Hub encoders in and out: TF2 SavedModel, TF1 `hub.Module` format, keras-hub preset.

Shapes: B = batch, S = sequence length, H = hidden size, A = attention heads,
d = H / A, L = layers, V = vocab size, P = max positions, T = token types.

Export (every function takes the encoder weights as a built model with
`original_variables()`, a {original name: variable or array} dict, or an
original checkpoint path):

* `export_tf2_encoder`: a TF2 SavedModel with the interface of Google's
  published TF Hub BERT encoders: `encoder(dict(input_word_ids=..., input_mask=...,
  input_type_ids=...), training=False)` (int32 [B,S]) returns `pooled_output`
  [B,H], `default` (= pooled_output), `sequence_output` [B,S,H] and
  `encoder_outputs` (list of L x [B,S,H]); `vocab_file` (an Asset),
  `do_lower_case` (a tf.Variable), `variables` / `trainable_variables`, plus a
  `serving_default` signature.  Extra: `original_variables` ({original TF1
  name: variable}) and a `bert_config_file` asset, so the exact model comes
  back with `load_hub_encoder`.
* `export_tf1_hub_module`: the TF1 Hub module format used by the original's
  `run_classifier_with_tfhub.py` and Google's TF1 BERT modules: a SavedModel
  with two graphs (tags {} and {"train"}, the latter with dropout), signatures
  "tokens" (input_ids, input_mask, segment_ids int32 [B,S] -> pooled_output,
  sequence_output) and "tokenization_info" (-> vocab_file, do_lower_case),
  `tfhub_module.pb`, `assets/vocab.txt`, and `variables/` as a TF1 checkpoint
  under the ORIGINAL variable names (`bert/embeddings/word_embeddings`, ...).
  tensorflow_hub 0.16 no longer has the TF1 `hub.create_module_spec` API, so
  the SavedModel is assembled here the way hub's exporter laid it out (asset
  constants listed in the `saved_model_assets` collection).
* `export_keras_hub_preset`: a directory `keras_hub.models.BertBackbone.from_preset`
  and `keras_hub.models.BertTokenizer.from_preset` load (q/k/v kernels
  reshaped to [H,A,d], biases to [A,d], the attention output kernel to [A,d,H]).

Import: `load_hub_encoder(handle)` takes a local directory (or a URL / hub
handle, resolved through `tensorflow_hub.resolve`, which only works with
internet access or a warm TFHUB_CACHE_DIR) and detects the format:

* TF1 Hub module: variables/ is read like an original checkpoint; the config
  comes from `assets/bert_config.json` when we wrote it, else from the
  variable shapes (A = H/64, Google's convention for every released model,
  unless `num_attention_heads` is given); vocab and do_lower_case from the
  "tokenization_info" signature.
* TF2 SavedModel: our own exports map by `original_variables`; Google's
  published encoders (tf-models `BertEncoder`/`BertEncoderV2`, variable names
  `word_embeddings/embeddings`, `position_embedding/embeddings`,
  `type_embeddings/embeddings`, `embeddings/layer_norm/*`,
  `transformer/layer_N/self_attention/{query,key,value,attention_output}/*`,
  `transformer/layer_N/{self_attention_layer_norm,intermediate,output,
  output_layer_norm}/*`, `pooler_transform/*`, any prefix) map by name with the
  reshapes undone.  Anything else is wrapped as it is: `SavedModelEncoder`, a
  Keras 3 layer calling `tf.saved_model.load(path)` with the SavedModel's own
  variables registered as trainable Keras weights.
* keras-hub BertBackbone preset directory: mapped back to original names.

The result is a `HubEncoder` with `.config`, `.vocab_file`, `.do_lower_case`,
`.bert_model()` (our trainable Keras `BertModel`, whose `original_variables()`
is the original name map), `.restore(var_map)` (assign into an existing
model's `original_variables()`, e.g. a BertClassifier's) and `.keras_layer()`.
"""

import json
import os
import re
import shutil
import tempfile

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from bert_tf import checkpoints
from bert_tf import export as export_lib
from bert_tf import modeling
from bert_tf.configuration import BertConfig

_LN_EPSILON = 1e-12
_CONFIG_ASSET = "bert_config.json"
_VOCAB_ASSET = "vocab.txt"
# tensorflow_hub's ModuleDef proto: field 1 (format) = FORMAT_V3 (3).
_MODULE_DEF_V3 = b"\x08\x03"
_TF1_TAG_SETS = (set(), {"train"})


class HubError(ValueError):
  """A hub module that cannot be exported or loaded; the message is one line."""


# ---------------------------------------------------------------------------
# Encoder weights by original name.
# ---------------------------------------------------------------------------


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


def bert_model_from_values(config, values):
  """A built `modeling.BertModel` holding `values` ({original name: array})."""
  model = modeling.BertModel(config)
  model.build()
  for name, var in model.original_variables().items():
    var.assign(values[name])
  return model


def _write_config(config, path):
  with open(path, "w", encoding="utf-8") as f:
    f.write(config.to_json_string())


# ---------------------------------------------------------------------------
# TF2 SavedModel encoder (Google's TF Hub interface).
# ---------------------------------------------------------------------------


class _TF2Encoder(tf.__internal__.tracking.AutoTrackable):
  """The object export_tf2_encoder saves; see the module docstring."""

  def __init__(self, model, vocab_file, config_file, do_lower_case, original_names=True):
    super().__init__()
    # The Keras model stays out of the object graph; only its tf.Variables are
    # tracked (see export._Untracked).
    self._holder = export_lib._Untracked(model)
    self.vocab_file = tf.saved_model.Asset(vocab_file)
    self.do_lower_case = tf.Variable(bool(do_lower_case), trainable=False,
                                     name="do_lower_case")
    if original_names:
      self.bert_config_file = tf.saved_model.Asset(config_file)
      self.original_variables = {k: export_lib.tf_variables([v])[0]
                                 for k, v in model.original_variables().items()}
    self.variables = export_lib.tf_variables(model.variables)
    self.trainable_variables = export_lib.tf_variables(model.trainable_variables)
    self.num_layers = model.config.num_hidden_layers

  def _run(self, inputs, training):
    out = self._holder.model({"input_ids": inputs["input_word_ids"],
                     "input_mask": inputs["input_mask"],
                     "segment_ids": inputs["input_type_ids"]}, training=training)
    return {"pooled_output": out["pooled_output"], "default": out["pooled_output"],
            "sequence_output": out["sequence_output"],
            "encoder_outputs": list(out["all_encoder_layers"])}

  @tf.function
  def __call__(self, inputs, training=False):
    return self._run(inputs, training)

  @tf.function(input_signature=[
      tf.TensorSpec([None, None], tf.int32, name="input_word_ids"),
      tf.TensorSpec([None, None], tf.int32, name="input_mask"),
      tf.TensorSpec([None, None], tf.int32, name="input_type_ids")])
  def serve(self, input_word_ids, input_mask, input_type_ids):
    out = self._run({"input_word_ids": input_word_ids, "input_mask": input_mask,
                     "input_type_ids": input_type_ids}, training=False)
    flat = {k: out[k] for k in ("pooled_output", "default", "sequence_output")}
    for n, layer in enumerate(out["encoder_outputs"]):
      flat["encoder_outputs_%d" % n] = layer
    return flat


def _save_tf2_encoder(config, source, vocab_file, do_lower_case, export_dir, original_names):
  values = encoder_values(config, source)
  model = bert_model_from_values(config, values)
  with tempfile.TemporaryDirectory() as tmp:
    config_file = os.path.join(tmp, _CONFIG_ASSET)
    _write_config(config, config_file)
    obj = _TF2Encoder(model, vocab_file, config_file, do_lower_case, original_names)
    spec = {k: tf.TensorSpec([None, None], tf.int32, name=k)
            for k in ("input_word_ids", "input_mask", "input_type_ids")}
    obj.__call__.get_concrete_function(spec, training=False)
    obj.__call__.get_concrete_function(spec, training=True)
    with checkpoints.publish_directory(export_dir) as out:
      tf.saved_model.save(obj, out,
                          signatures={"serving_default": obj.serve.get_concrete_function()})
  return export_dir


def export_tf2_encoder(config, variables_or_ckpt, vocab_file, do_lower_case, export_dir):
  """Writes the encoder as a TF2 SavedModel in Google's TF Hub encoder format.

  config: BertConfig; variables_or_ckpt: a model with original_variables(), a
  {original name: value} dict or an original checkpoint path; vocab_file is
  copied into assets/.  Returns export_dir (replaced if it exists).
  """
  return _save_tf2_encoder(config, variables_or_ckpt, vocab_file, do_lower_case, export_dir,
                           original_names=True)


# ---------------------------------------------------------------------------
# TF1 Hub module (hub.Module / run_classifier_with_tfhub.py).
# ---------------------------------------------------------------------------


def _tf1_layer_norm(x, name):
  with tf.compat.v1.variable_scope(name):
    h = x.shape[-1]
    beta = tf.compat.v1.get_variable("beta", [h], initializer=tf.compat.v1.zeros_initializer())
    gamma = tf.compat.v1.get_variable("gamma", [h], initializer=tf.compat.v1.ones_initializer())
    mean, variance = tf.nn.moments(x, [-1], keepdims=True)
    return tf.nn.batch_normalization(x, mean, variance, beta, gamma, _LN_EPSILON)


def _tf1_dense(x, units, name, activation=None):
  with tf.compat.v1.variable_scope(name):
    kernel = tf.compat.v1.get_variable("kernel", [x.shape[-1], units],
                                       initializer=tf.compat.v1.zeros_initializer())
    bias = tf.compat.v1.get_variable("bias", [units], initializer=tf.compat.v1.zeros_initializer())
    y = tf.tensordot(x, kernel, [[x.shape.rank - 1], [0]]) + bias
    return activation(y) if activation is not None else y


def _tf1_dropout(x, rate, is_training):
  if not is_training or not rate:
    return x
  return tf.nn.dropout(x, rate=rate)


def tf1_encoder_graph(config, input_ids, input_mask, segment_ids, is_training):
  """The original BERT forward pass in a TF1 graph, variables under original names.

  input_ids, input_mask, segment_ids: int32 [B,S] tensors of the current graph.
  Returns (pooled_output [B,H], sequence_output [B,S,H], all_encoder_layers).
  """
  v1 = tf.compat.v1
  h, a = config.hidden_size, config.num_attention_heads
  d = h // a
  act = modeling.get_activation(config.hidden_act)
  hidden_drop = config.hidden_dropout_prob
  probs_drop = config.attention_probs_dropout_prob
  zeros = v1.zeros_initializer()
  with v1.variable_scope("bert"):
    with v1.variable_scope("embeddings"):
      word = v1.get_variable("word_embeddings", [config.vocab_size, h], initializer=zeros)
      types = v1.get_variable("token_type_embeddings", [config.type_vocab_size, h],
                              initializer=zeros)
      positions = v1.get_variable("position_embeddings", [config.max_position_embeddings, h],
                                  initializer=zeros)
      seq_len = tf.shape(input_ids)[1]
      x = tf.gather(word, input_ids)
      x += tf.einsum("bst,th->bsh", tf.one_hot(segment_ids, config.type_vocab_size), types)
      x += positions[tf.newaxis, :seq_len]
      x = _tf1_dropout(_tf1_layer_norm(x, "LayerNorm"), hidden_drop, is_training)
    adder = (1.0 - tf.cast(input_mask, tf.float32))[:, tf.newaxis, tf.newaxis, :] * -10000.0
    batch = tf.shape(input_ids)[0]

    def heads(t):
      return tf.transpose(tf.reshape(t, [batch, seq_len, a, d]), [0, 2, 1, 3])

    all_layers = []
    with v1.variable_scope("encoder"):
      for n in range(config.num_hidden_layers):
        with v1.variable_scope("layer_%d" % n):
          with v1.variable_scope("attention"):
            with v1.variable_scope("self"):
              q = heads(_tf1_dense(x, h, "query"))
              k = heads(_tf1_dense(x, h, "key"))
              v = heads(_tf1_dense(x, h, "value"))
              scores = tf.matmul(q, k, transpose_b=True) * (1.0 / np.sqrt(float(d))) + adder
              probs = _tf1_dropout(tf.nn.softmax(scores), probs_drop, is_training)
              ctx = tf.reshape(tf.transpose(tf.matmul(probs, v), [0, 2, 1, 3]),
                               [batch, seq_len, h])
            with v1.variable_scope("output"):
              att = _tf1_dropout(_tf1_dense(ctx, h, "dense"), hidden_drop, is_training)
              att = _tf1_layer_norm(att + x, "LayerNorm")
          with v1.variable_scope("intermediate"):
            inter = _tf1_dense(att, config.intermediate_size, "dense", act)
          with v1.variable_scope("output"):
            out = _tf1_dropout(_tf1_dense(inter, h, "dense"), hidden_drop, is_training)
            x = _tf1_layer_norm(out + att, "LayerNorm")
          all_layers.append(x)
    with v1.variable_scope("pooler"):
      pooled = _tf1_dense(x[:, 0], h, "dense", tf.tanh)
  return pooled, x, all_layers


def _tensor_info(t):
  return tf.compat.v1.saved_model.utils.build_tensor_info(t)


def _signature(inputs, outputs):
  return tf.compat.v1.saved_model.signature_def_utils.build_signature_def(
      {k: _tensor_info(v) for k, v in inputs.items()},
      {k: _tensor_info(v) for k, v in outputs.items()})


_TF1_GRAPH_SEED = 12345


def _tf1_meta_graph(config, tags, do_lower_case, values, variables_prefix):
  """Builds one tagged graph; returns its MetaGraphDef (and saves variables if asked)."""
  from tensorflow.core.protobuf import meta_graph_pb2  # pylint: disable=g-import-not-at-top
  v1 = tf.compat.v1
  graph = tf.Graph()
  with graph.as_default():
    # A graph-level seed gives the train graph's dropout ops fixed seeds; without one, building
    # them fails once TF op determinism is on (run_classifier --seed turns it on).
    v1.set_random_seed(_TF1_GRAPH_SEED)
    ids = v1.placeholder(tf.int32, [None, None], name="input_ids")
    mask = v1.placeholder(tf.int32, [None, None], name="input_mask")
    segs = v1.placeholder(tf.int32, [None, None], name="segment_ids")
    pooled, sequence, _ = tf1_encoder_graph(config, ids, mask, segs, "train" in tags)
    asset_tensors = {}
    for asset_name, node in ((_VOCAB_ASSET, "vocab_file"), (_CONFIG_ASSET, "bert_config_file")):
      t = tf.constant(asset_name, name=node)
      v1.add_to_collection(v1.GraphKeys.ASSET_FILEPATHS, t)
      asset_tensors[asset_name] = t
    lower = tf.constant(bool(do_lower_case), name="do_lower_case")
    saver = v1.train.Saver(sharded=False)
    if variables_prefix:
      with v1.Session(graph=graph) as sess:
        variables = v1.global_variables()
        sess.run([v.initializer for v in variables],
                 {v.initial_value: values[v.op.name] for v in variables})
        saver.save(sess, variables_prefix, write_meta_graph=False, write_state=False)
    meta = v1.train.export_meta_graph(saver_def=saver.as_saver_def(), strip_default_attrs=True)
    tokens_sig = _signature({"input_ids": ids, "input_mask": mask, "segment_ids": segs},
                            {"pooled_output": pooled, "sequence_output": sequence})
    info_sig = _signature({}, {"vocab_file": asset_tensors[_VOCAB_ASSET], "do_lower_case": lower})
  meta.meta_info_def.tags.extend(sorted(tags))
  meta.signature_def["tokens"].CopyFrom(tokens_sig)
  meta.signature_def["tokenization_info"].CopyFrom(info_sig)
  # Assets as hub's exporter wrote them (the saved_model_assets collection and a
  # placeholder constant value), plus asset_file_def for TF's own loaders.
  del meta.collection_def[v1.GraphKeys.ASSET_FILEPATHS]
  for filename, tensor in sorted(asset_tensors.items()):
    asset = meta_graph_pb2.AssetFileDef(filename=filename)
    asset.tensor_info.name = tensor.name
    meta.collection_def[v1.saved_model.ASSETS_KEY].any_list.value.add().Pack(asset)
    meta.asset_file_def.add().CopyFrom(asset)
  for node in meta.graph_def.node:
    if node.name in ("vocab_file", "bert_config_file"):
      node.attr["value"].tensor.string_val[0] = b"SAVEDMODEL-ASSET"
  return meta


def export_tf1_hub_module(config, variables_or_ckpt, vocab_file, do_lower_case, export_dir):
  """Writes the encoder as a TF1 Hub module (the original notebook's `hub.Module` format).

  Same arguments as export_tf2_encoder.  variables/variables is a TF1
  checkpoint whose keys are the original names.  Returns export_dir.
  """
  from tensorflow.core.protobuf import saved_model_pb2  # pylint: disable=g-import-not-at-top
  values = encoder_values(config, variables_or_ckpt)
  with checkpoints.publish_directory(export_dir) as out:
    os.makedirs(os.path.join(out, "variables"))
    os.makedirs(os.path.join(out, "assets"))
    proto = saved_model_pb2.SavedModel(saved_model_schema_version=1)
    for n, tags in enumerate(_TF1_TAG_SETS):
      prefix = os.path.join(out, "variables", "variables") if n == 0 else None
      proto.meta_graphs.add().CopyFrom(_tf1_meta_graph(config, tags, do_lower_case, values,
                                                       prefix))
    shutil.copyfile(vocab_file, os.path.join(out, "assets", _VOCAB_ASSET))
    _write_config(config, os.path.join(out, "assets", _CONFIG_ASSET))
    with open(os.path.join(out, "saved_model.pb"), "wb") as f:
      f.write(proto.SerializeToString())
    with open(os.path.join(out, "tfhub_module.pb"), "wb") as f:
      f.write(_MODULE_DEF_V3)
  return export_dir


# ---------------------------------------------------------------------------
# keras-hub BertBackbone preset.
# ---------------------------------------------------------------------------


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
  if config.hidden_act != "gelu":
    raise HubError("keras-hub BertBackbone only has the gelu activation, the config has %r" %
                   config.hidden_act)
  values = encoder_values(config, variables_or_ckpt)
  backbone = keras_hub.models.BertBackbone(
      vocabulary_size=config.vocab_size, num_layers=config.num_hidden_layers,
      num_heads=config.num_attention_heads, hidden_dim=config.hidden_size,
      intermediate_dim=config.intermediate_size, dropout=config.hidden_dropout_prob,
      max_sequence_length=config.max_position_embeddings,
      num_segments=config.type_vocab_size)
  weights = {w.path: w for w in backbone.weights}
  for orig, path, shape in _keras_hub_map(config):
    value = values[orig]
    weights[path].assign(value.reshape(shape) if shape else value)
  tokenizer = keras_hub.models.BertTokenizer(vocabulary=vocab_file,
                                             lowercase=bool(do_lower_case),
                                             strip_accents=bool(do_lower_case))
  with checkpoints.publish_directory(preset_dir) as out:
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
  weights = {w.path: w for w in backbone.weights}
  values = {}
  for orig, path, _ in _keras_hub_map(config):
    values[orig] = np.asarray(weights[path].numpy()).reshape(
        encoder_variable_shapes(config)[orig])
  return config, values


# ---------------------------------------------------------------------------
# Google's TF2 encoders (tf-models BertEncoder names).
# ---------------------------------------------------------------------------

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
    config = _infer_config(out, heads or None)
  except HubError:
    return None, None
  shapes = encoder_variable_shapes(config)
  if set(shapes) != set(out):
    return None, None
  for name, shape in shapes.items():
    out[name] = out[name].reshape(shape).astype(np.float32)
  return out, config


def _infer_config(values, num_attention_heads=None):
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


# ---------------------------------------------------------------------------
# Loading.
# ---------------------------------------------------------------------------


def saved_model_variables(obj):
  """(all variables, trainable variables) of a loaded TF2 SavedModel object.

  Keras-saved models (Google's encoders) and our exports list them as
  `variables` / `trainable_variables`; otherwise they are collected from the
  restored functions' captures.
  """
  variables = list(getattr(obj, "variables", None) or [])
  trainable = list(getattr(obj, "trainable_variables", None) or [])
  if not variables:
    seen = {}
    fns = list(getattr(obj, "signatures", {}).values())
    call = getattr(obj, "__call__", None)
    if call is not None and hasattr(call, "concrete_functions"):
      fns += list(call.concrete_functions)
    for fn in fns:
      for v in fn.variables:
        seen.setdefault(id(v), v)
    variables = list(seen.values())
  if not trainable:
    trainable = [v for v in variables if v.trainable]
  return variables, trainable


class SavedModelEncoder(keras.layers.Layer):
  """A TF2 SavedModel encoder we cannot map, as a trainable Keras 3 layer.

  call({"input_ids","input_mask","segment_ids"} int32 [B,S], training) calls
  the loaded object with Google's input names and returns pooled_output [B,H],
  sequence_output [B,S,H] and all_encoder_layers (its `encoder_outputs`).
  Its variables are the SavedModel's own tf.Variables, tracked as Keras weights
  under sanitised names (no "/" or ":", which Keras optimizers reject), so
  `fit` and optimizer.apply update the SavedModel's variables in place.
  """

  def __init__(self, path, trainable=True, **kwargs):
    super().__init__(trainable=trainable, **kwargs)
    self._path = path
    self._loaded = tf.saved_model.load(path)
    self._names = {}
    variables, trainable = saved_model_variables(self._loaded)
    trainable_ids = {id(v) for v in trainable}
    for v in variables:
      name = re.sub(r"[^A-Za-z0-9_.\-]", "_", v.name)
      kvar = keras.Variable(initializer=v, trainable=id(v) in trainable_ids and v.trainable,
                            dtype=v.dtype, shape=v.shape, name=name)
      self._track_variable(kvar)
      self._names[v.name] = kvar
    self.built = True

  def call(self, inputs, training=False):
    out = self._loaded({"input_word_ids": tf.cast(inputs["input_ids"], tf.int32),
                        "input_mask": tf.cast(inputs["input_mask"], tf.int32),
                        "input_type_ids": tf.cast(inputs["segment_ids"], tf.int32)},
                       training=bool(training))
    return {"pooled_output": out["pooled_output"], "sequence_output": out["sequence_output"],
            "all_encoder_layers": list(out.get("encoder_outputs", [out["sequence_output"]]))}

  def original_variables(self):
    """{SavedModel variable name: Keras variable} (not original BERT names)."""
    return dict(self._names)


class HubClassifier(keras.Model):
  """run_classifier's head on any encoder layer (e.g. a SavedModelEncoder).

  call(features) -> logits [B,K]; `original_variables()` = the encoder's map
  plus the root-scope `output_weights` / `output_bias`.
  """

  def __init__(self, encoder, num_labels, hidden_size, **kwargs):
    super().__init__(**kwargs)
    self.encoder = encoder
    self.num_labels = num_labels
    self.head = modeling.ClassifierHead(num_labels, hidden_size, name="classifier")

  def build(self, input_shape=None):
    self.head.build()
    self.built = True

  def call(self, inputs, training=False):
    pooled = self.encoder(inputs, training=training)["pooled_output"]
    return tf.cast(self.head(pooled, training=training), tf.float32)

  def original_variables(self):
    out = dict(self.encoder.original_variables())
    out.update(self.head.original_variables())
    return out


class HubEncoder(object):
  """A loaded hub encoder.

  Attributes: format ("tf1_hub_module", "tf2_saved_model", "keras_hub_preset"),
  path, config (BertConfig), vocab_file, do_lower_case (bool or None when the
  module does not say), values ({original name: array}, or None when the
  SavedModel could not be mapped), mapping (how names were mapped).
  """

  def __init__(self, format, path, config, vocab_file, do_lower_case, values, mapping):
    self.format = format
    self.path = path
    self.config = config
    self.vocab_file = vocab_file
    self.do_lower_case = do_lower_case
    self.values = values
    self.mapping = mapping

  @property
  def mappable(self):
    return self.values is not None

  def bert_model(self):
    """A trainable Keras BertModel with the hub weights (original_variables() names them)."""
    if self.values is None:
      raise HubError("%s: the SavedModel's variables do not map to BERT names; use "
                     "keras_layer() (SavedModelEncoder) instead" % self.path)
    return bert_model_from_values(self.config, self.values)

  def restore(self, variables):
    """Assigns the hub weights into {original name: variable} (e.g. a BertClassifier's
    original_variables()); names the hub lacks (the head) are left alone.
    Returns the set of names assigned."""
    if self.values is None:
      raise HubError("%s: the SavedModel's variables do not map to BERT names" % self.path)
    done = set()
    for name, var in variables.items():
      if name in self.values:
        if tuple(var.shape) != self.values[name].shape:
          raise HubError("%s: variable %s has shape %s in the module but the model expects %s"
                         % (self.path, name, list(self.values[name].shape), list(var.shape)))
        var.assign(self.values[name])
        done.add(name)
    return done

  def keras_layer(self):
    """The encoder as a Keras layer: a BertModel when mapped, else a SavedModelEncoder."""
    if self.values is not None:
      return self.bert_model()
    return SavedModelEncoder(self.path)


def _is_url(handle):
  return bool(re.match(r"^[a-z][a-z0-9+.\-]*://", handle)) and not handle.startswith("file://")


def resolve_handle(handle):
  """A local directory for `handle` (a path, a file:// URL, or a URL / hub handle).

  URLs go through tensorflow_hub.resolve (which uses TFHUB_CACHE_DIR); without
  internet access that fails, and the error says how to pass a local copy.
  """
  if not handle:
    raise HubError("no hub module handle given")
  if handle.startswith("file://"):
    handle = handle[len("file://"):]
  if not _is_url(handle):
    path = os.path.expanduser(handle)
    if not os.path.isdir(path):
      raise HubError("%s: hub module directory not found" % handle)
    return path
  try:
    import tensorflow_hub as hub  # pylint: disable=g-import-not-at-top
    return hub.resolve(handle)
  except Exception as e:  # pylint: disable=broad-except
    reason = str(e).strip().splitlines()
    raise HubError(
        "cannot download %s here (%s): fetch and extract the module on a machine with "
        "internet access, copy it here and pass --bert_hub_module_handle=/path/to/extracted/"
        "module" % (handle, (reason[0][:200] if reason else type(e).__name__)))


def _read_saved_model_proto(path):
  from tensorflow.core.protobuf import saved_model_pb2  # pylint: disable=g-import-not-at-top
  proto = saved_model_pb2.SavedModel()
  with open(os.path.join(path, "saved_model.pb"), "rb") as f:
    proto.ParseFromString(f.read())
  return proto


def _const_value(graph_def, tensor_name):
  """The value of a Const (possibly behind Identity ops) producing `tensor_name`."""
  nodes = {n.name: n for n in graph_def.node}
  name = tensor_name.split(":")[0]
  for _ in range(32):
    node = nodes.get(name)
    if node is None:
      return None
    if node.op == "Const":
      return tf.make_ndarray(node.attr["value"].tensor)
    if node.op in ("Identity", "IdentityN") and node.input:
      name = node.input[0].lstrip("^").split(":")[0]
      continue
    return None
  return None


def _asset_map(meta_graph):
  """{tensor name: asset filename} from asset_file_def and the hub collection."""
  from tensorflow.core.protobuf import meta_graph_pb2  # pylint: disable=g-import-not-at-top
  out = {}
  for a in meta_graph.asset_file_def:
    out[a.tensor_info.name] = a.filename
  coll = meta_graph.collection_def.get(tf.compat.v1.saved_model.ASSETS_KEY)
  if coll is not None:
    for any_proto in coll.any_list.value:
      a = meta_graph_pb2.AssetFileDef()
      any_proto.Unpack(a)
      out[a.tensor_info.name] = a.filename
  return out


def _load_tf1_module(path, num_attention_heads):
  proto = _read_saved_model_proto(path)
  metas = list(proto.meta_graphs)
  meta = next((m for m in metas if not m.meta_info_def.tags), metas[0])
  vocab_file, do_lower_case = None, None
  info = meta.signature_def.get("tokenization_info")
  assets = _asset_map(meta)
  if info is not None:
    if "vocab_file" in info.outputs:
      tname = info.outputs["vocab_file"].name
      if tname in assets:
        vocab_file = os.path.join(path, "assets", assets[tname])
    if "do_lower_case" in info.outputs:
      value = _const_value(meta.graph_def, info.outputs["do_lower_case"].name)
      if value is not None:
        do_lower_case = bool(value)
  if vocab_file is None and os.path.exists(os.path.join(path, "assets", _VOCAB_ASSET)):
    vocab_file = os.path.join(path, "assets", _VOCAB_ASSET)
  prefix = os.path.join(path, "variables", "variables")
  reader = tf.train.load_checkpoint(prefix)
  names = reader.get_variable_to_shape_map()
  config_file = os.path.join(path, "assets", _CONFIG_ASSET)
  if os.path.exists(config_file):
    config = BertConfig.from_json_file(config_file)
    mapping = "original names; config from assets/%s" % _CONFIG_ASSET
  else:
    config = _infer_config({n: np.zeros(s, np.int8) for n, s in names.items()
                            if n.startswith("bert/")}, num_attention_heads)
    mapping = "original names; config inferred from variable shapes (A = %d)" % \
        config.num_attention_heads
  values = encoder_values(config, prefix)
  return HubEncoder("tf1_hub_module", path, config, vocab_file, do_lower_case, values, mapping)


def _load_tf2_saved_model(path, num_attention_heads):
  obj = tf.saved_model.load(path)
  vocab_file, do_lower_case = None, None
  if hasattr(obj, "vocab_file") and hasattr(obj.vocab_file, "asset_path"):
    vocab_file = obj.vocab_file.asset_path.numpy().decode("utf-8")
  if hasattr(obj, "do_lower_case"):
    do_lower_case = bool(np.asarray(obj.do_lower_case.numpy() if hasattr(
        obj.do_lower_case, "numpy") else obj.do_lower_case))
  if hasattr(obj, "original_variables") and hasattr(obj, "bert_config_file"):
    config = BertConfig.from_json_file(obj.bert_config_file.asset_path.numpy().decode("utf-8"))
    variables = {k: v.numpy() for k, v in obj.original_variables.items()}
    values = encoder_values(config, variables)
    return HubEncoder("tf2_saved_model", path, config, vocab_file, do_lower_case, values,
                      "original names (bert_tf export)")
  named = {v.name: v.numpy() for v in saved_model_variables(obj)[0]}
  values, config = map_tf_models_names(named) if named else (None, None)
  if values is not None:
    if num_attention_heads:
      config.num_attention_heads = num_attention_heads
    return HubEncoder("tf2_saved_model", path, config, vocab_file, do_lower_case, values,
                      "tf-models BertEncoder names")
  logging.warning("%s: variables do not map to BERT names; it will be used as a wrapped "
                  "SavedModel (SavedModelEncoder)", path)
  probe = tf.ones([1, 2], tf.int32)
  out = obj({"input_word_ids": probe, "input_mask": probe, "input_type_ids": probe * 0},
            training=False)
  config = BertConfig(vocab_size=1, hidden_size=int(out["pooled_output"].shape[-1]),
                      num_hidden_layers=len(out.get("encoder_outputs", [None])))
  return HubEncoder("tf2_saved_model", path, config, vocab_file, do_lower_case, None, "wrapped")


def _load_keras_hub_preset(path):
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


def load_hub_encoder(handle, num_attention_heads=None):
  """Loads a BERT encoder from a TF1 Hub module, a TF2 SavedModel or a keras-hub preset.

  handle: a local directory, file:// URL, or URL / hub handle (needs internet
  or a cached copy).  num_attention_heads: only for TF1 modules without our
  bert_config.json asset whose A is not H/64.  Returns a HubEncoder.
  """
  path = resolve_handle(handle)
  if os.path.exists(os.path.join(path, "tfhub_module.pb")):
    return _load_tf1_module(path, num_attention_heads)
  if os.path.exists(os.path.join(path, "config.json")) and \
      os.path.exists(os.path.join(path, "metadata.json")):
    return _load_keras_hub_preset(path)
  if os.path.exists(os.path.join(path, "saved_model.pb")):
    proto = _read_saved_model_proto(path)
    if any(m.object_graph_def.nodes for m in proto.meta_graphs):
      return _load_tf2_saved_model(path, num_attention_heads)
    raise HubError("%s: a TF1 SavedModel without tfhub_module.pb is not a hub module" % path)
  if any(f.endswith(".ckpt.index") for f in os.listdir(path)):
    raise HubError("%s: this is an original checkpoint directory, not a hub module; use "
                   "--init_checkpoint/--bert_config_file/--vocab_file" % path)
  raise HubError("%s: no saved_model.pb, tfhub_module.pb or keras-hub preset found" % path)


def export_for_wrapping_test(config, source, vocab_file, do_lower_case, export_dir):
  """A TF2 encoder export WITHOUT original names or config (what a foreign
  SavedModel looks like to load_hub_encoder); used to test SavedModelEncoder."""
  return _save_tf2_encoder(config, source, vocab_file, do_lower_case, export_dir,
                           original_names=False)
