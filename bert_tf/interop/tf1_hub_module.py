"""The TF1 Hub module format: the original's `hub.Module` / run_classifier_with_tfhub.py.

Export (`export_tf1_hub_module`): the format used by the original's
`run_classifier_with_tfhub.py` and Google's TF1 BERT modules: a SavedModel
with two graphs (tags {} and {"train"}, the latter with dropout), signatures
"tokens" (input_ids, input_mask, segment_ids int32 [B,S] -> pooled_output,
sequence_output) and "tokenization_info" (-> vocab_file, do_lower_case),
`tfhub_module.pb`, `assets/vocab.txt`, and `variables/` as a TF1 checkpoint
under the ORIGINAL variable names (`bert/embeddings/word_embeddings`, ...).
tensorflow_hub 0.16 no longer has the TF1 `hub.create_module_spec` API, so
the SavedModel is assembled here the way hub's exporter laid it out (asset
constants listed in the `saved_model_assets` collection); the graphs are
bert_tf.interop.tf1_graph.

Load (`load_tf1_module`): variables/ is read like an original checkpoint; the
config comes from `assets/bert_config.json` when we wrote it, else from the
variable shapes (A = H/64, Google's convention for every released model,
unless `num_attention_heads` is given); vocab and do_lower_case from the
"tokenization_info" signature.
"""

import os
import shutil

import numpy as np
import tensorflow as tf

from bert_tf import checkpoints
from bert_tf.configuration import BertConfig
from bert_tf.interop import saved_model
from bert_tf.interop import tf1_graph
from bert_tf.interop import weights
from bert_tf.interop.hub_encoder import HubEncoder

# tensorflow_hub's ModuleDef proto: field 1 (format) = FORMAT_V3 (3).
_MODULE_DEF_V3 = b"\x08\x03"
_TF1_TAG_SETS = (set(), {"train"})


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
    pooled, sequence, _ = tf1_graph.tf1_encoder_graph(config, ids, mask, segs, "train" in tags)
    asset_tensors = {}
    for asset_name, node in ((weights.VOCAB_ASSET, "vocab_file"),
                             (weights.CONFIG_ASSET, "bert_config_file")):
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
    info_sig = _signature({}, {"vocab_file": asset_tensors[weights.VOCAB_ASSET],
                               "do_lower_case": lower})
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
  values = weights.encoder_values(config, variables_or_ckpt)
  with checkpoints.publish_directory(export_dir, "tf1_hub_module",
                                     weights.source_name(variables_or_ckpt)) as out:
    os.makedirs(os.path.join(out, "variables"))
    os.makedirs(os.path.join(out, "assets"))
    proto = saved_model_pb2.SavedModel(saved_model_schema_version=1)
    for n, tags in enumerate(_TF1_TAG_SETS):
      prefix = os.path.join(out, "variables", "variables") if n == 0 else None
      proto.meta_graphs.add().CopyFrom(_tf1_meta_graph(config, tags, do_lower_case, values,
                                                       prefix))
    shutil.copyfile(vocab_file, os.path.join(out, "assets", weights.VOCAB_ASSET))
    weights.write_config(config, os.path.join(out, "assets", weights.CONFIG_ASSET))
    with open(os.path.join(out, "saved_model.pb"), "wb") as f:
      f.write(proto.SerializeToString())
    with open(os.path.join(out, "tfhub_module.pb"), "wb") as f:
      f.write(_MODULE_DEF_V3)
  return export_dir


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


def load_tf1_module(path, num_attention_heads):
  """A HubEncoder for a TF1 Hub module directory (one with tfhub_module.pb)."""
  proto = saved_model.read_saved_model_proto(path)
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
  if vocab_file is None and os.path.exists(os.path.join(path, "assets", weights.VOCAB_ASSET)):
    vocab_file = os.path.join(path, "assets", weights.VOCAB_ASSET)
  prefix = os.path.join(path, "variables", "variables")
  reader = tf.train.load_checkpoint(prefix)
  names = reader.get_variable_to_shape_map()
  config_file = os.path.join(path, "assets", weights.CONFIG_ASSET)
  if os.path.exists(config_file):
    config = BertConfig.from_json_file(config_file)
    mapping = "original names; config from assets/%s" % weights.CONFIG_ASSET
  else:
    config = weights.infer_config({n: np.zeros(s, np.int8) for n, s in names.items()
                                   if n.startswith("bert/")}, num_attention_heads)
    mapping = "original names; config inferred from variable shapes (A = %d)" % \
        config.num_attention_heads
  values = weights.encoder_values(config, prefix)
  return HubEncoder("tf1_hub_module", path, config, vocab_file, do_lower_case, values, mapping)
