"""bert_tf.forward.Forward: the one forward loop gives what calling the function on each
batch gives, in input order, from numpy features and from datasets on a strategy."""

import os
from unittest import mock

import numpy as np
import pytest
import tensorflow as tf

from bert_tf import forward, training
from bert_tf.errors import InputError
from helpers import TINY

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


def test_datasets_on_a_strategy_give_the_per_batch_calls():
  features = _features(n=21)
  dataset = tf.data.Dataset.from_tensor_slices(features).batch(4)
  strategy = tf.distribute.get_strategy()

  def flat(f):
    out = _fn(f)
    return {"length": out["length"], "sum": out["total"]["sum"]}

  for trim in (False, True):
    # independent expectation: fn on each batch (trimmed by hand), concatenated
    parts = [flat(training.trim_padding(b) if trim else b) for b in dataset]
    want = {k: np.concatenate([p[k].numpy() for p in parts]) for k in ("length", "sum")}
    got = forward.Forward(flat, strategy=strategy, trim=trim).run(dataset)
    assert sorted(got) == ["length", "sum"]
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


def test_use_xla_predict_equals_plain_predict_with_trimmed_batches():
  """Forward(use_xla=True) on a model: each trimmed length bucket compiled by XLA, same
  outputs as the plain forward pass, in input order."""
  from bert_tf import modeling
  from bert_tf.configuration import BertConfig
  tiny = TINY
  model = modeling.BertClassifier(BertConfig.from_json_file(os.path.join(tiny, "bert_config.json")), 3)
  model.build()
  rng = np.random.RandomState(5)
  n, seq = 11, 32
  lengths = [3, 30, 7, 17, 32, 5, 9, 2, 20, 11, 16]
  mask = (np.arange(seq)[None] < np.array(lengths)[:, None]).astype(np.int32)
  feats = {"input_ids": rng.randint(5, 99, (n, seq)).astype(np.int32) * mask,
           "input_mask": mask, "segment_ids": np.zeros((n, seq), np.int32)}
  ds = tf.data.Dataset.from_tensor_slices(feats).batch(4)  # 3 batches, the last partial

  def predict_fn(f):
    return {"logits": model(f, training=False)}

  strategy = tf.distribute.get_strategy()
  plain = forward.Forward(predict_fn, strategy=strategy, trim=True).run(ds)
  jit_requests, real_function = [], tf.function

  def spy(*args, **kwargs):
    jit_requests.append(kwargs.get("jit_compile"))
    return real_function(*args, **kwargs)

  with mock.patch.object(forward.tf, "function", spy):
    xla = forward.Forward(predict_fn, strategy=strategy, trim=True, use_xla=True).run(ds)
  assert True in jit_requests
  full = model(feats, training=False).numpy()
  np.testing.assert_allclose(plain["logits"], full, atol=1e-5)
  np.testing.assert_allclose(xla["logits"], full, atol=1e-5)
