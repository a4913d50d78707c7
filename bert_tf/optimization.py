"""The optimizer of google-research/bert (`optimization.py`), for TF2 eager / tf.function.

What a training step does, as the original `create_optimizer` train op:

  1. `clip_by_global_norm(grads, 1.0)`.  The global norm is TensorFlow's, so an
     `IndexedSlices` gradient (the word embeddings, looked up with `tf.gather`)
     contributes the squares of its rows *per occurrence*: a token id that occurs
     k times adds k row-squares, not the square of the summed row.  This is the
     original's number (1.3873 instead of the dense 1.0439 on the test batch).
  2. Adam without bias correction and with decoupled weight decay:
       m <- b1 m + (1 - b1) g,  v <- b2 v + (1 - b2) g^2,  u = m / (sqrt(v) + eps),
       u <- u + wd p  (unless an exclude pattern `re.search`-es the variable name),
       p <- p - lr u.
     Every variable gets the dense update (an IndexedSlices gradient is summed into a
     dense one first), so untouched embedding rows still decay, as in the original.
  3. `global_step += 1`.

The learning rate is `learning_rate_schedule` evaluated at `global_step +
lr_step_offset`.  In the original the schedule reads `global_step` in the same
session run that increments it, without an ordering, and in practice the
increment lands first (google-research/bert issue #1050): the update of the step
that starts at global step k uses schedule(k + 1), so the first update already
has lr init_lr / W.  `lr_step_offset=1` (the default) reproduces that "natural"
run bit-for-bit; `lr_step_offset=0` is the evidently intended schedule in which
the first update has lr 0.

Slots are named like the original's (`<name>/adam_m`, `<name>/adam_v`, float32,
zeros) and the step counter is the int64 `global_step`, so a checkpoint written
from `slot_variables()` and `global_step` has the original's 2n + 1 extra names.

`Lamb` is an addition (the original has only Adam): the same slots, clipping,
schedule and decay exclusions plus the layer-wise trust ratio of You et al. 2019.

Variables stay float32 and gradients are cast to float32, so a mixed-precision
model (float16/bfloat16 compute, float32 variables) can use these unchanged.
"""

import re

import tensorflow as tf

DEFAULT_EXCLUDE_FROM_WEIGHT_DECAY = ("LayerNorm", "layer_norm", "bias")
OPTIMIZERS = ("adamw", "lamb")


def learning_rate_schedule(init_lr, num_train_steps, num_warmup_steps):
  """The original schedule as a function of the global step.

  Returns fn(step) -> float32 scalar tensor, `step` an int32/int64 tensor or a
  Python int:
    init_lr * (1 - min(step, N) / N)   (polynomial decay, power 1, end 0; the
                                         decay counts from step 0, not from W)
    init_lr * step / W                 while step < W, when W is truthy.
  At step W the rate therefore jumps from init_lr (W-1)/W to init_lr (1 - W/N).
  The float32 arithmetic follows the original's ops so the values are identical.
  """
  init_lr = float(init_lr)
  decay_steps = float(num_train_steps)
  warmup_steps = int(num_warmup_steps) if num_warmup_steps else 0

  def schedule(step):
    step = tf.convert_to_tensor(step)
    if not step.dtype.is_integer:
      step = tf.cast(step, tf.int64)
    step_float = tf.cast(step, tf.float32)
    n = tf.constant(decay_steps, tf.float32)
    done = tf.minimum(step_float, n) / n
    lr = tf.constant(init_lr, tf.float32) * tf.pow(1.0 - done, 1.0)
    if warmup_steps:
      step_int = tf.cast(step, tf.int32)
      warmup_lr = init_lr * (tf.cast(step_int, tf.float32) / float(warmup_steps))
      lr = tf.where(step_int < warmup_steps, warmup_lr, lr)
    return lr

  return schedule


def _to_float32(grad):
  """Casts a gradient (Tensor or IndexedSlices, any float dtype) to float32."""
  if grad is None:
    return None
  if isinstance(grad, tf.IndexedSlices):
    if grad.values.dtype == tf.float32:
      return grad
    return tf.IndexedSlices(tf.cast(grad.values, tf.float32), grad.indices, grad.dense_shape)
  grad = tf.convert_to_tensor(grad)
  return grad if grad.dtype == tf.float32 else tf.cast(grad, tf.float32)


def clip_gradients(grads, clip_norm):
  """The original's `tf.clip_by_global_norm`, on a dict {name: grad} or a list.

  The norm sums the squares of every row of an IndexedSlices as given, i.e. one
  row per occurrence, before duplicate indices are added up.  With `clip_norm`
  None nothing is clipped.  Returns (clipped grads of the same structure, norm).
  """
  names = list(grads) if isinstance(grads, dict) else None
  values = [grads[k] for k in names] if names is not None else list(grads)
  values = [_to_float32(g) for g in values]
  if clip_norm is None:
    norm = tf.linalg.global_norm([g for g in values if g is not None])
    clipped = values
  else:
    clipped, norm = tf.clip_by_global_norm(values, clip_norm)
  if names is not None:
    return dict(zip(names, clipped)), norm
  return list(clipped), norm


def _unwrap(variable):
  """The tf.Variable behind a Keras 3 variable (tf backend); tf.Variables unchanged."""
  if isinstance(variable, tf.Variable):
    return variable
  inner = getattr(variable, "value", None)
  if isinstance(inner, tf.Variable):
    return inner
  raise TypeError("expected a tf.Variable or a Keras variable, got %r" % (variable,))


class _Entry(object):
  """Per-variable state resolved once at build time."""

  def __init__(self, name, variable, m, v, decay, adapt):
    self.name = name
    self.variable = variable
    self.m = m
    self.v = v
    self.decay = decay
    self.adapt = adapt


class _OriginalStepOptimizer(object):
  """Shared machinery: slots, clipping, the schedule, the global step.

  Subclasses implement `_update(entry, grad, lr)` returning the assign ops.
  """

  def __init__(self, learning_rate_fn, weight_decay_rate=0.01, beta_1=0.9, beta_2=0.999,
               epsilon=1e-6, exclude_from_weight_decay=DEFAULT_EXCLUDE_FROM_WEIGHT_DECAY,
               clip_norm=1.0, lr_step_offset=1):
    if callable(learning_rate_fn):
      self._learning_rate_fn = learning_rate_fn
    else:
      constant = float(learning_rate_fn)
      self._learning_rate_fn = lambda step: tf.constant(constant, tf.float32)
    self.weight_decay_rate = float(weight_decay_rate)
    self.beta_1 = float(beta_1)
    self.beta_2 = float(beta_2)
    self.epsilon = float(epsilon)
    self.exclude_from_weight_decay = tuple(exclude_from_weight_decay or ())
    self.clip_norm = None if clip_norm is None else float(clip_norm)
    self.lr_step_offset = int(lr_step_offset)
    self._entries = None
    self._by_name = None
    self._global_step = None

  def _do_use_weight_decay(self, name):
    """Decay applies when the rate is non-zero and no exclude pattern matches."""
    if not self.weight_decay_rate:
      return False
    return not any(re.search(pattern, name) for pattern in self.exclude_from_weight_decay)

  def _do_layer_adaptation(self, name):
    """Whether the trust ratio applies (only Lamb uses it)."""
    return False

  @property
  def built(self):
    return self._entries is not None

  def build(self, variables):
    """Creates the slots and `global_step` for {original_name: variable}.

    Slots are float32 zeros named `<name>/adam_m` and `<name>/adam_v`, not
    trainable; `global_step` is an int64 zero.  Create them under the strategy
    scope the model variables live in.  Whether a variable is decayed is decided
    here, once, from its name.
    """
    if self.built:
      raise ValueError("optimizer already built")
    with tf.init_scope():
      entries = []
      for name, variable in variables.items():
        var = _unwrap(variable)
        if var.dtype != tf.float32:
          raise ValueError("%s: variables must be float32 (got %s); with mixed precision "
                           "keep float32 variables and cast in the layers" % (name, var.dtype))
        m = tf.Variable(tf.zeros(var.shape, tf.float32), trainable=False, name=name + "/adam_m")
        v = tf.Variable(tf.zeros(var.shape, tf.float32), trainable=False, name=name + "/adam_v")
        entries.append(_Entry(name, var, m, v, self._do_use_weight_decay(name),
                              self._do_layer_adaptation(name)))
      self._global_step = tf.Variable(
          tf.constant(0, tf.int64), trainable=False, name="global_step",
          aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
    self._entries = entries
    self._by_name = {e.name: e for e in entries}

  @property
  def global_step(self):
    """The int64 step counter (number of applied steps)."""
    if self._global_step is None:
      raise ValueError("optimizer not built yet: call build(variables)")
    return self._global_step

  def slot_variables(self):
    """{name + '/adam_m': var, name + '/adam_v': var} in variable order."""
    if not self.built:
      raise ValueError("optimizer not built yet: call build(variables)")
    out = {}
    for e in self._entries:
      out[e.name + "/adam_m"] = e.m
      out[e.name + "/adam_v"] = e.v
    return out

  def decayed_variable_names(self):
    """Names of the variables that get weight decay (resolved at build time)."""
    return [e.name for e in self._entries if e.decay]

  def learning_rate(self):
    """The learning rate the next apply_gradients will use (float32 tensor)."""
    return tf.convert_to_tensor(
        self._learning_rate_fn(self.global_step + self.lr_step_offset), tf.float32)

  def apply_gradients(self, grads, variables=None):
    """One original training step; returns the global norm before clipping.

    grads: {original_name: Tensor, IndexedSlices or None}; names missing or None
    are not updated (their slots are left alone, as the original skips None).
    variables: {original_name: variable}, only needed if build() was not called.
    Works eagerly and inside tf.function; all Python work is done at trace time.
    """
    if not self.built:
      if variables is None:
        raise ValueError("optimizer not built: call build(variables) or pass variables")
      self.build(variables)
    unknown = [k for k in grads if k not in self._by_name]
    if unknown:
      raise KeyError("gradients for variables the optimizer was not built with: %s"
                     % sorted(unknown))
    grad_list = [grads.get(e.name) for e in self._entries]
    clipped, norm = clip_gradients(grad_list, self.clip_norm)
    lr = self.learning_rate()
    updates = []
    for entry, grad in zip(self._entries, clipped):
      if grad is None:
        continue
      if isinstance(grad, tf.IndexedSlices):
        grad = tf.convert_to_tensor(grad)  # sums duplicate rows, as the original's dense ops
      updates.extend(self._update(entry, grad, lr))
    with tf.control_dependencies(updates):
      self.global_step.assign_add(1)
    return norm

  def _moments(self, entry, grad):
    """The new first and second moments (no bias correction)."""
    m = self.beta_1 * entry.m + (1.0 - self.beta_1) * grad
    v = self.beta_2 * entry.v + (1.0 - self.beta_2) * tf.square(grad)
    return m, v

  def _update(self, entry, grad, lr):
    raise NotImplementedError


def _adamw_math(param, m, v, grad, lr, beta_1, beta_2, epsilon, weight_decay_rate):
  """The original AdamWeightDecay update of one variable, its float32 ops in order.

  Returns (new param, new m, new v).  weight_decay_rate 0.0: no decay term.
  """
  m = beta_1 * m + (1.0 - beta_1) * grad
  v = beta_2 * v + (1.0 - beta_2) * tf.square(grad)
  update = m / (tf.sqrt(v) + epsilon)
  if weight_decay_rate:
    update += weight_decay_rate * param
  return param - lr * update, m, v


class AdamWeightDecay(_OriginalStepOptimizer):
  """The original AdamWeightDecayOptimizer plus its create_optimizer wrapping.

  Arguments are the original's: learning_rate_fn (a schedule fn(step) or a float),
  weight_decay_rate, beta_1, beta_2, epsilon, exclude_from_weight_decay (regexes,
  `re.search`-ed in the original variable names), plus clip_norm (1.0 as
  create_optimizer; None disables clipping) and lr_step_offset (1: the update at
  global step k uses schedule(k+1), the original's natural run; 0: schedule(k)).
  fused: each variable's update compiled by XLA into one pass (same ops; tests
  compare it with the op-by-op update); False runs the ops one by one.
  """

  def __init__(self, learning_rate_fn, weight_decay_rate=0.01, beta_1=0.9, beta_2=0.999,
               epsilon=1e-6, exclude_from_weight_decay=DEFAULT_EXCLUDE_FROM_WEIGHT_DECAY,
               clip_norm=1.0, lr_step_offset=1, fused=True):
    super().__init__(learning_rate_fn, weight_decay_rate, beta_1, beta_2, epsilon,
                     exclude_from_weight_decay, clip_norm, lr_step_offset)
    self.fused = bool(fused)
    self._fused_steps = {}

  def _update(self, entry, grad, lr):
    step = _adamw_math
    if self.fused:
      # The same ops compiled by XLA into one loop over the variable: run one by one
      # each of them is a pass over it (the word embeddings alone are 47 MB at MiniLM
      # size, updated densely every step as in the original).  One function per
      # (shape, decay): each traced and compiled once; the hyper-parameters are
      # Python floats, i.e. compile-time constants.
      key = (tuple(entry.variable.shape), entry.decay)
      step = self._fused_steps.get(key)
      if step is None:
        step = self._fused_steps[key] = tf.function(_adamw_math, jit_compile=True)
    param, m, v = step(tf.convert_to_tensor(entry.variable), tf.convert_to_tensor(entry.m),
                       tf.convert_to_tensor(entry.v), grad, lr, self.beta_1, self.beta_2,
                       self.epsilon, self.weight_decay_rate if entry.decay else 0.0)
    return [entry.variable.assign(param), entry.m.assign(m), entry.v.assign(v)]


class Lamb(_OriginalStepOptimizer):
  """LAMB (You et al. 2019) with the original's slots, clipping, schedule and decay.

  The step direction is AdamWeightDecay's u = m / (sqrt(v) + eps) + wd p (no bias
  correction by default, like the original Adam; bias_correction=True divides m
  and v by 1 - b^t, t = global_step + 1).  For every variable whose name no
  exclude pattern matches, u is scaled by the trust ratio ||p|| / ||u|| (1 when
  either norm is 0); excluded variables (LayerNorm, biases) take the plain Adam
  step.  exclude_from_layer_adaptation defaults to exclude_from_weight_decay.
  """

  def __init__(self, learning_rate_fn, weight_decay_rate=0.01, beta_1=0.9, beta_2=0.999,
               epsilon=1e-6, exclude_from_weight_decay=DEFAULT_EXCLUDE_FROM_WEIGHT_DECAY,
               clip_norm=1.0, lr_step_offset=1, exclude_from_layer_adaptation=None,
               bias_correction=False):
    super().__init__(learning_rate_fn, weight_decay_rate, beta_1, beta_2, epsilon,
                     exclude_from_weight_decay, clip_norm, lr_step_offset)
    if exclude_from_layer_adaptation is None:
      exclude_from_layer_adaptation = self.exclude_from_weight_decay
    self.exclude_from_layer_adaptation = tuple(exclude_from_layer_adaptation)
    self.bias_correction = bool(bias_correction)

  def _do_layer_adaptation(self, name):
    return not any(re.search(p, name) for p in self.exclude_from_layer_adaptation)

  def _update(self, entry, grad, lr):
    param = tf.convert_to_tensor(entry.variable)
    m, v = self._moments(entry, grad)
    m_hat, v_hat = m, v
    if self.bias_correction:
      t = tf.cast(self.global_step + 1, tf.float32)
      m_hat = m / (1.0 - tf.pow(self.beta_1, t))
      v_hat = v / (1.0 - tf.pow(self.beta_2, t))
    update = m_hat / (tf.sqrt(v_hat) + self.epsilon)
    if entry.decay:
      update += self.weight_decay_rate * param
    if entry.adapt:
      w_norm = tf.norm(param)
      u_norm = tf.norm(update)
      ratio = tf.where(w_norm > 0.0,
                       tf.where(u_norm > 0.0, w_norm / tf.maximum(u_norm, 1e-30), 1.0), 1.0)
      update = ratio * update
    return [entry.variable.assign(param - lr * update), entry.m.assign(m), entry.v.assign(v)]


def create_optimizer(name, init_lr, num_train_steps, num_warmup_steps, lr_step_offset=1):
  """The optimizer for `--optimizer=adamw|lamb` with the original's settings.

  Both use the original schedule (warmup then linear decay to 0 from step 0),
  weight decay 0.01 except LayerNorm/layer_norm/bias, beta 0.9/0.999, eps 1e-6,
  global-norm clipping at 1.0.  lr_step_offset: 1 = the original's natural lr
  (first update uses schedule(1)), 0 = the intended one (first update lr 0).
  The result is unbuilt: call build(variables) under the model's strategy scope.
  """
  key = str(name).strip().lower()
  schedule = learning_rate_schedule(init_lr, num_train_steps, num_warmup_steps)
  if key == "adamw":
    return AdamWeightDecay(schedule, lr_step_offset=lr_step_offset)
  if key == "lamb":
    return Lamb(schedule, lr_step_offset=lr_step_offset)
  raise ValueError("unknown optimizer %r (choose from %s)" % (name, ", ".join(OPTIMIZERS)))
