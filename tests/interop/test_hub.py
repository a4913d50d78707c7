"""TF Hub encoders: TF2 SavedModel, TF1 hub.Module format, keras-hub preset; loading back.

Every output is checked against encoder_outputs.npz (the original TF1 code's
activations for tiny_uncased)."""

import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from helpers import FIXTURES, ROOT, TINY
from bert_tf import checkpoints
from bert_tf import interop
from bert_tf import modeling
from bert_tf.interop import hub
from bert_tf.interop import hub_encoder
from bert_tf.interop import keras_hub_preset
from bert_tf.interop import tf1_hub_module
from bert_tf.interop import tf2_encoder
from bert_tf.interop import weights
from bert_tf.configuration import BertConfig

VOCAB = os.path.join(TINY, "vocab.txt")
CKPT = os.path.join(TINY, "bert_model.ckpt")
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
ATOL = 1e-5


@pytest.fixture(scope="module")
def config():
  return BertConfig.from_json_file(os.path.join(TINY, "bert_config.json"))


@pytest.fixture(scope="module")
def fx():
  return np.load(os.path.join(FIXTURES, "encoder_outputs.npz"))


def _google_inputs(fx, b):
  return {"input_word_ids": tf.constant(fx["batch%d_input_ids" % b]),
          "input_mask": tf.constant(fx["batch%d_input_mask" % b]),
          "input_type_ids": tf.constant(fx["batch%d_segment_ids" % b])}


def _our_inputs(fx, b):
  return {"input_ids": tf.constant(fx["batch%d_input_ids" % b]),
          "input_mask": tf.constant(fx["batch%d_input_mask" % b]),
          "segment_ids": tf.constant(fx["batch%d_segment_ids" % b])}


def _assert_bert_model_matches(model, fx):
  for b in range(3):
    out = model(_our_inputs(fx, b), training=False)
    np.testing.assert_allclose(out["pooled_output"], fx["batch%d_pooled_output" % b], atol=ATOL)
    np.testing.assert_allclose(out["sequence_output"], fx["batch%d_sequence_output" % b],
                               atol=ATOL)


@pytest.fixture(scope="module")
def tf2_dir(config, tmp_path_factory):
  return tf2_encoder.export_tf2_encoder(config, CKPT, VOCAB, True,
                                        str(tmp_path_factory.mktemp("hub") / "tf2"))


@pytest.fixture(scope="module")
def tf1_dir(tmp_path_factory):
  """Written by export_model.py --format=tf1_hub_module (the command line path)."""
  out = str(tmp_path_factory.mktemp("hub") / "tf1")
  r = subprocess.run([sys.executable, os.path.join(ROOT, "export_model.py"),
                      "--format=tf1_hub_module", "--do_lower_case=false",
                      "--bert_config_file=" + os.path.join(TINY, "bert_config.json"),
                      "--init_checkpoint=" + TINY, "--vocab_file=" + VOCAB,
                      "--export_dir=" + out], cwd=ROOT, env=ENV, capture_output=True,
                     text=True, timeout=300)
  assert r.returncode == 0, r.stderr[-3000:]
  return out


# --- TF2 SavedModel in Google's encoder format ------------------------------


def test_tf2_encoder_has_google_interface(tf2_dir, fx, config):
  enc = tf.saved_model.load(tf2_dir)
  for b in range(3):
    out = enc(_google_inputs(fx, b), training=False)
    np.testing.assert_allclose(out["pooled_output"], fx["batch%d_pooled_output" % b], atol=ATOL)
    np.testing.assert_allclose(out["default"], out["pooled_output"])
    np.testing.assert_allclose(out["sequence_output"], fx["batch%d_sequence_output" % b],
                               atol=ATOL)
    assert len(out["encoder_outputs"]) == 2
    for n in range(2):
      np.testing.assert_allclose(out["encoder_outputs"][n],
                                 fx["batch%d_encoder_layer_%d" % (b, n)], atol=ATOL)
  default = enc(_google_inputs(fx, 0))  # training defaults to False
  np.testing.assert_allclose(default["pooled_output"], fx["batch0_pooled_output"], atol=ATOL)
  dropped = enc(_google_inputs(fx, 0), training=True)
  assert np.abs(dropped["sequence_output"] - default["sequence_output"]).max() > 1e-3
  # Google's extras: vocab asset, do_lower_case variable, variables lists.
  with open(enc.vocab_file.asset_path.numpy().decode(), "rb") as f, open(VOCAB, "rb") as g:
    assert f.read() == g.read()
  assert bool(enc.do_lower_case.numpy()) is True
  assert len(enc.trainable_variables) == 5 + 16 * 2 + 2
  assert all(v.trainable for v in enc.trainable_variables)
  # Variables by original name, equal to the checkpoint.
  reader = tf.train.load_checkpoint(CKPT)
  assert set(enc.original_variables.keys()) == set(weights.encoder_variable_shapes(config))
  for name, var in enc.original_variables.items():
    np.testing.assert_array_equal(var.numpy(), reader.get_tensor(name))
  # Fine-tunable: gradients reach every trainable variable.
  with tf.GradientTape() as tape:
    loss = tf.reduce_sum(enc(_google_inputs(fx, 0), training=True)["pooled_output"])
  grads = tape.gradient(loss, enc.trainable_variables)
  assert all(g is not None for g in grads)
  sig = enc.signatures["serving_default"]
  served = sig(**_google_inputs(fx, 1))
  np.testing.assert_allclose(served["pooled_output"], fx["batch1_pooled_output"], atol=ATOL)
  np.testing.assert_allclose(served["encoder_outputs_0"], fx["batch1_encoder_layer_0"], atol=ATOL)


def test_tf2_encoder_in_hub_keras_layer(tf2_dir, fx):
  import tensorflow_hub  # pylint: disable=g-import-not-at-top
  layer = tensorflow_hub.KerasLayer(tf2_dir, trainable=True)
  out = layer(_google_inputs(fx, 2))
  np.testing.assert_allclose(out["pooled_output"], fx["batch2_pooled_output"], atol=ATOL)
  assert len(layer.trainable_weights) == 39


def test_load_tf2_export_into_bert_model(tf2_dir, fx, config):
  enc = hub.load_hub_encoder(tf2_dir)
  assert enc.format == "tf2_saved_model" and enc.mappable
  assert enc.config.to_dict() == config.to_dict()
  assert enc.vocab_file.endswith(os.path.join("assets", "vocab.txt"))
  assert enc.do_lower_case is True
  model = enc.bert_model()
  _assert_bert_model_matches(model, fx)
  assert set(model.original_variables()) == set(weights.encoder_variable_shapes(config))
  # The run_classifier path: restore into a classifier's original-name map.
  clf = modeling.BertClassifier(enc.config, 2)
  clf.build()
  head_before = clf.head.output_weights.numpy().copy()
  restored = enc.restore(clf.original_variables())
  assert restored == set(weights.encoder_variable_shapes(config))
  np.testing.assert_array_equal(clf.head.output_weights.numpy(), head_before)
  _assert_bert_model_matches(clf.bert, fx)


# --- TF1 hub.Module format --------------------------------------------------


def test_tf1_module_layout(tf1_dir, config):
  from tensorflow.core.protobuf import meta_graph_pb2  # pylint: disable=g-import-not-at-top
  from tensorflow.core.protobuf import saved_model_pb2  # pylint: disable=g-import-not-at-top
  # the hub layout, plus the marker that lets a later export replace it (checkpoints.py)
  assert sorted(os.listdir(tf1_dir)) == ["assets", "bert_tf_export.json", "saved_model.pb",
                                         "tfhub_module.pb", "variables"]
  with open(os.path.join(tf1_dir, "tfhub_module.pb"), "rb") as f:
    assert f.read() == b"\x08\x03"  # ModuleDef{format: FORMAT_V3}
  assert sorted(os.listdir(os.path.join(tf1_dir, "assets"))) == ["bert_config.json", "vocab.txt"]
  # variables/ is a TF1 checkpoint under the original names with the original values.
  got = dict(tf.train.list_variables(os.path.join(tf1_dir, "variables", "variables")))
  assert {k: tuple(v) for k, v in got.items()} == weights.encoder_variable_shapes(config)
  reader = tf.train.load_checkpoint(os.path.join(tf1_dir, "variables", "variables"))
  original = tf.train.load_checkpoint(CKPT)
  for name in got:
    np.testing.assert_array_equal(reader.get_tensor(name), original.get_tensor(name))
  proto = saved_model_pb2.SavedModel()
  with open(os.path.join(tf1_dir, "saved_model.pb"), "rb") as f:
    proto.ParseFromString(f.read())
  assert sorted(tuple(m.meta_info_def.tags) for m in proto.meta_graphs) == [(), ("train",)]
  for meta in proto.meta_graphs:
    tokens = meta.signature_def["tokens"]
    assert sorted(tokens.inputs) == ["input_ids", "input_mask", "segment_ids"]
    assert sorted(tokens.outputs) == ["pooled_output", "sequence_output"]
    info = meta.signature_def["tokenization_info"]
    assert sorted(info.outputs) == ["do_lower_case", "vocab_file"]
    assets = meta.collection_def["saved_model_assets"].any_list.value
    files = {}
    for a in assets:
      d = meta_graph_pb2.AssetFileDef()
      a.Unpack(d)
      files[d.tensor_info.name] = d.filename
    assert files[info.outputs["vocab_file"].name] == "vocab.txt"


def test_tf1_module_runs_in_tf1_graph_mode(tf1_dir, fx):
  """The way hub.Module / run_classifier_with_tfhub.py consume it: a v1 graph + session."""
  v1 = tf.compat.v1
  for tags in ([], ["train"]):
    with tf.Graph().as_default(), v1.Session() as sess:
      meta = v1.saved_model.loader.load(sess, tags, tf1_dir)
      assert len(v1.trainable_variables()) == 39
      assert all(v.op.name.startswith("bert/") for v in v1.trainable_variables())
      sig = meta.signature_def["tokens"]
      feed = {sig.inputs["input_ids"].name: fx["batch1_input_ids"],
              sig.inputs["input_mask"].name: fx["batch1_input_mask"],
              sig.inputs["segment_ids"].name: fx["batch1_segment_ids"]}
      pooled, seq = sess.run([sig.outputs["pooled_output"].name,
                              sig.outputs["sequence_output"].name], feed)
      if not tags:
        np.testing.assert_allclose(pooled, fx["batch1_pooled_output"], atol=ATOL)
        np.testing.assert_allclose(seq, fx["batch1_sequence_output"], atol=ATOL)
      else:  # the "train" graph has dropout
        assert np.abs(seq - fx["batch1_sequence_output"]).max() > 1e-3
      info = meta.signature_def["tokenization_info"]
      assert sess.run(info.outputs["do_lower_case"].name) == False  # noqa: E712


def test_load_tf1_module(tf1_dir, fx, config, tmp_path):
  enc = hub.load_hub_encoder(tf1_dir)
  assert enc.format == "tf1_hub_module"
  assert enc.vocab_file == os.path.join(tf1_dir, "assets", "vocab.txt")
  assert enc.do_lower_case is False
  assert enc.config.to_dict() == config.to_dict()
  _assert_bert_model_matches(enc.bert_model(), fx)
  # A module without our bert_config.json asset (like Google's): the config
  # comes from the variable shapes; heads need A = H/64 or an explicit value.
  bare = str(tmp_path / "bare")
  shutil.copytree(tf1_dir, bare)
  os.remove(os.path.join(bare, "assets", "bert_config.json"))
  with pytest.raises(interop.HubError, match="num_attention_heads"):
    hub.load_hub_encoder(bare)
  enc = hub.load_hub_encoder(bare, num_attention_heads=4)
  for key in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
              "intermediate_size", "max_position_embeddings", "type_vocab_size"):
    assert getattr(enc.config, key) == getattr(config, key), key
  _assert_bert_model_matches(enc.bert_model(), fx)


# --- keras-hub preset -------------------------------------------------------


def test_keras_hub_preset_round_trip(config, fx, tmp_path):
  import keras_hub  # pylint: disable=g-import-not-at-top
  source = modeling.BertModel(config)  # a live model as the source this time
  source.build()
  checkpoints.init_from_checkpoint(source.original_variables(), CKPT, log=False)
  preset = keras_hub_preset.export_keras_hub_preset(config, source, VOCAB, True,
                                                    str(tmp_path / "preset"))
  backbone = keras_hub.models.BertBackbone.from_preset(preset)
  for b in range(3):
    out = backbone({"token_ids": fx["batch%d_input_ids" % b],
                    "segment_ids": fx["batch%d_segment_ids" % b],
                    "padding_mask": fx["batch%d_input_mask" % b]})
    np.testing.assert_allclose(out["pooled_output"], fx["batch%d_pooled_output" % b], atol=ATOL)
    np.testing.assert_allclose(out["sequence_output"], fx["batch%d_sequence_output" % b],
                               atol=ATOL)
  tokenizer = keras_hub.models.BertTokenizer.from_preset(preset)
  assert tokenizer.lowercase
  assert np.asarray(tokenizer("hello world")).tolist() == [7592, 2088]
  enc = hub.load_hub_encoder(preset)
  assert enc.format == "keras_hub_preset" and enc.do_lower_case is True
  assert enc.config.num_attention_heads == 4
  _assert_bert_model_matches(enc.bert_model(), fx)


# --- Google's published TF2 encoders (tf-models BertEncoder names) ----------


def _tf_models_layout(values, config):
  """Our original-name values renamed and reshaped as tf-models' BertEncoder stores them."""
  h, a = config.hidden_size, config.num_attention_heads
  d = h // a
  out = {"word_embeddings/embeddings": values["bert/embeddings/word_embeddings"],
         "position_embedding/embeddings": values["bert/embeddings/position_embeddings"],
         "type_embeddings/embeddings": values["bert/embeddings/token_type_embeddings"],
         "embeddings/layer_norm/gamma": values["bert/embeddings/LayerNorm/gamma"],
         "embeddings/layer_norm/beta": values["bert/embeddings/LayerNorm/beta"],
         "pooler_transform/kernel": values["bert/pooler/dense/kernel"],
         "pooler_transform/bias": values["bert/pooler/dense/bias"]}
  for n in range(config.num_hidden_layers):
    p, t = "bert/encoder/layer_%d/" % n, "transformer/layer_%d/" % n
    for part in ("query", "key", "value"):
      out[t + "self_attention/%s/kernel" % part] = \
          values[p + "attention/self/%s/kernel" % part].reshape(h, a, d)
      out[t + "self_attention/%s/bias" % part] = \
          values[p + "attention/self/%s/bias" % part].reshape(a, d)
    out[t + "self_attention/attention_output/kernel"] = \
        values[p + "attention/output/dense/kernel"].reshape(a, d, h)
    out[t + "self_attention/attention_output/bias"] = values[p + "attention/output/dense/bias"]
    for src, dst in (("attention/output/LayerNorm", "self_attention_layer_norm"),
                     ("output/LayerNorm", "output_layer_norm"),
                     ("intermediate/dense", "intermediate"), ("output/dense", "output")):
      for leaf in (("gamma", "beta") if "Norm" in src else ("kernel", "bias")):
        out[t + dst + "/" + leaf] = values[p + src + "/" + leaf]
  return out


def test_load_google_style_tf2_encoder(config, fx, tmp_path):
  values = weights.encoder_values(config, CKPT)
  obj = tf.__internal__.tracking.AutoTrackable()
  obj.variables = [tf.Variable(v, name="bert_encoder/" + k)
                   for k, v in sorted(_tf_models_layout(values, config).items())]
  obj.trainable_variables = list(obj.variables)
  obj.vocab_file = tf.saved_model.Asset(VOCAB)
  obj.do_lower_case = tf.Variable(True, trainable=False)
  path = str(tmp_path / "google_style")
  tf.saved_model.save(obj, path)
  enc = hub.load_hub_encoder(path)
  assert enc.mapping == "tf-models BertEncoder names"
  assert enc.config.num_attention_heads == 4  # read from the [H,A,d] kernel, not H/64
  assert enc.do_lower_case is True and enc.vocab_file.endswith("vocab.txt")
  _assert_bert_model_matches(enc.bert_model(), fx)


# --- Any other TF2 SavedModel: wrapped, and still fine-tunable ---------------


def export_for_wrapping_test(config, source, vocab_file, do_lower_case, export_dir):
  """A TF2 encoder export WITHOUT original names or config (what a foreign
  SavedModel looks like to load_hub_encoder); used to test SavedModelEncoder."""
  return tf2_encoder.export_tf2_encoder(config, source, vocab_file, do_lower_case, export_dir,
                                        original_names=False)


def test_unmappable_saved_model_is_wrapped_and_trainable(config, fx, tmp_path):
  path = export_for_wrapping_test(config, CKPT, VOCAB, True, str(tmp_path / "foreign"))
  enc = hub.load_hub_encoder(path)
  assert enc.format == "tf2_saved_model" and not enc.mappable
  assert enc.config.hidden_size == 32
  with pytest.raises(interop.HubError, match="keras_layer"):
    enc.bert_model()
  layer = enc.keras_layer()
  assert isinstance(layer, hub_encoder.SavedModelEncoder)
  assert len(layer.trainable_weights) == 39
  out = layer(_our_inputs(fx, 1))
  np.testing.assert_allclose(out["pooled_output"], fx["batch1_pooled_output"], atol=ATOL)
  np.testing.assert_allclose(out["all_encoder_layers"][0], fx["batch1_encoder_layer_0"],
                             atol=ATOL)

  clf = hub_encoder.HubClassifier(layer, 2, enc.config.hidden_size)
  clf.build()
  loaded_vars = {v.name: v for v in layer._loaded.trainable_variables}
  before = {k: v.numpy().copy() for k, v in loaded_vars.items()}
  x = {k: np.repeat(fx["batch0_" + k], 4, axis=0)
       for k in ("input_ids", "input_mask", "segment_ids")}
  y = np.repeat([0, 1], 4)  # rows of x are r0 x4 then r1 x4
  loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
  opt = keras.optimizers.Adam(1e-2)

  def eval_loss():
    return float(loss_fn(y, clf(x, training=False)))

  start = eval_loss()
  for _ in range(5):
    with tf.GradientTape() as tape:
      loss = loss_fn(y, clf(x, training=True))
    grads = tape.gradient(loss, clf.trainable_weights)
    opt.apply_gradients(zip(grads, clf.trainable_weights))
  assert eval_loss() < start
  # The updates land in the SavedModel's own variables (no copies).
  changed = [k for k in before if not np.allclose(before[k], loaded_vars[k].numpy())]
  assert len(changed) == len(before)
  # Keras fit with Adam (TFSMLayer fails here on "name:0_momentum" scope names).
  clf.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss_fn)
  history = clf.fit(x, y, epochs=1, batch_size=4, verbose=0)
  assert np.isfinite(history.history["loss"][0])


# --- handles ----------------------------------------------------------------


def test_url_offline_fails_with_one_clear_line(monkeypatch):
  import tensorflow_hub  # pylint: disable=g-import-not-at-top

  def offline(handle):
    raise OSError("<urlopen error [Errno -3] Temporary failure in name resolution>\nmore")

  monkeypatch.setattr(tensorflow_hub, "resolve", offline)
  with pytest.raises(interop.HubError) as e:
    hub.load_hub_encoder("https://tfhub.dev/google/bert_uncased_L-12_H-768_A-12/1")
  msg = str(e.value)
  assert "\n" not in msg
  assert msg.startswith("cannot download https://tfhub.dev/google/bert_uncased_L-12_H-768_A-12/1")
  assert "--bert_hub_module_handle=/path/to/extracted/module" in msg


def test_bad_local_handles(tmp_path):
  with pytest.raises(interop.HubError, match="directory not found"):
    hub.load_hub_encoder(str(tmp_path / "missing"))
  with pytest.raises(interop.HubError, match="original checkpoint directory"):
    hub.load_hub_encoder(TINY)
  (tmp_path / "empty").mkdir()
  with pytest.raises(interop.HubError, match="no saved_model.pb"):
    hub.load_hub_encoder(str(tmp_path / "empty"))


def test_export_rejects_mismatched_weights(config, tmp_path):
  other = BertConfig.from_dict(dict(config.to_dict(), hidden_size=64, num_attention_heads=4))
  with pytest.raises(interop.HubError, match="shape"):
    tf1_hub_module.export_tf1_hub_module(other, CKPT, VOCAB, True, str(tmp_path / "x"))
