"""The BERT encoder and its heads as Keras 3 layers, with the original maths.

Shapes: B = batch, S = sequence length, H = hidden size, A = attention heads,
d = H / A, I = intermediate size, V = vocab size, P = max positions,
T = token-type vocab size, K = number of labels, M = masked positions.

The layers are our own rather than keras-hub's `TransformerEncoder` (see the
README, "Why our own layers"): every variable here has exactly the shape of the
original TF1 variable, and `original_variables()` names it by the original
name, so a `bert_model.ckpt` maps one-to-one with no reshapes; the original has
separate hidden and attention-probability dropout rates; and owning the
attention lets the training step fuse and trim it (benchmarks/).

Maths kept exactly as google-research/bert `modeling.py` (section 3 of the
spec): post-LayerNorm blocks with epsilon 1e-12, tanh GELU, the additive
-10000 key mask (padded query rows are still computed), dropout on the
attention probabilities, a tanh pooler on token 0, truncated-normal(0.02) init,
token-type embeddings through a one-hot matmul (so their gradient is dense and
the global-norm clip sees what the original saw).
"""

import contextlib
import math

import keras
import tensorflow as tf

_LN_EPSILON = 1e-12

# --dtype -> the Keras dtype policy: compute in 16 bits, variables stay float32.
DTYPE_POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16",
                  "float16": "mixed_float16"}


@contextlib.contextmanager
def dtype_policy(dtype="float32"):
  """Models built inside compute in `dtype` ("float32", "bfloat16" or "float16").

  Variables (and so checkpoints, under the original names) stay float32; Keras
  casts them to the compute dtype when a layer reads them.  Softmaxes, the
  LayerNorm statistics, logits and losses are computed in float32.
  """
  if dtype not in DTYPE_POLICIES:
    raise ValueError("--dtype=%s: expected one of %s" % (dtype, ", ".join(DTYPE_POLICIES)))
  previous = keras.config.dtype_policy()
  keras.config.set_dtype_policy(DTYPE_POLICIES[dtype])
  try:
    yield
  finally:
    keras.config.set_dtype_policy(previous)


_GELU_C = math.sqrt(2.0 / math.pi)


def _gelu_forward(x):
  # The original's ops, in its order.
  return x * (0.5 * (1.0 + tf.tanh(_GELU_C * (x + 0.044715 * tf.pow(x, 3)))))


def _gelu_backward(x, dy):
  t = tf.tanh(_GELU_C * (x + 0.044715 * tf.pow(x, 3)))
  dcdf = 0.5 * (1.0 - t * t) * _GELU_C * (1.0 + 3.0 * 0.044715 * x * x)
  return dy * (0.5 * (1.0 + t) + x * dcdf)


# The same maths as one XLA kernel each (compiled once per input shape): one
# pass over the [.., I] activations instead of ~8 forward and ~19 backward
# passes, each of which is a full read and write of memory on CPU.
_gelu_forward_xla = tf.function(_gelu_forward, jit_compile=True)
_gelu_backward_xla = tf.function(_gelu_backward, jit_compile=True)


def gelu(x, fused=False):
  """The original's tanh approximation of GELU (the same forward ops).

  The gradient is written out so that backprop keeps only `x` alive (autodiff
  of the forward would keep x^3, the tanh and the cdf too: 3 extra [B,S,I]
  tensors per layer, most of a fine-tuning step's activation memory); the
  tanh is recomputed in the backward pass.

  `fused` (True, or a scalar bool tensor choosing per call) computes the
  forward and the gradient as one XLA kernel each -- the same ops, rounded
  within 1e-6 of the op-by-op result.  XLA compiles once per shape, so the
  caller passes it only for bucketed shapes (BertModel.fused_gelu).
  """
  if fused is False:
    forward, backward = _gelu_forward, _gelu_backward
  elif fused is True:
    forward, backward = _gelu_forward_xla, _gelu_backward_xla
  else:
    def forward(x):
      return tf.cond(fused, lambda: _gelu_forward_xla(x), lambda: _gelu_forward(x))

    def backward(x, dy):
      return tf.cond(fused, lambda: _gelu_backward_xla(x, dy), lambda: _gelu_backward(x, dy))

  @tf.custom_gradient
  def _gelu(x):
    return forward(x), lambda dy: backward(x, dy)

  return _gelu(x)


def get_activation(activation_string):
  """Maps a `hidden_act` string to a function, as the original get_activation."""
  if not isinstance(activation_string, str):
    return activation_string
  if not activation_string:
    return None
  act = activation_string.lower()
  if act == "linear":
    return None
  if act == "relu":
    return tf.nn.relu
  if act == "gelu":
    return gelu
  if act == "tanh":
    return tf.tanh
  raise ValueError("Unsupported activation: %s" % act)


def _init(config_or_range):
  stddev = getattr(config_or_range, "initializer_range", config_or_range)
  return keras.initializers.TruncatedNormal(stddev=stddev)


def _dense(units, config, name, activation=None):
  return keras.layers.Dense(units, activation=activation, kernel_initializer=_init(config),
                            name=name)


def _layer_norm(name):
  return keras.layers.LayerNormalization(axis=-1, epsilon=_LN_EPSILON, name=name)


def _dense_vars(prefix, layer):
  return {prefix + "/kernel": layer.kernel, prefix + "/bias": layer.bias}


def _ln_vars(prefix, layer):
  return {prefix + "/beta": layer.beta, prefix + "/gamma": layer.gamma}


class Embeddings(keras.layers.Layer):
  """word + token-type + position embeddings, LayerNorm, dropout.  -> [B,S,H]."""

  def __init__(self, config, **kwargs):
    super().__init__(**kwargs)
    self.config = config
    self.layer_norm = _layer_norm("LayerNorm")
    self.dropout = keras.layers.Dropout(config.hidden_dropout_prob)

  def build(self, input_shape=None):
    c = self.config
    self.word_embeddings = self.add_weight(
        name="word_embeddings", shape=(c.vocab_size, c.hidden_size), initializer=_init(c))
    self.token_type_embeddings = self.add_weight(
        name="token_type_embeddings", shape=(c.type_vocab_size, c.hidden_size),
        initializer=_init(c))
    self.position_embeddings = self.add_weight(
        name="position_embeddings", shape=(c.max_position_embeddings, c.hidden_size),
        initializer=_init(c))
    self.layer_norm.build((None, None, c.hidden_size))
    self.built = True

  def call(self, input_ids, segment_ids, training=False):
    c = self.config
    seq_len = tf.shape(input_ids)[1]
    x = tf.gather(self.word_embeddings, input_ids)  # [B,S,H]; gradient is IndexedSlices
    one_hot = tf.one_hot(segment_ids, depth=c.type_vocab_size, dtype=x.dtype)  # [B,S,T]
    x = x + tf.einsum("bst,th->bsh", one_hot, tf.cast(self.token_type_embeddings, x.dtype))
    x = x + tf.cast(self.position_embeddings[:seq_len], x.dtype)[tf.newaxis]
    x = self.layer_norm(x)
    return self.dropout(x, training=training)

  def original_variables(self, prefix):
    out = {prefix + "/word_embeddings": self.word_embeddings,
           prefix + "/token_type_embeddings": self.token_type_embeddings,
           prefix + "/position_embeddings": self.position_embeddings}
    out.update(_ln_vars(prefix + "/LayerNorm", self.layer_norm))
    return out


def _pack(t, packing):
  """[B*S,W] rows -> the kept rows [T,W] (no copy when every row is kept)."""
  index, _, _, dense = packing
  return tf.cond(dense, lambda: tf.identity(t), lambda: tf.gather_nd(t, index))


def _unpack(t, packing):
  """Kept rows [T,W] -> [B*S,W] with zeros elsewhere (no copy when every row is kept)."""
  index, b, s, dense = packing
  shape = tf.stack([b * s, tf.shape(t)[1]])
  return tf.cond(dense, lambda: tf.identity(t), lambda: tf.scatter_nd(index, t, shape))


def _key_positions(x, attention_adder):
  """x [B,S,H] cut to the positions the [B,1,1,K] adder covers: [B,K,H] (trim_keys).

  Slicing x before the key/value projection (not the projected keys after it)
  also skips the projection of the cut positions: measured faster in training.
  """
  return x[:, :tf.shape(attention_adder)[-1]]


class SelfAttention(keras.layers.Layer):
  """Multi-head scaled dot-product self-attention; [B,S,H] -> context [B,S,H].

  The query, key and value projections keep their own original-shaped
  variables, but are applied as one [H,3H] matmul on their concatenation (one
  large GEMM runs faster than three small ones on CPU), and the 1/sqrt(d)
  scale is applied to the [B,A,S,d] queries rather than to the [B,A,S,S]
  scores -- the same numbers up to float rounding (tests: 1e-5 against the
  original).

  With `packing` (see BertModel.skip_padding) x holds only the kept tokens,
  [T,H]; they are scattered into the [B,S] layout for the scores and the
  context is gathered back to [T,H].
  """

  def __init__(self, config, **kwargs):
    super().__init__(**kwargs)
    self.num_heads = config.num_attention_heads
    self.head_size = config.hidden_size // config.num_attention_heads
    self.query = _dense(config.hidden_size, config, "query")
    self.key = _dense(config.hidden_size, config, "key")
    self.value = _dense(config.hidden_size, config, "value")
    self.probs_dropout = keras.layers.Dropout(config.attention_probs_dropout_prob)

  def build(self, input_shape):
    for layer in (self.query, self.key, self.value):
      layer.build(input_shape)
    self.built = True

  def _heads(self, x, projections, packing):
    """The projections of x as one [H, nH] matmul -> n tensors [B,A,S,d], then B, S.

    Split with unstack, not [i]: the gradient of an index is a zero-filled
    [n,B,A,S,d] per slice (StridedSliceGrad, ~10% of a real step).
    """
    a, d, n = self.num_heads, self.head_size, len(projections)
    kernel = tf.concat([tf.cast(p.kernel, x.dtype) for p in projections], axis=1)  # [H,nH]
    bias = tf.concat([tf.cast(p.bias, x.dtype) for p in projections], axis=0)  # [nH]
    y = tf.matmul(tf.reshape(x, [-1, a * d]), kernel) + bias  # [B*S or T, nH]
    if packing is None:
      b, s = tf.shape(x)[0], tf.shape(x)[1]
    else:
      _, b, s, _ = packing
      y = _unpack(y, packing)
    heads = tf.unstack(tf.transpose(tf.reshape(y, [b, s, n, a, d]), [2, 0, 3, 1, 4]))
    return tuple(heads) + (b, s)

  def call(self, x, attention_adder, training=False, packing=None, trim_keys=False):
    """x [B,S,H] (or packed [T,H]) -> context [B,S,H] (or [T,H]).

    With `trim_keys` the adder is [B,1,1,K] for some K <= S (BertModel.trim_keys):
    every query attends to the first K positions only, the keys after them being
    padding in every row of the batch.
    """
    a, d = self.num_heads, self.head_size
    if trim_keys:  # keys and values projected from the first K positions only
      q, b, s = self._heads(x, (self.query,), packing)
      k, v, _, _ = self._heads(_key_positions(x, attention_adder), (self.key, self.value),
                               packing)
    else:
      q, k, v, b, s = self._heads(x, (self.query, self.key, self.value), packing)
    q = q * (1.0 / math.sqrt(float(d)))
    scores = tf.matmul(q, k, transpose_b=True)  # [B,A,S,S] ([B,A,S,K] with trim_keys)
    scores = scores + tf.cast(attention_adder, scores.dtype)  # [B,1,1,S] (or K)
    if scores.dtype == tf.float32:
      probs = tf.nn.softmax(scores)
    else:  # 16-bit compute: the normalisation in float32
      probs = tf.cast(tf.nn.softmax(tf.cast(scores, tf.float32)), scores.dtype)
    probs = self.probs_dropout(probs, training=training)
    ctx = tf.transpose(tf.matmul(probs, v), [0, 2, 1, 3])  # [B,S,A,d]
    if packing is not None:
      return _pack(tf.reshape(ctx, [b * s, a * d]), packing)  # [T,H]
    return tf.reshape(ctx, [b, s, a * d])

  def first_token(self, x, x_first, attention_adder, training=False, packing=None,
                  trim_keys=False):
    """The context of each sequence's first token only -> [B,H].

    x is [B,S,H] (or the packed [T,H]) and x_first its first-position rows
    [B,H]: keys and values come from every token, the query only from the
    first, so the scores are [B,A,1,S].  Used for the last layer of a
    classifier, whose other positions nothing reads.
    """
    a, d = self.num_heads, self.head_size
    k, v, b, s = self._heads(_key_positions(x, attention_adder) if trim_keys else x,
                             (self.key, self.value), packing)
    q = tf.matmul(x_first, tf.cast(self.query.kernel, x.dtype)) + tf.cast(self.query.bias, x.dtype)
    q = tf.reshape(q * (1.0 / math.sqrt(float(d))), [b, a, 1, d])
    scores = tf.matmul(q, k, transpose_b=True)  # [B,A,1,S]
    scores = scores + tf.cast(attention_adder, scores.dtype)
    if scores.dtype == tf.float32:
      probs = tf.nn.softmax(scores)
    else:
      probs = tf.cast(tf.nn.softmax(tf.cast(scores, tf.float32)), scores.dtype)
    probs = self.probs_dropout(probs, training=training)
    return tf.reshape(tf.matmul(probs, v), [b, a * d])  # [B,H]

  def original_variables(self, prefix):
    out = {}
    for name in ("query", "key", "value"):
      out.update(_dense_vars(prefix + "/" + name, getattr(self, name)))
    return out


class TransformerLayer(keras.layers.Layer):
  """One post-LN block: a = LN(x + drop(W_o ctx)); out = LN(a + drop(W_2 act(W_1 a)))."""

  def __init__(self, config, **kwargs):
    super().__init__(**kwargs)
    h = config.hidden_size
    self.attention = SelfAttention(config, name="self")
    self.attention_output = _dense(h, config, "attention_output_dense")
    self.attention_layer_norm = _layer_norm("attention_output_LayerNorm")
    self.intermediate = _dense(config.intermediate_size, config, "intermediate_dense")
    self.intermediate_activation = get_activation(config.hidden_act)
    self.output_dense = _dense(h, config, "output_dense")
    self.output_layer_norm = _layer_norm("output_LayerNorm")
    self.dropout = keras.layers.Dropout(config.hidden_dropout_prob)
    self._hidden = h
    self._intermediate_size = config.intermediate_size

  def build(self, input_shape):
    h, i = self._hidden, self._intermediate_size
    self.attention.build((None, None, h))
    self.attention_output.build((None, None, h))
    self.attention_layer_norm.build((None, None, h))
    self.intermediate.build((None, None, h))
    self.output_dense.build((None, None, i))
    self.output_layer_norm.build((None, None, h))
    self.built = True

  def _activate(self, x, fused):
    act = self.intermediate_activation
    if act is gelu:
      return gelu(x, fused=fused)
    return x if act is None else act(x)

  def call(self, x, attention_adder, training=False, packing=None, fused_gelu=False,
           trim_keys=False):
    ctx = self.attention(x, attention_adder, training=training, packing=packing,
                         trim_keys=trim_keys)
    a = self.attention_layer_norm(self.dropout(self.attention_output(ctx), training=training) + x)
    i = self._activate(self.intermediate(a), fused_gelu)
    return self.output_layer_norm(self.dropout(self.output_dense(i), training=training) + a)

  def first_token(self, x, x_first, attention_adder, training=False, packing=None,
                  trim_keys=False):
    """call()'s output at each sequence's first position only: [B,H] (see
    SelfAttention.first_token); the same maths on B rows instead of B*S."""
    ctx = self.attention.first_token(x, x_first, attention_adder, training=training,
                                     packing=packing, trim_keys=trim_keys)
    a = self.attention_layer_norm(
        self.dropout(self.attention_output(ctx), training=training) + x_first)
    i = self._activate(self.intermediate(a), False)  # [B,I]: small, and B varies
    return self.output_layer_norm(self.dropout(self.output_dense(i), training=training) + a)

  def original_variables(self, prefix):
    out = self.attention.original_variables(prefix + "/attention/self")
    out.update(_dense_vars(prefix + "/attention/output/dense", self.attention_output))
    out.update(_ln_vars(prefix + "/attention/output/LayerNorm", self.attention_layer_norm))
    out.update(_dense_vars(prefix + "/intermediate/dense", self.intermediate))
    out.update(_dense_vars(prefix + "/output/dense", self.output_dense))
    out.update(_ln_vars(prefix + "/output/LayerNorm", self.output_layer_norm))
    return out


def attention_adder_from_mask(input_mask, dtype=tf.float32):
  """[B,S] 0/1 key mask -> additive [B,1,1,S] (0 for real keys, -10000 for padding)."""
  mask = tf.cast(input_mask, dtype)[:, tf.newaxis, tf.newaxis, :]
  return (1.0 - mask) * -10000.0


def bucketed_length(length, bucket, seq_length):
  """Scalar length rounded up to a multiple of `bucket` (few distinct shapes for the
  kernels), at most seq_length, at least 1."""
  return tf.clip_by_value((length + bucket - 1) // bucket * bucket, 1, seq_length)


def key_span(input_mask, bucket=16):
  """[B,S] 0/1 mask -> scalar K: the batch's last real position + 1, bucketed_length."""
  s = tf.shape(input_mask)[1]
  positions = tf.range(1, s + 1)[tf.newaxis]  # 1-based, [1,S]
  last = tf.reduce_max(tf.cast(tf.cast(input_mask, tf.bool), tf.int32) * positions)
  return bucketed_length(last, bucket, s)


class BertModel(keras.Model):
  """The encoder: `bert/embeddings`, `bert/encoder/layer_N`, `bert/pooler`.

  call({"input_ids", "input_mask", "segment_ids"} int [B,S]) returns a dict:
    embedding_output [B,S,H], all_encoder_layers: list of L x [B,S,H] (without
    the embeddings), sequence_output [B,S,H] (= last layer), pooled_output [B,H].
  When `training` is False both dropouts are off, as with is_training=False.
  With `pooled_only=True` only {"pooled_output"} is returned and the last layer
  is computed at position 0 only (its keys and values still from every token).

  Two speed switches, constructor arguments (attributes of the model after),
  both off by default:

  `skip_padding=True` (passed by the jobs with --trim_padding, never for
  exports) runs every per-token layer -- the projections, feed-forward,
  LayerNorms, dropouts: ~85% of the FLOPs -- on the real tokens only (plus
  each sequence's first position), packed into [T,H]; only the attention's
  scores use the [B,S] layout.  Real tokens, the pooled output and every loss
  and gradient are the original's (padded keys get weight exactly 0, so padded
  rows never reach a real one); padded positions of the sequence outputs are 0
  instead of the original's unused values.

  `trim_keys=True` (run_squad with --trim_padding; not with skip_padding)
  keeps every position as a query but lets the attention read only the first K
  keys, K = the batch's last real position + 1 rounded up to a multiple of
  `key_bucket` (16; at most S): the keys after K are padding in every row,
  their weight is exactly 0, so every output -- padded positions' included,
  which run_squad's loss and n-best lists read -- is the original's within
  float rounding, while the [B,A,S,S] score work shrinks to [B,A,S,K].

  `fused_gelu=True` (passed by the training and predict jobs, never for
  exports: a serving binary need not have XLA) computes each feed-forward
  GELU and its gradient as one XLA kernel, where the shape is one of a few
  (unpacked [B,S,I], or a packed batch that had no padding); packed batches
  of any other token count keep the op-by-op GELU, as XLA would recompile for
  each.  The same numbers within float rounding (1e-6).
  """

  def __init__(self, config, skip_padding=False, fused_gelu=False, trim_keys=False,
               key_bucket=16, **kwargs):
    kwargs.setdefault("name", "bert")
    super().__init__(**kwargs)
    config.validate()
    if skip_padding and trim_keys:
      raise ValueError("skip_padding and trim_keys are exclusive (skip_padding already "
                       "drops the padded positions)")
    self.config = config
    self.skip_padding = bool(skip_padding)
    self.trim_keys = bool(trim_keys)
    self.key_bucket = int(key_bucket)
    self.fused_gelu = bool(fused_gelu)
    self.embeddings = Embeddings(config, name="embeddings")
    self.encoder_layers = [TransformerLayer(config, name="layer_%d" % i)
                           for i in range(config.num_hidden_layers)]
    self.pooler = _dense(config.hidden_size, config, "pooler_dense", activation="tanh")

  def build(self, input_shape=None):
    h = self.config.hidden_size
    self.embeddings.build()
    for layer in self.encoder_layers:
      layer.build((None, None, h))
    self.pooler.build((None, h))
    self.built = True

  def call(self, inputs, training=False, pooled_only=False):
    input_ids = inputs["input_ids"]
    input_mask = inputs.get("input_mask")
    segment_ids = inputs.get("segment_ids")
    if input_mask is None:
      input_mask = tf.ones_like(input_ids)
    if segment_ids is None:
      segment_ids = tf.zeros_like(input_ids)
    x = self.embeddings(input_ids, segment_ids, training=training)
    embedding_output = x
    adder = attention_adder_from_mask(input_mask, x.dtype)
    all_layers = []
    layers = self.encoder_layers[:-1] if pooled_only else self.encoder_layers
    if self.skip_padding:
      b, s, h = tf.shape(x)[0], tf.shape(x)[1], self.config.hidden_size
      keep = tf.logical_or(tf.cast(input_mask, tf.bool), tf.range(s)[tf.newaxis] == 0)
      index = tf.cast(tf.where(tf.reshape(keep, [-1])), tf.int32)  # [T,1] rows of [B*S]
      packing = (index, b, s, tf.equal(tf.shape(index)[0], b * s))
      x = _pack(tf.reshape(x, [b * s, h]), packing)  # [T,H]
      fused = packing[3] if self.fused_gelu else False  # only when nothing was packed away
      for layer in layers:
        x = layer(x, adder, training=training, packing=packing, fused_gelu=fused)
        if not pooled_only:
          all_layers.append(tf.reshape(_unpack(x, packing), [b, s, h]))
      if pooled_only:  # each row's first position in the packed [T]: rows kept before it
        kept = tf.reduce_sum(tf.cast(keep, tf.int32), axis=1)
        first = tf.gather(x, tf.cumsum(kept, exclusive=True))
        first = self.encoder_layers[-1].first_token(x, first, adder, training=training,
                                                    packing=packing)
      else:
        x = all_layers[-1]
    else:
      if self.trim_keys:
        adder = adder[:, :, :, :key_span(input_mask, self.key_bucket)]
      for layer in layers:
        x = layer(x, adder, training=training, fused_gelu=self.fused_gelu,
                  trim_keys=self.trim_keys)
        all_layers.append(x)
      if pooled_only:
        first = self.encoder_layers[-1].first_token(x, x[:, 0], adder, training=training,
                                                    trim_keys=self.trim_keys)
    if pooled_only:
      return {"pooled_output": self.pooler(first)}
    pooled = self.pooler(x[:, 0])
    return {"embedding_output": embedding_output, "all_encoder_layers": all_layers,
            "sequence_output": x, "pooled_output": pooled}

  def get_embedding_table(self):
    return self.embeddings.word_embeddings

  def original_variables(self, prefix="bert"):
    out = self.embeddings.original_variables(prefix + "/embeddings")
    for i, layer in enumerate(self.encoder_layers):
      out.update(layer.original_variables("%s/encoder/layer_%d" % (prefix, i)))
    out.update(_dense_vars(prefix + "/pooler/dense", self.pooler))
    return out


class ClassifierHead(keras.layers.Layer):
  """run_classifier's head on the pooled output: root-scope `output_weights` [K,H],
  `output_bias` [K]; dropout 0.1 (hard-coded, as the original) in training."""

  def __init__(self, num_labels, hidden_size, **kwargs):
    super().__init__(**kwargs)
    self.num_labels = num_labels
    self.hidden_size = hidden_size
    self.dropout = keras.layers.Dropout(0.1)

  def build(self, input_shape=None):
    self.output_weights = self.add_weight(
        name="output_weights", shape=(self.num_labels, self.hidden_size),
        initializer=keras.initializers.TruncatedNormal(stddev=0.02))
    self.output_bias = self.add_weight(name="output_bias", shape=(self.num_labels,),
                                       initializer="zeros")
    self.built = True

  def call(self, pooled_output, training=False):
    x = self.dropout(pooled_output, training=training)
    w = tf.cast(self.output_weights, x.dtype)
    return tf.matmul(x, w, transpose_b=True) + tf.cast(self.output_bias, x.dtype)  # [B,K]

  def original_variables(self, prefix=""):
    return {prefix + "output_weights": self.output_weights,
            prefix + "output_bias": self.output_bias}


class BertClassifier(keras.Model):
  """BertModel + ClassifierHead.  call(features) -> logits [B,K] (float32).

  num_labels == 1 is regression (STS-B): the single logit is the prediction.

  The head reads only the pooled output, i.e. the last layer at position 0, so
  with `last_layer_first_token_only=True` (default) the last layer computes keys and
  values for every token but its query, attention output, LayerNorms and
  feed-forward for the first position only (BertModel pooled_only): ~13% of a
  6-layer encoder's FLOPs (1/L of them less the key/value projections) are not
  spent, and the logits are the same (tests/core/test_modeling.py).
  skip_padding and fused_gelu are passed to the BertModel.
  """

  def __init__(self, config, num_labels, last_layer_first_token_only=True, skip_padding=False,
               fused_gelu=False, **kwargs):
    super().__init__(**kwargs)
    self.config = config
    self.num_labels = num_labels
    self.last_layer_first_token_only = bool(last_layer_first_token_only)
    self.bert = BertModel(config, skip_padding=skip_padding, fused_gelu=fused_gelu)
    self.head = ClassifierHead(num_labels, config.hidden_size, name="classifier")

  def build(self, input_shape=None):
    self.bert.build()
    self.head.build()
    self.built = True

  def call(self, inputs, training=False):
    pooled = self.bert(inputs, training=training,
                       pooled_only=self.last_layer_first_token_only)["pooled_output"]
    return tf.cast(self.head(pooled, training=training), tf.float32)

  def original_variables(self):
    out = self.bert.original_variables()
    out.update(self.head.original_variables())
    return out


def classifier_outputs(logits, label_ids, num_labels):
  """The original create_model's outputs from logits [B,K] and labels [B].

  Classification: probabilities = softmax, per_example_loss = -sum(onehot *
  log_softmax), loss = mean.  Regression (K == 1): prediction = logit, squared
  error per example, loss = mean.
  """
  if num_labels == 1:
    predictions = logits[:, 0]
    per_example_loss = tf.square(predictions - tf.cast(label_ids, tf.float32))
    return {"probabilities": predictions, "per_example_loss": per_example_loss,
            "loss": tf.reduce_mean(per_example_loss)}
  log_probs = tf.nn.log_softmax(logits, axis=-1)
  one_hot = tf.one_hot(label_ids, depth=num_labels, dtype=tf.float32)
  per_example_loss = -tf.reduce_sum(one_hot * log_probs, axis=-1)
  return {"probabilities": tf.nn.softmax(logits, axis=-1),
          "per_example_loss": per_example_loss, "loss": tf.reduce_mean(per_example_loss)}


def gather_indexes(sequence_tensor, positions):
  """[B,S,H] gathered at [B,M] positions -> [B*M,H] (the original's flat layout)."""
  b, s, h = tf.shape(sequence_tensor)[0], tf.shape(sequence_tensor)[1], tf.shape(sequence_tensor)[2]
  flat_offsets = tf.reshape(tf.range(b, dtype=positions.dtype) * tf.cast(s, positions.dtype),
                            [-1, 1])
  flat_positions = tf.reshape(positions + flat_offsets, [-1])
  return tf.gather(tf.reshape(sequence_tensor, [b * s, h]), flat_positions)


class MaskedLMHead(keras.layers.Layer):
  """`cls/predictions`: dense(H, hidden_act) + LayerNorm, then logits against the
  tied word-embedding table plus `output_bias` [V]."""

  def __init__(self, config, embedding_table_fn, **kwargs):
    super().__init__(**kwargs)
    self.config = config
    self._embedding_table_fn = embedding_table_fn
    self.transform = _dense(config.hidden_size, config, "transform_dense",
                            activation=get_activation(config.hidden_act))
    self.layer_norm = _layer_norm("transform_LayerNorm")

  def build(self, input_shape=None):
    h = self.config.hidden_size
    self.transform.build((None, h))
    self.layer_norm.build((None, h))
    self.output_bias = self.add_weight(name="output_bias", shape=(self.config.vocab_size,),
                                       initializer="zeros")
    self.built = True

  def call(self, sequence_output, positions):
    x = gather_indexes(sequence_output, positions)  # [B*M,H]
    x = self.layer_norm(self.transform(x))
    table = tf.cast(self._embedding_table_fn(), x.dtype)
    logits = tf.matmul(x, table, transpose_b=True) + tf.cast(self.output_bias, x.dtype)
    return tf.nn.log_softmax(tf.cast(logits, tf.float32), axis=-1)  # [B*M,V]

  def original_variables(self, prefix="cls/predictions"):
    out = _dense_vars(prefix + "/transform/dense", self.transform)
    out.update(_ln_vars(prefix + "/transform/LayerNorm", self.layer_norm))
    out[prefix + "/output_bias"] = self.output_bias
    return out


class NextSentenceHead(keras.layers.Layer):
  """`cls/seq_relationship`: output_weights [2,H], output_bias [2] on the pooled output."""

  def __init__(self, config, **kwargs):
    super().__init__(**kwargs)
    self.config = config

  def build(self, input_shape=None):
    self.output_weights = self.add_weight(
        name="output_weights", shape=(2, self.config.hidden_size), initializer=_init(self.config))
    self.output_bias = self.add_weight(name="output_bias", shape=(2,), initializer="zeros")
    self.built = True

  def call(self, pooled_output):
    logits = tf.matmul(pooled_output, tf.cast(self.output_weights, pooled_output.dtype),
                       transpose_b=True) + tf.cast(self.output_bias, pooled_output.dtype)
    return tf.nn.log_softmax(tf.cast(logits, tf.float32), axis=-1)  # [B,2]

  def original_variables(self, prefix="cls/seq_relationship"):
    return {prefix + "/output_weights": self.output_weights,
            prefix + "/output_bias": self.output_bias}


class BertPretrainer(keras.Model):
  """BertModel + MLM + NSP heads (run_pretraining's model).

  call(features) with masked_lm_positions [B,M] returns masked_lm_log_probs
  [B*M,V] and next_sentence_log_probs [B,2]; `pretraining_losses` turns them
  into the original losses.  skip_padding and fused_gelu are passed to the
  BertModel.
  """

  def __init__(self, config, skip_padding=False, fused_gelu=False, **kwargs):
    super().__init__(**kwargs)
    self.config = config
    self.bert = BertModel(config, skip_padding=skip_padding, fused_gelu=fused_gelu)
    self.mlm = MaskedLMHead(config, self.bert.get_embedding_table, name="mlm")
    self.nsp = NextSentenceHead(config, name="nsp")

  def build(self, input_shape=None):
    self.bert.build()
    self.mlm.build()
    self.nsp.build()
    self.built = True

  def call(self, inputs, training=False):
    out = self.bert(inputs, training=training)
    return {
        "masked_lm_log_probs": self.mlm(out["sequence_output"], inputs["masked_lm_positions"]),
        "next_sentence_log_probs": self.nsp(out["pooled_output"]),
        "sequence_output": out["sequence_output"],
        "pooled_output": out["pooled_output"],
    }

  def original_variables(self):
    out = self.bert.original_variables()
    out.update(self.mlm.original_variables())
    out.update(self.nsp.original_variables())
    return out


def pretraining_losses(outputs, masked_lm_ids, masked_lm_weights, next_sentence_labels):
  """The original MLM and NSP losses.

  masked_lm_loss = sum(w * CE) / (sum(w) + 1e-5) over the B*M gathered slots;
  next_sentence_loss = mean CE; total_loss = their sum.
  """
  log_probs = outputs["masked_lm_log_probs"]
  vocab_size = tf.shape(log_probs)[-1]
  label_ids = tf.reshape(masked_lm_ids, [-1])
  weights = tf.cast(tf.reshape(masked_lm_weights, [-1]), tf.float32)
  one_hot = tf.one_hot(label_ids, depth=vocab_size, dtype=tf.float32)
  mlm_example_loss = -tf.reduce_sum(log_probs * one_hot, axis=-1)
  mlm_loss = tf.reduce_sum(weights * mlm_example_loss) / (tf.reduce_sum(weights) + 1e-5)
  nsp_log_probs = outputs["next_sentence_log_probs"]
  nsp_labels = tf.reshape(next_sentence_labels, [-1])
  nsp_example_loss = -tf.reduce_sum(tf.one_hot(nsp_labels, depth=2, dtype=tf.float32) *
                                    nsp_log_probs, axis=-1)
  nsp_loss = tf.reduce_mean(nsp_example_loss)
  return {"masked_lm_loss": mlm_loss, "masked_lm_example_loss": mlm_example_loss,
          "next_sentence_loss": nsp_loss, "next_sentence_example_loss": nsp_example_loss,
          "total_loss": mlm_loss + nsp_loss}
