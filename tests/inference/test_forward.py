"""inference.forward.Forward: the one forward loop gives what calling the function on each
batch gives, in input order, from numpy features and from datasets (as training.predict_batches)."""

import numpy as np
import pytest
import tensorflow as tf

from bert_tf import training
from bert_tf.inference import forward
from bert_tf.inference.settings import InputError

SEQ = tf.TensorSpec([None, None], tf.int32)


def _features(n=11, seq=40, seed=0):
  rng = np.random.RandomState(seed)
  mask = np.zeros([n, seq], np.int32)
  for i in range(n):
    mask[i, :1 + rng.randint(seq - 20)] = 1
  return {"input_ids": rng.randint(1, 99, [n, seq]).astype(np.int32) * mask,
          "input_mask": mask, "segment_ids": np.zeros([n, seq], np.int32)}


def _fn(features):
  """Per example: the padded length it saw, the masked sum and a dict output."""
  ids = tf.cast(features["input_ids"], tf.float32)
  length = tf.fill(tf.shape(ids)[:1], tf.shape(ids)[1])
  return {"length": length, "total": {"sum": tf.reduce_sum(ids, axis=1)}}


def test_numpy_batches_in_order_with_and_without_trim():
  features = _features()
  want = np.sum(features["input_ids"], axis=1).astype(np.float32)
  for trim in (False, True):
    loop = forward.Forward(_fn, input_signature={k: SEQ for k in features}, trim=trim)
    out = loop.run(features, batch_size=4)
    np.testing.assert_array_equal(out["total"]["sum"], want)
    batches = list(loop.iterate(features, batch_size=4))
    assert [len(b["length"]) for b in batches] == [4, 4, 3]
    lengths = np.concatenate([b["length"] for b in batches])
    if trim:  # each batch cut to its longest real sequence, rounded up to 16
      for i, b in enumerate(batches):
        longest = features["input_mask"][4 * i:4 * i + 4].sum(axis=1).max()
        assert set(b["length"]) == {min(40, -(-longest // 16) * 16)}
    else:
      assert set(lengths) == {40}
  # one batch of everything; an iterable of per-batch dicts (ragged widths)
  assert len(loop.run(features)["length"]) == 11
  ragged = [{k: v[:3, :10] for k, v in features.items()}, {k: v[3:, :20] for k, v in
                                                           features.items()}]
  out = forward.Forward(_fn).run(ragged)
  assert list(out["length"]) == [10] * 3 + [20] * 8


def test_a_single_tensor_output_and_bad_batch_size():
  features = _features()
  loop = forward.Forward(lambda f: f["input_ids"] * 2)
  np.testing.assert_array_equal(loop.run(features, batch_size=5), features["input_ids"] * 2)
  with pytest.raises(InputError, match="batch_size must be at least 1, got 0"):
    loop.run(features, batch_size=0)
  assert loop.run([]) == {}


def test_datasets_as_training_predict_batches():
  features = _features(n=21)
  dataset = tf.data.Dataset.from_tensor_slices(features).batch(4)
  strategy = tf.distribute.get_strategy()

  def flat(f):
    out = _fn(f)
    return {"length": out["length"], "sum": out["total"]["sum"]}

  for trim in (False, True):
    want = training.predict_batches(strategy, flat, dataset, trim=trim)
    got = forward.Forward(flat, strategy=strategy, trim=trim).run(dataset)
    assert sorted(got) == sorted(want) == ["length", "sum"]
    for key in want:
      np.testing.assert_array_equal(got[key], want[key])
  # without a strategy too
  got = forward.Forward(flat).run(dataset)
  np.testing.assert_array_equal(got["sum"], want["sum"])


def test_xla_gives_the_same_numbers():
  features = _features()

  def fn(f):
    x = tf.cast(f["input_ids"], tf.float32)
    return tf.reduce_max(tf.nn.softmax(x / 50.0, axis=-1), axis=-1)

  plain = forward.Forward(fn, trim=True).run(features, batch_size=4)
  xla = forward.Forward(fn, trim=True, use_xla=True).run(features, batch_size=4)
  assert plain.shape == xla.shape and plain.shape[0] == 11
  np.testing.assert_allclose(xla, plain, rtol=1e-6, atol=1e-7)
