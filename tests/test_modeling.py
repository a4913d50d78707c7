"""Forward-pass parity with the original modeling.py / run_classifier / run_pretraining."""
import os

import numpy as np
import pytest
import tensorflow as tf

from bert_tf import checkpoints, modeling
from bert_tf.configuration import BertConfig
from conftest import FIXTURES, TINY

CKPT = os.path.join(TINY, "bert_model.ckpt")


def _config():
  return BertConfig.from_json_file(os.path.join(TINY, "bert_config.json"))


def _load(model, extra=None):
  model.build()
  restored = checkpoints.init_from_checkpoint(model.original_variables(), CKPT, log=False)
  if extra:
    for name, value in extra.items():
      model.original_variables()[name].assign(value)
  return restored


def test_encoder_outputs_match_original_all_batches_all_layers():
  model = modeling.BertModel(_config())
  _load(model)
  d = np.load(os.path.join(FIXTURES, "encoder_outputs.npz"))
  for b in range(3):
    p = "batch%d_" % b
    out = model({"input_ids": d[p + "input_ids"], "input_mask": d[p + "input_mask"],
                 "segment_ids": d[p + "segment_ids"]}, training=False)
    np.testing.assert_allclose(out["embedding_output"], d[p + "embedding_output"], atol=1e-5, rtol=0)
    assert len(out["all_encoder_layers"]) == 2
    for i in range(2):  # padded positions included
      np.testing.assert_allclose(out["all_encoder_layers"][i], d[p + "all_encoder_layers"][i],
                                 atol=1e-5, rtol=0)
    np.testing.assert_allclose(out["sequence_output"], d[p + "sequence_output"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(out["pooled_output"], d[p + "pooled_output"], atol=1e-5, rtol=0)


def test_classifier_matches_original_create_model():
  head = np.load(os.path.join(FIXTURES, "classifier_head.npz"))
  model = modeling.BertClassifier(_config(), num_labels=2)
  restored = _load(model, {"output_weights": head["output_weights"],
                           "output_bias": head["output_bias"]})
  assert "output_weights" not in restored  # head is not in a pretrained checkpoint
  c = np.load(os.path.join(FIXTURES, "classifier.npz"))
  logits = model({"input_ids": c["input_ids"], "input_mask": c["input_mask"],
                  "segment_ids": c["segment_ids"]}, training=False)
  out = modeling.classifier_outputs(logits, c["label_ids"], 2)
  np.testing.assert_allclose(logits, c["logits"], atol=1e-5, rtol=0)
  np.testing.assert_allclose(out["probabilities"], c["probabilities"], atol=1e-5, rtol=0)
  np.testing.assert_allclose(out["per_example_loss"], c["per_example_loss"], atol=1e-5, rtol=0)
  np.testing.assert_allclose(out["loss"], c["loss"], atol=1e-5, rtol=0)
  assert abs(float(out["loss"]) - 0.7569324) < 1e-5


@pytest.mark.parametrize("batch", ["a", "b"])
def test_pretraining_heads_match_original(batch):
  model = modeling.BertPretrainer(_config())
  restored = _load(model)
  assert "cls/predictions/output_bias" in restored and "cls/seq_relationship/output_weights" in restored
  d = np.load(os.path.join(FIXTURES, "pretraining.npz"))
  x = lambda k: d["%s_%s" % (batch, k)]
  out = model({"input_ids": x("input_ids"), "input_mask": x("input_mask"),
               "segment_ids": x("segment_ids"), "masked_lm_positions": x("masked_lm_positions")})
  losses = modeling.pretraining_losses(out, x("masked_lm_ids"), x("masked_lm_weights"),
                                       x("next_sentence_labels"))
  lp = out["masked_lm_log_probs"].numpy()
  if batch == "a":
    np.testing.assert_allclose(lp, x("masked_lm_log_probs"), atol=2e-5, rtol=0)
  else:  # slimmed fixture: 2048 fixed columns plus each row's label column
    cols = d["b_masked_lm_log_probs_columns"]
    np.testing.assert_allclose(lp[:, cols], d["b_masked_lm_log_probs_at_columns"], atol=2e-5, rtol=0)
    labels = x("masked_lm_ids").reshape(-1)
    np.testing.assert_allclose(lp[np.arange(len(labels)), labels],
                               d["b_masked_lm_log_probs_at_labels"], atol=2e-5, rtol=0)
  np.testing.assert_allclose(out["next_sentence_log_probs"], x("next_sentence_log_probs"), atol=2e-5)
  np.testing.assert_allclose(losses["masked_lm_example_loss"], x("masked_lm_example_loss"), atol=1e-5)
  for k in ("masked_lm_loss", "next_sentence_loss", "total_loss"):
    np.testing.assert_allclose(losses[k], x(k), atol=1e-5, rtol=0)
  np.testing.assert_allclose(out["sequence_output"], x("sequence_output"), atol=1e-5, rtol=0)


def test_variable_names_and_shapes_are_the_originals():
  cfg = _config()
  model = modeling.BertPretrainer(cfg)
  model.build()
  ours = {n: tuple(v.shape) for n, v in model.original_variables().items()}
  theirs = {n: tuple(s) for n, s in tf.train.list_variables(CKPT)}
  assert ours == theirs
  assert len(ours) == 46 and sum(int(np.prod(s)) for s in ours.values()) == 1028732


def test_gelu_is_the_tanh_form():
  x = np.linspace(-6, 6, 101).astype(np.float32)
  ref = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))
  np.testing.assert_allclose(modeling.gelu(tf.constant(x)), ref, atol=1e-6)
  assert modeling.get_activation("linear") is None and modeling.get_activation("") is None
  with pytest.raises(ValueError, match="Unsupported activation: swish"):
    modeling.get_activation("swish")


def test_shapes_like_original_modeling_test():
  cfg = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=5, num_attention_heads=4,
                   intermediate_size=37)
  model = modeling.BertModel(cfg)
  rng = np.random.RandomState(0)
  out = model({"input_ids": rng.randint(0, 99, (13, 7)), "input_mask": rng.randint(0, 2, (13, 7)),
               "segment_ids": rng.randint(0, 16, (13, 7))}, training=True)
  assert out["embedding_output"].shape == (13, 7, 32)
  assert out["sequence_output"].shape == (13, 7, 32)
  assert out["pooled_output"].shape == (13, 32)
  assert len(out["all_encoder_layers"]) == 5


def test_dropout_only_in_training():
  model = modeling.BertModel(_config())
  _load(model)
  f = modeling.dummy_inputs(2, 8)
  a = model(f, training=False)["pooled_output"]
  b = model(f, training=False)["pooled_output"]
  c = model(f, training=True)["pooled_output"]
  np.testing.assert_array_equal(a, b)
  assert np.abs(a - c).max() > 1e-4
