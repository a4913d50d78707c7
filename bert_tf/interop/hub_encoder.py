"""A loaded hub encoder (`HubEncoder`) and the Keras forms it takes.

Every format's loader returns a `HubEncoder`: `.config`, `.vocab_file`,
`.do_lower_case`, `.bert_model()` (our trainable Keras `BertModel`, whose
`original_variables()` is the original name map), `.restore(var_map)` (assign
into an existing model's `original_variables()`, e.g. a BertClassifier's) and
`.keras_layer()`.  A TF2 SavedModel whose variables do not map to BERT names
becomes a `SavedModelEncoder` (the SavedModel's own variables as trainable
Keras weights); `HubClassifier` puts run_classifier's head on such a layer.
"""

import re

import keras
import tensorflow as tf

from bert_tf import modeling
from bert_tf.interop import HubError
from bert_tf.interop import saved_model
from bert_tf.interop import weights


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
    variables, trainable = saved_model.saved_model_variables(self._loaded)
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
    return weights.bert_model_from_values(self.config, self.values)

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
