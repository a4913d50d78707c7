"""The SQuAD model: the BERT encoder plus run_squad's span head, and its loss.

The original `create_model` puts one dense layer without activation on every
position of the sequence output: `cls/squad/output_weights` [2, H]
(truncated normal, stddev 0.02) and `cls/squad/output_bias` [2] (zeros);
logits = sequence_output . W^T + b, channel 0 the start and channel 1 the
end logits, [B, S] each.  Padding positions are NOT masked: they take part in
the loss's softmax and in the n-best selection, so the model always runs on
the full max_seq_length (the encoder's skip_padding would change the padded
positions' logits, see `BertForSquad`); only the attention's all-padding keys
can go (trim_keys).

`squad_loss` is the original model_fn's training loss: for start and for
end, the batch mean of -log_softmax(logits)[position] over the S positions,
and the total is their average.
"""

import keras
import tensorflow as tf

from bert_tf import modeling

HEAD_PREFIX = "cls/squad/"


class SquadHead(keras.layers.Layer):
  """`cls/squad/output_weights` [2, H] and `output_bias` [2] on every position."""

  def __init__(self, hidden_size, **kwargs):
    super().__init__(**kwargs)
    self.hidden_size = hidden_size

  def build(self, input_shape=None):
    # The original hard-codes stddev 0.02 here (not the config's initializer_range).
    self.output_weights = self.add_weight(
        name="output_weights", shape=(2, self.hidden_size),
        initializer=keras.initializers.TruncatedNormal(stddev=0.02))
    self.output_bias = self.add_weight(name="output_bias", shape=(2,), initializer="zeros")
    self.built = True

  def call(self, sequence_output):
    """[B, S, H] -> (start_logits, end_logits), float32 [B, S] each."""
    x = sequence_output
    w = tf.cast(self.output_weights, x.dtype)
    logits = tf.einsum("bsh,kh->bsk", x, w) + tf.cast(self.output_bias, x.dtype)
    logits = tf.cast(logits, tf.float32)
    return logits[:, :, 0], logits[:, :, 1]

  def original_variables(self, prefix=HEAD_PREFIX):
    return {prefix + "output_weights": self.output_weights,
            prefix + "output_bias": self.output_bias}


class BertForSquad(keras.Model):
  """BertModel + SquadHead.  call(features) -> {"start_logits", "end_logits"} [B, S].

  fused_gelu and trim_keys are passed to the BertModel (same numbers within
  float rounding; trim_keys computes every position, padded ones included, and
  drops only the all-padding keys from the attention).
  There is no skip_padding switch on purpose: the original's padded positions
  carry real (unmasked) logits that enter the loss and the n-best lists, and
  packing would make them the bias alone.
  """

  def __init__(self, config, fused_gelu=False, trim_keys=False, key_bucket=16, **kwargs):
    super().__init__(**kwargs)
    self.config = config
    self.bert = modeling.BertModel(config, skip_padding=False, fused_gelu=fused_gelu,
                                   trim_keys=trim_keys, key_bucket=key_bucket)
    self.head = SquadHead(config.hidden_size, name="squad")

  def build(self, input_shape=None):
    self.bert.build()
    self.head.build()
    self.built = True

  def call(self, inputs, training=False):
    sequence_output = self.bert(inputs, training=training)["sequence_output"]
    start_logits, end_logits = self.head(sequence_output)
    return {"start_logits": start_logits, "end_logits": end_logits}

  def original_variables(self):
    out = self.bert.original_variables()
    out.update(self.head.original_variables())
    return out


def position_loss(logits, positions):
  """Batch mean of -log_softmax(logits)[position]; logits [B, S] float32, positions [B]."""
  seq_length = tf.shape(logits)[1]
  one_hot = tf.one_hot(positions, depth=seq_length, dtype=tf.float32)
  log_probs = tf.nn.log_softmax(logits, axis=-1)
  return -tf.reduce_mean(tf.reduce_sum(one_hot * log_probs, axis=-1))


def squad_loss(outputs, start_positions, end_positions):
  """The original total loss: (start loss + end loss) / 2."""
  start_loss = position_loss(outputs["start_logits"], start_positions)
  end_loss = position_loss(outputs["end_logits"], end_positions)
  return (start_loss + end_loss) / 2.0
