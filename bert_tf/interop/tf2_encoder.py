"""The TF2 SavedModel encoder with the interface of Google's published TF Hub BERT encoders.

Export (`export_tf2_encoder`): `encoder(dict(input_word_ids=..., input_mask=...,
input_type_ids=...), training=False)` (int32 [B,S]) returns `pooled_output`
[B,H], `default` (= pooled_output), `sequence_output` [B,S,H] and
`encoder_outputs` (list of L x [B,S,H]); `vocab_file` (an Asset),
`do_lower_case` (a tf.Variable), `variables` / `trainable_variables`, plus a
`serving_default` signature.  Extra: `original_variables` ({original TF1
name: variable}) and a `bert_config_file` asset, so the exact model comes
back with `load_hub_encoder`.

Load (`load_tf2_saved_model`): our own exports map by `original_variables`;
Google's published encoders by their tf-models names (bert_tf.interop.tf_models).
Anything else is wrapped as it is: `SavedModelEncoder`, a Keras 3 layer
calling `tf.saved_model.load(path)` with the SavedModel's own variables
registered as trainable Keras weights.
"""

import os
import tempfile

import numpy as np
import tensorflow as tf
from absl import logging

from bert_tf import checkpoints
from bert_tf.configuration import BertConfig
from bert_tf.interop import saved_model
from bert_tf.interop import tf_models
from bert_tf.interop import weights
from bert_tf.interop.hub_encoder import HubEncoder


class _TF2Encoder(tf.__internal__.tracking.AutoTrackable):
  """The object export_tf2_encoder saves; see the module docstring."""

  def __init__(self, model, vocab_file, config_file, do_lower_case, original_names=True):
    super().__init__()
    # The Keras model stays out of the object graph; only its tf.Variables are
    # tracked (see saved_model.Untracked).
    self._holder = saved_model.Untracked(model)
    self.vocab_file = tf.saved_model.Asset(vocab_file)
    self.do_lower_case = tf.Variable(bool(do_lower_case), trainable=False,
                                     name="do_lower_case")
    if original_names:
      self.bert_config_file = tf.saved_model.Asset(config_file)
      self.original_variables = {k: saved_model.tf_variables([v])[0]
                                 for k, v in model.original_variables().items()}
    self.variables = saved_model.tf_variables(model.variables)
    self.trainable_variables = saved_model.tf_variables(model.trainable_variables)
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


def export_tf2_encoder(config, variables_or_ckpt, vocab_file, do_lower_case, export_dir,
                       original_names=True):
  """Writes the encoder as a TF2 SavedModel in Google's TF Hub encoder format.

  config: BertConfig; variables_or_ckpt: a model with original_variables(), a
  {original name: value} dict or an original checkpoint path; vocab_file is
  copied into assets/.  original_names=False leaves out `original_variables`
  and the config asset (what a foreign SavedModel looks like to
  load_hub_encoder).  Returns export_dir (replaced if it exists).
  """
  values = weights.encoder_values(config, variables_or_ckpt)
  model = weights.bert_model_from_values(config, values)
  with tempfile.TemporaryDirectory() as tmp:
    config_file = os.path.join(tmp, weights.CONFIG_ASSET)
    weights.write_config(config, config_file)
    obj = _TF2Encoder(model, vocab_file, config_file, do_lower_case, original_names)
    spec = {k: tf.TensorSpec([None, None], tf.int32, name=k)
            for k in ("input_word_ids", "input_mask", "input_type_ids")}
    obj.__call__.get_concrete_function(spec, training=False)
    obj.__call__.get_concrete_function(spec, training=True)
    with checkpoints.publish_directory(export_dir, "tf2_encoder",
                                       weights.source_name(variables_or_ckpt)) as out:
      tf.saved_model.save(obj, out,
                          signatures={"serving_default": obj.serve.get_concrete_function()})
  return export_dir


def load_tf2_saved_model(path, num_attention_heads):
  """A HubEncoder for a TF2 SavedModel directory (mapped by name when it can be, else wrapped)."""
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
    values = weights.encoder_values(config, variables)
    return HubEncoder("tf2_saved_model", path, config, vocab_file, do_lower_case, values,
                      "original names (bert_tf export)")
  named = {v.name: v.numpy() for v in saved_model.saved_model_variables(obj)[0]}
  values, config = tf_models.map_tf_models_names(named) if named else (None, None)
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
