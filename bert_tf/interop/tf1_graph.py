"""The original BERT forward pass as a TF1 graph, variables under the original names.

What the TF1 hub module (bert_tf.interop.tf1_hub_module) saves as its two
graphs: `tf.compat.v1` variable scopes `bert/embeddings`, `bert/encoder/layer_N`,
`bert/pooler`, the tanh GELU of the config, LayerNorm epsilon 1e-12 and the
-10000 attention mask of google-research/bert's modeling.py.  It is a second
implementation of bert_tf.modeling.BertModel for graph mode only; the module
tests run it in a v1 Session against encoder_outputs.npz (the original TF1
code's activations) to 1e-5.
"""

import numpy as np
import tensorflow as tf

from bert_tf import modeling

_LN_EPSILON = 1e-12


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
