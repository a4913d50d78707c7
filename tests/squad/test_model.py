"""The SQuAD model: logits and loss equal to the original create_model / model_fn.

The oracle's tiny SQuAD model is the tiny checkpoint's `bert/*` plus
squad_head_ckpt (`cls/squad/*`); its logits for every eval feature are
v*/model_logits.npz, for the first 8 train features (input order)
model_outputs_train.npz, and the original model_fn's TRAIN-mode loss of
those 8 (dropout 0) with 3 steps of the original train_op is train_loss.json.
"""
import os

import numpy as np
import pytest
import tensorflow as tf

from helpers import TINY
from squad_testing import read_json, squad_path

from bert_tf import checkpoints, modeling, optimization
from bert_tf.configuration import BertConfig
from bert_tf.squad import model as squad_model

CKPT = os.path.join(TINY, "bert_model.ckpt")
HEAD = squad_path("squad_head_ckpt", "model.ckpt")


def _model(dropout=None, trim_keys=False):
  config = BertConfig.from_json_file(os.path.join(TINY, "bert_config.json"))
  if dropout is not None:
    config.hidden_dropout_prob = config.attention_probs_dropout_prob = dropout
  # key_bucket 1: the fixture's features (seq 64) end at 49..64, so 16 would keep them all
  model = squad_model.BertForSquad(config, trim_keys=trim_keys, key_bucket=1)
  model.build()
  variables = model.original_variables()
  restored = checkpoints.init_from_checkpoint(variables, CKPT, log=False)
  assert "cls/squad/output_weights" not in restored  # a pre-trained checkpoint has no head
  restored |= checkpoints.init_from_checkpoint(variables, HEAD, log=False)
  assert restored == set(variables)
  return model


def _inputs(features):
  return {k: np.array([f[k] for f in features], np.int32)
          for k in ("input_ids", "input_mask", "segment_ids")}


def test_head_variables_have_the_original_names_shapes_and_init():
  model = squad_model.BertForSquad(BertConfig.from_json_file(os.path.join(TINY,
                                                                          "bert_config.json")))
  model.build()
  variables = model.original_variables()
  assert variables["cls/squad/output_weights"].shape == (2, 32)
  assert variables["cls/squad/output_bias"].shape == (2,)
  np.testing.assert_array_equal(variables["cls/squad/output_bias"].numpy(), 0.0)
  w = variables["cls/squad/output_weights"].numpy()
  assert 0 < np.abs(w).max() <= 0.04  # truncated normal, stddev 0.02
  assert len(variables) == 41  # the original graph's 39 bert/* + 2 head variables


@pytest.mark.parametrize("trim_keys", [False, True])
@pytest.mark.parametrize("version", ["v1", "v2"])
def test_eval_logits_match_original(version, trim_keys):
  """Every position's logits, padded ones included; with trim_keys (run_squad's
  --trim_padding) the attention reads fewer keys in some batches, not all."""
  model = _model(trim_keys=trim_keys)
  features = read_json(version, "features_eval.json.gz")
  want = np.load(squad_path(version, "model_logits.npz"))
  np.testing.assert_array_equal([f["unique_id"] for f in features], want["unique_ids"])
  inputs = _inputs(features)
  spans, n = [], 1 if trim_keys else 8  # the oracle's batches of 8; single rows cut more
  for start in range(0, len(features), n):
    batch = {k: v[start:start + n] for k, v in inputs.items()}
    spans.append(int(modeling.key_span(batch["input_mask"], 1)))
    out = model(batch, training=False)
    np.testing.assert_allclose(out["start_logits"], want["start_logits"][start:start + n],
                               atol=1e-5, rtol=0)
    np.testing.assert_allclose(out["end_logits"], want["end_logits"][start:start + n],
                               atol=1e-5, rtol=0)
  if trim_keys:  # batches whose last keys are all padding were cut
    assert min(spans) < inputs["input_ids"].shape[1] - 8


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_train_batch_logits_and_loss_match_original(version):
  # dropout 0 as the oracle's TRAIN-mode run, so training=True is deterministic
  model = _model(dropout=0.0)
  features = read_json(version, "features_train.json.gz")[:8]
  want = np.load(squad_path("model_outputs_train.npz"))
  info = read_json("train_loss.json")[version]
  assert [f["unique_id"] for f in features] == info["unique_ids"]
  assert [f["start_position"] for f in features] == info["start_positions"]
  assert [f["end_position"] for f in features] == info["end_positions"]
  out = model(_inputs(features), training=True)
  np.testing.assert_allclose(out["start_logits"], want[version + "_train_start_logits"],
                             atol=1e-5, rtol=0)
  np.testing.assert_allclose(out["end_logits"], want[version + "_train_end_logits"],
                             atol=1e-5, rtol=0)
  loss = squad_model.squad_loss(out, np.array(info["start_positions"]),
                                np.array(info["end_positions"]))
  assert abs(float(loss) - info["loss_before_training"]) <= 1e-5
  assert abs(float(loss) - float(want[version + "_train_loss"])) <= 1e-5


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_three_original_train_steps_give_the_original_losses(version):
  """create_optimizer(lr=1e-3, 10 steps, 1 warmup) as the oracle; the loss after each step."""
  model = _model(dropout=0.0)
  features = read_json(version, "features_train.json.gz")[:8]
  info = read_json("train_loss.json")[version]
  inputs = _inputs(features)
  starts, ends = np.array(info["start_positions"]), np.array(info["end_positions"])
  variables = model.original_variables()
  names = sorted(variables)
  optimizer = optimization.create_optimizer("adamw", 1e-3, 10, 1)
  optimizer.build(variables)
  losses = []
  for _ in range(3):
    with tf.GradientTape() as tape:
      loss = squad_model.squad_loss(model(inputs, training=True), starts, ends)
    grads = tape.gradient(loss, [variables[n] for n in names])
    optimizer.apply_gradients(dict(zip(names, grads)))
    losses.append(float(squad_model.squad_loss(model(inputs, training=True), starts, ends)))
  np.testing.assert_allclose(losses, info["loss_after_steps_1_2_3"], atol=1e-5, rtol=0)
