"""The one forward loop: a model function run over batches, numpy outputs in input order.

`Forward(fn, ...)` compiles `fn(features) -> tensor or dict of tensors` (one
row per example on axis 0) once, then `iterate(data)` yields each batch's
outputs as numpy and `run(data)` concatenates them.  data is any of:

* a tf.data.Dataset of batches (distributed over `strategy`'s replicas when
  one is given; every replica's rows are collected, in replica order);
* one dict of [N,...] numpy arrays, cut into batches of `batch_size` rows;
* an iterable of such dicts, one per batch (e.g. padded per batch by the
  caller).

Options, all off by default: `trim` cuts each batch's padding to its longest
real sequence rounded up to a bucket of 16 (exact for BERT, see
training.trim_padding; only where the caller's outputs do not depend on the
padded length); `use_xla` compiles `fn` with XLA (once per batch shape, so per
bucket with trim); `input_signature` traces the step once for every shape;
`reduce_retracing` lets TensorFlow generalise the shapes after the first
trace instead.

run_classifier's eval and predict, run_pretraining's eval, classifier prediction,
fill-mask and extract_features all run through it; the
numbers are the same as calling `fn` on each batch directly (their tests
compare against the original code's outputs).
"""

import numpy as np
import tensorflow as tf

from bert_tf import training
from bert_tf.errors import InputError


def batch_slices(n, batch_size):
  """slice objects over n rows, batch_size at a time (the last one shorter)."""
  if batch_size < 1:
    raise InputError("batch_size must be at least 1, got %d" % batch_size)
  for start in range(0, n, batch_size):
    yield slice(start, min(n, start + batch_size))


class Forward(object):
  """fn compiled once; see the module docstring.

  fn: features dict -> a tensor or a (nested) dict of tensors, per example on
    axis 0.
  input_signature: the features' {name: tf.TensorSpec} (numpy inputs are
    converted to its dtypes), or None.
  strategy: a tf.distribute strategy to run fn on each replica (datasets
    only), or None to call fn directly.
  """

  def __init__(self, fn, input_signature=None, trim=False, use_xla=False, strategy=None,
               reduce_retracing=False):
    step = tf.function(fn, jit_compile=True) if use_xla else fn

    def replica_step(features):
      return step(training.trim_padding(features) if trim else features)

    if strategy is None:
      call = replica_step
    else:
      def call(features):
        return strategy.run(replica_step, args=(features,))

    self.strategy = strategy
    self.input_signature = input_signature
    self._step = tf.function(call, input_signature=[input_signature] if input_signature else None,
                             reduce_retracing=reduce_retracing)

  def _tensors(self, features):
    spec = self.input_signature or {}
    return {k: tf.constant(np.asarray(v), spec[k].dtype if k in spec else None)
            for k, v in features.items()}

  def _numpy(self, value):
    parts = self.strategy.experimental_local_results(value) if self.strategy else (value,)
    arrays = [p.numpy() for p in parts]
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays, axis=0)

  def _batches(self, data, batch_size):
    if isinstance(data, tf.data.Dataset):
      return training.distribute_dataset(self.strategy, data) if self.strategy else data
    if self.strategy is not None:
      raise ValueError("a strategy runs datasets only; pass numpy features without one")
    if isinstance(data, dict):
      n = len(next(iter(data.values())))
      size = max(n, 1) if batch_size is None else batch_size
      return ({k: v[sl] for k, v in data.items()} for sl in batch_slices(n, size))
    return data

  def iterate(self, data, batch_size=None):
    """Yields each batch's outputs (numpy, the structure fn returns), in order."""
    from_dataset = isinstance(data, tf.data.Dataset)
    for features in self._batches(data, batch_size):
      out = self._step(features if from_dataset else self._tensors(features))
      yield tf.nest.map_structure(self._numpy, out)

  def run(self, data, batch_size=None):
    """All outputs concatenated on axis 0 ({} when there was no batch)."""
    outs = list(self.iterate(data, batch_size))
    if not outs:
      return {}
    return tf.nest.map_structure(lambda *parts: np.concatenate(parts, axis=0), *outs)
