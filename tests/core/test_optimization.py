"""bert_tf.optimization against the original optimizer's recorded steps.

Fixture (e) of the original code: the tiny classifier trained 3 steps by the
original create_optimizer(init_lr=1e-3, num_train_steps=10, num_warmup_steps=2),
both as it really runs ("natural": the update at global step k uses
schedule(k+1)) and with the intended schedule (schedule(k)).
"""
import functools
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from bert_tf import checkpoints, configuration, modeling, optimization, training
from helpers import FIXTURES, TINY

STEPS = os.path.join(FIXTURES, "optimizer_steps")
WORD_EMB = "bert/embeddings/word_embeddings"
TRAJECTORY_VARS = ("output_weights", "output_bias", "bert/pooler/dense/bias",
                   "bert/encoder/layer_1/output/LayerNorm/gamma")
VARIANTS = {"natural": 1, "intended": 0}


@functools.lru_cache(maxsize=None)
def _steps_json():
  with open(os.path.join(STEPS, "optimizer_steps.json")) as f:
    return json.load(f)


def _batch(rows=slice(None)):
  b = _steps_json()["batch"]
  features = {k: tf.constant(np.asarray(b[k], np.int32)[rows])
              for k in ("input_ids", "input_mask", "segment_ids")}
  return features, tf.constant(np.asarray(b["label_ids"], np.int32)[rows])


def _classifier():
  """The fixture's classifier: tiny_uncased bert/* plus the original head."""
  config = configuration.BertConfig.from_json_file(os.path.join(TINY, "bert_config.json"))
  model = modeling.BertClassifier(config, num_labels=2)
  model.build()
  variables = model.original_variables()
  restored = checkpoints.init_from_checkpoint(variables, os.path.join(TINY, "bert_model.ckpt"),
                                              log=False)
  assert len(restored) == 39
  head = np.load(os.path.join(FIXTURES, "classifier_head.npz"))
  variables["output_weights"].assign(head["output_weights"])
  variables["output_bias"].assign(head["output_bias"])
  assert len(variables) == 41
  return model, variables


def _loss_and_grads(model, variables, features, labels):
  names = list(variables)
  with tf.GradientTape() as tape:
    logits = model(features, training=False)
    loss = modeling.classifier_outputs(logits, labels, 2)["loss"]
  grads = tape.gradient(loss, [variables[n] for n in names])
  return loss, dict(zip(names, grads))


def _snapshot(variables, optimizer):
  out = {k: np.array(v.numpy()) for k, v in variables.items()}
  out.update({k: np.array(v.numpy()) for k, v in optimizer.slot_variables().items()})
  out["global_step"] = optimizer.global_step.numpy()
  return out


@functools.lru_cache(maxsize=None)
def _run_fixture_steps(lr_step_offset):
  """3 steps of create_optimizer('adamw', 1e-3, 10, 2) on the fixture batch."""
  model, variables = _classifier()
  optimizer = optimization.create_optimizer("adamw", 1e-3, 10, 2, lr_step_offset=lr_step_offset)
  optimizer.build(variables)
  features, labels = _batch()

  @tf.function
  def train_step():
    loss, grads = _loss_and_grads(model, variables, features, labels)
    clipped, _ = optimization.clip_gradients(grads, 1.0)
    lr = optimizer.learning_rate()
    norm = optimizer.apply_gradients(grads)
    return loss, norm, lr, {k: clipped[k] for k in ("output_weights", "output_bias")}

  records = []
  for _ in range(3):
    loss, norm, lr, clipped = train_step()
    records.append({"loss": float(loss), "norm": float(norm), "lr": float(lr),
                    "clipped": {k: v.numpy() for k, v in clipped.items()},
                    "state": _snapshot(variables, optimizer)})
  loss_after, _ = _loss_and_grads(model, variables, features, labels)
  return records, float(loss_after)


def _kind(name):
  for kind in ("adam_m", "adam_v"):
    if name.endswith("/" + kind):
      return kind
  return "param"


def _slot_atol(reference, kind):
  """Slots are tiny (adam_v ~1e-5): compare them at 1e-4 of their largest value."""
  scale = max(float(np.max(np.abs(reference[k]))) for k in reference
              if not k.startswith("__") and _kind(k) == kind)
  return 1e-4 * scale


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_steps_match_original(variant):
  expected = _steps_json()[variant]
  records, loss_after = _run_fixture_steps(VARIANTS[variant])
  for rec, step in zip(records, expected["steps"]):
    assert rec["loss"] == pytest.approx(step["loss"], abs=1e-5)
    assert rec["norm"] == pytest.approx(step["global_grad_norm_before_clip"], abs=1e-5)
    assert rec["lr"] == pytest.approx(step["lr_effective"], rel=1e-7, abs=1e-12)
    assert rec["state"]["global_step"] == step["global_step_after"]
  assert loss_after == pytest.approx(expected["loss_after_step3"], abs=1e-5)
  if variant == "natural":  # the recorded numbers of the fixtures README
    np.testing.assert_allclose([r["norm"] for r in records], [1.387302, 1.487836, 0.874791],
                               atol=1e-5)
    np.testing.assert_allclose([r["lr"] for r in records], [5e-4, 8e-4, 7e-4], rtol=1e-6)
  else:
    np.testing.assert_allclose([r["lr"] for r in records], [0.0, 5e-4, 8e-4], rtol=1e-6)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_trajectory_matches_original(variant):
  traj = np.load(os.path.join(STEPS, "trajectory.npz"))
  records, _ = _run_fixture_steps(VARIANTS[variant])
  for k, rec in enumerate(records, start=1):
    prefix = "%s/step%d/" % (variant, k)
    for name in ("output_weights", "output_bias"):
      np.testing.assert_allclose(rec["clipped"][name], traj[prefix + "clipped_grad/" + name],
                                 rtol=1e-4, atol=1e-7, err_msg=prefix + name)
    for name in TRAJECTORY_VARS:
      np.testing.assert_allclose(rec["state"][name], traj[prefix + name], rtol=0, atol=1e-5,
                                 err_msg=prefix + name)
      for slot in ("adam_m", "adam_v"):
        ref = traj[prefix + name + "/" + slot]
        np.testing.assert_allclose(rec["state"][name + "/" + slot], ref, rtol=1e-4,
                                   atol=1e-4 * float(np.max(np.abs(ref))) + 1e-12,
                                   err_msg=prefix + name + "/" + slot)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_all_variables_after_3_steps_match_original(variant):
  reference = np.load(os.path.join(FIXTURES, "optimizer_%s_step3.npz" % variant))
  rows = reference["__word_embedding_rows__"]
  state = _run_fixture_steps(VARIANTS[variant])[0][-1]["state"]
  names = [k for k in reference.files if not k.startswith("__")]
  assert len(names) == 124
  assert sorted(names) == sorted(state)
  assert state["global_step"].dtype == np.int64 and state["global_step"] == 3
  assert reference["global_step"] == 3
  atol = {"param": 1e-5, "adam_m": _slot_atol(reference, "adam_m"),
          "adam_v": _slot_atol(reference, "adam_v")}
  for name in names:
    actual = state[name]
    if name.startswith(WORD_EMB):
      actual = actual[rows]  # touched rows and 256 untouched ones (which only decay)
    kind = _kind(name)
    np.testing.assert_allclose(actual, reference[name], rtol=0, atol=min(atol[kind], 1e-5),
                               err_msg=name)


def test_learning_rate_schedule_values():
  schedule = optimization.learning_rate_schedule(1e-3, 10, 2)
  lr32 = np.float32(1e-3)
  expected = {0: 0.0, 1: lr32 * np.float32(0.5), 2: 8e-4, 3: 7e-4, 5: 5e-4, 9: 1e-4, 10: 0.0,
              11: 0.0, 25: 0.0}
  for step, value in expected.items():
    for dtype in (tf.int32, tf.int64):
      got = schedule(tf.constant(step, dtype))
      assert got.dtype == tf.float32
      assert float(got) == pytest.approx(value, rel=1e-6, abs=1e-12), step
    assert float(schedule(step)) == pytest.approx(value, rel=1e-6, abs=1e-12)
  steps = _steps_json()["natural"]["steps"]  # bit-exact float32 values of the original
  assert [float(schedule(s["global_step_after"])) for s in steps] == \
         [s["lr_schedule_at_global_step_after"] for s in steps]
  assert [float(schedule(s["global_step_before"])) for s in steps] == \
         [s["lr_schedule_at_global_step_before"] for s in steps]
  # No warmup: linear decay from init_lr at step 0.
  no_warmup = optimization.learning_rate_schedule(2e-5, 100, 0)
  assert float(no_warmup(0)) == pytest.approx(2e-5, rel=1e-6)
  assert float(no_warmup(50)) == pytest.approx(1e-5, rel=1e-6)
  # The jump at step W: decay counts from 0, so (W-1)/W -> 1 - W/N.
  jump = optimization.learning_rate_schedule(1.0, 10, 4)
  assert float(jump(3)) == pytest.approx(0.75) and float(jump(4)) == pytest.approx(0.6)


def test_learning_rate_offsets():
  w = {"w": tf.Variable([1.0])}
  natural = optimization.create_optimizer("adamw", 1e-3, 10, 2)
  intended = optimization.create_optimizer("adamw", 1e-3, 10, 2, lr_step_offset=0)
  natural.build(w)
  intended.build({"w": tf.Variable([1.0])})
  assert float(natural.learning_rate()) == pytest.approx(5e-4, rel=1e-6)
  assert float(intended.learning_rate()) == 0.0
  natural.global_step.assign(4)
  assert float(natural.learning_rate()) == pytest.approx(5e-4, rel=1e-6)  # schedule(5)


def test_original_optimization_test():
  """google-research/bert optimization_test.test_adam: lr 0.2, no decay, 100 steps."""
  w = tf.Variable([0.1, -0.2, -0.1])
  x = tf.constant([0.4, 0.2, -0.5])
  optimizer = optimization.AdamWeightDecay(0.2, weight_decay_rate=0.0, clip_norm=None)
  optimizer.build({"w": w})

  @tf.function
  def step():
    with tf.GradientTape() as tape:
      loss = tf.reduce_mean(tf.square(x - w))
    return optimizer.apply_gradients({"w": tape.gradient(loss, w)})

  for _ in range(100):
    step()
  np.testing.assert_allclose(w.numpy(), [0.4, 0.2, -0.5], rtol=1e-2, atol=1e-2)
  assert optimizer.global_step.numpy() == 100


def test_update_rule_by_hand():
  """One step against numpy: no bias correction, decoupled decay, lr * u."""
  rng = np.random.RandomState(3)
  p0, g, m0, v0 = (rng.randn(4, 3).astype(np.float32) for _ in range(4))
  v0 = np.abs(v0)
  var = tf.Variable(p0)
  optimizer = optimization.AdamWeightDecay(0.01, weight_decay_rate=0.1, clip_norm=None)
  optimizer.build({"layer/kernel": var})
  optimizer.slot_variables()["layer/kernel/adam_m"].assign(m0)
  optimizer.slot_variables()["layer/kernel/adam_v"].assign(v0)
  optimizer.apply_gradients({"layer/kernel": tf.constant(g)})
  m = 0.9 * m0 + 0.1 * g
  v = 0.999 * v0 + 0.001 * g * g
  p = p0 - 0.01 * (m / (np.sqrt(v) + 1e-6) + 0.1 * p0)
  np.testing.assert_allclose(var.numpy(), p, rtol=1e-6, atol=1e-7)
  np.testing.assert_allclose(optimizer.slot_variables()["layer/kernel/adam_m"].numpy(), m,
                             rtol=1e-6)
  np.testing.assert_allclose(optimizer.slot_variables()["layer/kernel/adam_v"].numpy(), v,
                             rtol=1e-6)


def test_fused_update_equals_the_op_by_op_update_on_bert():
  """AdamWeightDecay(fused=True) (each variable's update one XLA loop, the default) gives
  the parameters and slots of the op-by-op update over 3 steps of the tiny classifier,
  decayed and excluded variables and the embeddings' IndexedSlices gradient included."""
  states = []
  for fused in (True, False):
    model, variables = _classifier()
    optimizer = optimization.AdamWeightDecay(optimization.learning_rate_schedule(1e-3, 10, 2),
                                             fused=fused)
    assert optimizer.fused == fused
    optimizer.build(variables)
    for step in range(3):
      features, labels = _batch(slice(step, step + 3))
      _, grads = _loss_and_grads(model, variables, features, labels)
      optimizer.apply_gradients(grads)
    state = {n: v.numpy() for n, v in variables.items()}
    state.update({n: v.numpy() for n, v in optimizer.slot_variables().items()})
    states.append(state)
  fused, plain = states
  initial = _classifier()[1]
  for name, want in plain.items():
    # XLA rounds a few ops differently (float32 ulps); Adam's m / sqrt(v) magnifies that
    # where a gradient is pure rounding noise (the key biases, to which softmax is
    # invariant): <= 1e-6 after 3 steps of lr <= 8e-4.  The decay and exclusion maths of
    # the fused path are checked to 1e-7 by test_update_rule_by_hand and the original's
    # own 3 steps by test_all_variables_after_3_steps_match_original (both fused).
    np.testing.assert_allclose(fused[name], want, rtol=0, atol=1e-6, err_msg=name)
    if name in initial:  # the update really ran
      assert not np.array_equal(want, initial[name].numpy()), name


def test_weight_decay_exclusion_by_name():
  names = ["bert/encoder/layer_0/attention/output/LayerNorm/gamma", "foo/layer_norm/scale",
           "bert/pooler/dense/bias", "output_bias", "cls/predictions/output_bias",
           "output_weights", "bert/pooler/dense/kernel", WORD_EMB]
  decayed = {"output_weights", "bert/pooler/dense/kernel", WORD_EMB}
  variables = {n: tf.Variable(np.full([2, 2], 2.0, np.float32)) for n in names}
  optimizer = optimization.AdamWeightDecay(0.5, weight_decay_rate=0.01)
  optimizer.build(variables)
  assert set(optimizer.decayed_variable_names()) == decayed
  optimizer.apply_gradients({n: tf.zeros([2, 2]) for n in names})  # u = 0, only decay moves
  for name, var in variables.items():
    want = 2.0 - 0.5 * 0.01 * 2.0 if name in decayed else 2.0
    np.testing.assert_allclose(var.numpy(), want, rtol=1e-7, err_msg=name)
  # Rate 0 or an empty exclude list.
  none = optimization.AdamWeightDecay(0.5, weight_decay_rate=0.0)
  none.build({n: tf.Variable([1.0]) for n in names})
  assert none.decayed_variable_names() == []
  everything = optimization.AdamWeightDecay(0.5, exclude_from_weight_decay=())
  everything.build({n: tf.Variable([1.0]) for n in names})
  assert everything.decayed_variable_names() == names


def test_decay_exclusion_on_the_classifier():
  _, variables = _classifier()
  optimizer = optimization.create_optimizer("adamw", 1e-3, 10, 2)
  optimizer.build(variables)
  decayed = set(optimizer.decayed_variable_names())
  assert len(decayed) == 17  # 3 embeddings, 2 x 6 kernels, pooler kernel, output_weights
  assert {WORD_EMB, "bert/embeddings/token_type_embeddings", "output_weights",
          "bert/encoder/layer_1/intermediate/dense/kernel"} <= decayed
  assert not decayed & {"output_bias", "bert/embeddings/LayerNorm/beta",
                        "bert/encoder/layer_0/output/LayerNorm/gamma", "bert/pooler/dense/bias"}


def test_indexed_slices_norm_counts_rows_per_occurrence():
  table = tf.Variable(np.arange(15, dtype=np.float32).reshape(5, 3) / 10.0)
  ids = tf.constant([1, 1, 3, 1])
  coef = tf.constant([[1.0, 2.0, 2.0], [2.0, 1.0, -2.0], [0.0, 0.0, 3.0], [4.0, 0.0, 0.0]])
  with tf.GradientTape() as tape:
    loss = tf.reduce_sum(tf.gather(table, ids) * coef)
  grad = tape.gradient(loss, table)
  assert isinstance(grad, tf.IndexedSlices)
  per_occurrence = float(np.sqrt(np.sum(coef.numpy() ** 2)))  # sqrt(9+9+9+16) = 6.557
  dense = float(np.linalg.norm(tf.convert_to_tensor(grad).numpy()))  # rows summed first: 7.616
  assert per_occurrence == pytest.approx(np.sqrt(43.0))
  assert abs(dense - per_occurrence) > 1.0

  clipped, norm = optimization.clip_gradients({"t": grad}, 1.0)
  assert float(norm) == pytest.approx(per_occurrence, rel=1e-6)
  assert isinstance(clipped["t"], tf.IndexedSlices)
  np.testing.assert_allclose(clipped["t"].values.numpy(), coef.numpy() / per_occurrence,
                             rtol=1e-6)

  optimizer = optimization.AdamWeightDecay(0.1, weight_decay_rate=0.0)
  optimizer.build({"t": table})
  norm = optimizer.apply_gradients({"t": grad})
  assert float(norm) == pytest.approx(per_occurrence, rel=1e-6)
  dense_grad = np.zeros([5, 3], np.float32)
  np.add.at(dense_grad, ids.numpy(), coef.numpy())
  np.testing.assert_allclose(optimizer.slot_variables()["t/adam_m"].numpy(),
                             0.1 * dense_grad / per_occurrence, rtol=1e-5, atol=1e-8)


def test_slots_and_global_step():
  variables = {"a/kernel": tf.Variable(tf.ones([2, 3])), "a/bias": tf.Variable(tf.ones([3]))}
  optimizer = optimization.AdamWeightDecay(0.1)
  with pytest.raises(ValueError):
    optimizer.global_step  # noqa: B018  (not built yet)
  optimizer.build(variables)
  slots = optimizer.slot_variables()
  assert list(slots) == ["a/kernel/adam_m", "a/kernel/adam_v", "a/bias/adam_m", "a/bias/adam_v"]
  for name, slot in slots.items():
    assert isinstance(slot, tf.Variable) and not slot.trainable
    assert slot.dtype == tf.float32 and not np.any(slot.numpy())
    assert tuple(slot.shape) == tuple(variables[name.rsplit("/", 1)[0]].shape)
  step = optimizer.global_step
  assert step.dtype == tf.int64 and int(step.numpy()) == 0 and not step.trainable
  with pytest.raises(ValueError):
    optimizer.build(variables)
  with pytest.raises(KeyError):
    optimizer.apply_gradients({"other": tf.ones([1])})
  # None gradients are skipped (variable and slots untouched), the step still counts.
  optimizer.apply_gradients({"a/kernel": tf.ones([2, 3]), "a/bias": None})
  assert int(step.numpy()) == 1
  np.testing.assert_array_equal(variables["a/bias"].numpy(), 1.0)
  assert not np.any(slots["a/bias/adam_m"].numpy())
  # Lazy build through apply_gradients(grads, variables).
  lazy = optimization.AdamWeightDecay(0.1)
  var = tf.Variable([1.0, 2.0])
  lazy.apply_gradients({"w": tf.constant([1.0, 1.0])}, variables={"w": var})
  assert list(lazy.slot_variables()) == ["w/adam_m", "w/adam_v"]


def test_low_precision_gradients_are_cast_to_float32():
  g = np.array([0.5, -0.25, 0.125], np.float32)
  results = []
  for dtype in (tf.float32, tf.float16, tf.bfloat16):
    var = tf.Variable([1.0, 2.0, 3.0])
    optimizer = optimization.AdamWeightDecay(0.1)
    optimizer.build({"w": var})
    optimizer.apply_gradients({"w": tf.cast(g, dtype)})
    assert var.dtype == tf.float32
    results.append(var.numpy())
  np.testing.assert_array_equal(results[0], results[1])
  np.testing.assert_array_equal(results[0], results[2])
  table = tf.Variable(tf.ones([4, 2]))
  optimizer = optimization.AdamWeightDecay(0.1)
  optimizer.build({"t": table})
  half = tf.IndexedSlices(tf.ones([2, 2], tf.float16), tf.constant([0, 0]), tf.constant([4, 2]))
  assert float(optimizer.apply_gradients({"t": half})) == pytest.approx(2.0)
  with pytest.raises(ValueError):
    optimization.AdamWeightDecay(0.1).build({"h": tf.Variable(tf.ones([2], tf.float16))})


def test_create_optimizer():
  adamw = optimization.create_optimizer("adamw", 5e-5, 1000, 100)
  assert isinstance(adamw, optimization.AdamWeightDecay)
  assert (adamw.weight_decay_rate, adamw.beta_1, adamw.beta_2, adamw.epsilon, adamw.clip_norm,
          adamw.lr_step_offset) == (0.01, 0.9, 0.999, 1e-6, 1.0, 1)
  assert adamw.exclude_from_weight_decay == ("LayerNorm", "layer_norm", "bias")
  lamb = optimization.create_optimizer("LAMB", 5e-5, 1000, 100, lr_step_offset=0)
  assert isinstance(lamb, optimization.Lamb) and lamb.lr_step_offset == 0
  assert not lamb.bias_correction
  with pytest.raises(ValueError, match="adamw, lamb"):
    optimization.create_optimizer("sgd", 5e-5, 1000, 100)


def test_lamb_trains_toy_problem():
  w = tf.Variable([0.1, -0.2, -0.1])
  x = tf.constant([0.4, 0.2, -0.5])
  optimizer = optimization.create_optimizer("lamb", 0.1, 200, 10)
  optimizer.build({"w": w})

  @tf.function
  def step():
    with tf.GradientTape() as tape:
      loss = tf.reduce_mean(tf.square(x - w))
    optimizer.apply_gradients({"w": tape.gradient(loss, w)})
    return loss

  first = float(step())
  for _ in range(199):
    last = float(step())
  assert last < first * 1e-3
  np.testing.assert_allclose(w.numpy(), [0.4, 0.2, -0.5], atol=1e-2)


@pytest.mark.parametrize("bias_correction", [False, True])
def test_lamb_update_rule_by_hand(bias_correction):
  rng = np.random.RandomState(5)
  p0, g = rng.randn(3, 4).astype(np.float32), rng.randn(3, 4).astype(np.float32)
  b0, gb = rng.randn(4).astype(np.float32), rng.randn(4).astype(np.float32)
  kernel, bias = tf.Variable(p0), tf.Variable(b0)
  optimizer = optimization.Lamb(0.05, weight_decay_rate=0.01, clip_norm=None,
                                bias_correction=bias_correction)
  optimizer.build({"d/kernel": kernel, "d/bias": bias})
  optimizer.global_step.assign(2)  # t = 3 for the bias correction
  optimizer.apply_gradients({"d/kernel": tf.constant(g), "d/bias": tf.constant(gb)})

  def direction(grad):
    m, v = 0.1 * grad, 0.001 * grad * grad
    if bias_correction:
      m, v = m / (1 - 0.9 ** 3), v / (1 - 0.999 ** 3)
    return m / (np.sqrt(v) + 1e-6)

  u = direction(g) + 0.01 * p0
  want = p0 - 0.05 * (np.linalg.norm(p0) / np.linalg.norm(u)) * u  # trust ratio
  np.testing.assert_allclose(kernel.numpy(), want, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(bias.numpy(), b0 - 0.05 * direction(gb), rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(optimizer.slot_variables()["d/kernel/adam_m"].numpy(), 0.1 * g,
                             rtol=1e-6)


def _recording_norms(optimizer):
  """Makes optimizer.apply_gradients also store its returned global norm in a variable."""
  norm = tf.Variable(0.0, trainable=False)
  apply = optimizer.apply_gradients

  def recording(grads, variables=None):
    value = apply(grads, variables)
    norm.assign(value)
    return value

  optimizer.apply_gradients = recording
  return norm


def test_trainer_accumulation_matches_one_big_batch_on_bert(tmp_path):
  """2 micro-batches of 2 == 1 batch of 4, including the per-occurrence clip norm
  (training.Trainer's gradient accumulation, which sums each micro-batch's gradients,
  IndexedSlices by concatenation, and divides by the count)."""
  model_a, vars_a = _classifier()
  model_b, vars_b = _classifier()
  big = optimization.create_optimizer("adamw", 1e-3, 10, 2)
  big.build(vars_a)
  accumulated = optimization.create_optimizer("adamw", 1e-3, 10, 2)
  accumulated.build(vars_b)
  acc_norm = _recording_norms(accumulated)

  features, labels = _batch()
  _, grads = _loss_and_grads(model_a, vars_a, features, labels)
  big_norm = big.apply_gradients(grads)

  def loss_fn(features, training):
    logits = model_b(features, training=False)
    return modeling.classifier_outputs(logits, features["label_ids"], 2)["loss"]

  trainer = training.Trainer(tf.distribute.get_strategy(), model_b, vars_b, accumulated, loss_fn,
                             str(tmp_path), save_checkpoints_steps=0,
                             gradient_accumulation_steps=2, summaries=False)
  micro = []
  for rows in (slice(0, 2), slice(2, 4)):
    micro_features, micro_labels = _batch(rows)
    micro.append(tf.data.Dataset.from_tensors(dict(micro_features, label_ids=micro_labels)))
  dataset = micro[0].concatenate(micro[1])
  trainer._build_train_fn()(iter(dataset), tf.constant(1))
  assert int(accumulated.global_step.numpy()) == 1
  # The fixture's step-1 norm: per-occurrence rows of both micro-batches, each / 2.
  assert float(acc_norm.numpy()) == pytest.approx(1.3873024, abs=2e-6)
  assert float(acc_norm.numpy()) == pytest.approx(float(big_norm), abs=2e-6)
  for name in vars_a:
    np.testing.assert_allclose(vars_b[name].numpy(), vars_a[name].numpy(), rtol=0, atol=1e-6,
                               err_msg=name)
  slots_a = {k: v.numpy() for k, v in big.slot_variables().items()}
  slots_b = accumulated.slot_variables()
  atol = {kind: _slot_atol(slots_a, kind) for kind in ("adam_m", "adam_v")}
  for name, ref in slots_a.items():
    np.testing.assert_allclose(slots_b[name].numpy(), ref, rtol=0, atol=atol[_kind(name)],
                               err_msg=name)


def test_trainer_accumulation_dense_under_mirrored_strategy(tmp_path):
  """Dense case inside strategy.run + tf.function: 4 micro-batches == batch of 8."""
  rng = np.random.RandomState(11)
  x = rng.randn(8, 3).astype(np.float32)
  y = rng.randn(8, 2).astype(np.float32)
  w0 = rng.randn(3, 2).astype(np.float32)
  strategy = tf.distribute.MirroredStrategy(["/cpu:0"])

  def loss_fn(w, b, xs, ys):
    return tf.reduce_mean(tf.square(tf.matmul(xs, w) + b - ys))

  with strategy.scope():
    w_acc, b_acc = tf.Variable(w0), tf.Variable(tf.zeros([2]))
    variables = {"dense/kernel": w_acc, "dense/bias": b_acc}
    optimizer = optimization.AdamWeightDecay(0.05, clip_norm=0.5)
    optimizer.build(variables)
    acc_norm = _recording_norms(optimizer)
  trainer = training.Trainer(
      strategy, None, variables, optimizer,
      lambda f, training: loss_fn(w_acc, b_acc, f["x"], f["y"]), str(tmp_path),
      save_checkpoints_steps=0, gradient_accumulation_steps=4, summaries=False)
  step = trainer._build_train_fn()
  dataset = tf.data.Dataset.from_tensor_slices({"x": x, "y": y}).batch(2).repeat()
  iterator = iter(training.distribute_dataset(strategy, dataset))

  w_big, b_big = tf.Variable(w0), tf.Variable(tf.zeros([2]))
  big = optimization.AdamWeightDecay(0.05, clip_norm=0.5)
  big.build({"dense/kernel": w_big, "dense/bias": b_big})
  for _ in range(3):
    step(iterator, tf.constant(1))
    with tf.GradientTape() as tape:
      loss = loss_fn(w_big, b_big, x, y)
    gw, gb = tape.gradient(loss, [w_big, b_big])
    big_norm = big.apply_gradients({"dense/kernel": gw, "dense/bias": gb})
    assert float(acc_norm.numpy()) == pytest.approx(float(big_norm), rel=1e-5)
    assert float(big_norm) > 0.5  # the clip is active
  np.testing.assert_allclose(w_acc.numpy(), w_big.numpy(), rtol=0, atol=1e-6)
  np.testing.assert_allclose(b_acc.numpy(), b_big.numpy(), rtol=0, atol=1e-6)
  assert int(optimizer.global_step.numpy()) == 3


def test_trainer_accumulation_kinds():
  """Micro-batch sums: IndexedSlices rows concatenated (one per occurrence), dense added;
  then divided by the count."""
  sparse = tf.IndexedSlices(tf.ones([3, 2]), tf.constant([0, 4, 0]), tf.constant([5, 2]))
  total = training._add_grads(training._add_grads(None, sparse), sparse)
  mean = training._scale_grad(total, 0.5)
  assert isinstance(mean, tf.IndexedSlices)
  np.testing.assert_array_equal(mean.indices.numpy(), [0, 4, 0, 0, 4, 0])
  np.testing.assert_allclose(mean.values.numpy(), 0.5)
  dense = training._add_grads(tf.constant([1.0, 2.0]), tf.constant([1.0, 2.0]))
  np.testing.assert_allclose(training._scale_grad(dense, 0.5).numpy(), [1.0, 2.0])
