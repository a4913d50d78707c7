"""Forward-pass parity with the original modeling.py / run_classifier / run_pretraining."""
import os

import numpy as np
import pytest
import tensorflow as tf

from bert_tf import checkpoints, modeling
from bert_tf.configuration import BertConfig
from helpers import FIXTURES, TINY

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


def test_gelu_hand_written_gradient_equals_autodiff_of_the_original_formula():
  x = tf.constant(np.linspace(-8, 8, 2001), tf.float64)

  def original(t):  # the original's ops, differentiated by TF
    return t * (0.5 * (1.0 + tf.tanh(np.sqrt(2.0 / np.pi) * (t + 0.044715 * tf.pow(t, 3)))))

  with tf.GradientTape(persistent=True) as tape:
    tape.watch(x)
    ours, ref = modeling.gelu(x), original(x)
  np.testing.assert_array_equal(ours.numpy(), ref.numpy())  # forward: the same ops
  np.testing.assert_allclose(tape.gradient(ours, x), tape.gradient(ref, x), atol=1e-12, rtol=0)
  x32 = tf.cast(x, tf.float32)
  with tf.GradientTape(persistent=True) as tape:
    tape.watch(x32)
    ours, ref = modeling.gelu(x32), original(x32)
  np.testing.assert_allclose(tape.gradient(ours, x32), tape.gradient(ref, x32), atol=1e-6, rtol=0)


def test_fused_gelu_is_the_same_maths_as_one_xla_kernel():
  """gelu(fused=True) runs the same forward and hand-written gradient compiled by XLA;
  a bool tensor picks per call.  Float32 rounding differs by at most ~1e-6."""
  x = tf.constant(np.linspace(-8, 8, 4001), tf.float32)
  dy = tf.constant(np.random.RandomState(0).uniform(-2, 2, 4001), tf.float32)
  results = {}
  for fused in (False, True, tf.constant(True), tf.constant(False)):
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = modeling.gelu(x, fused=fused)
    results[str(fused)] = (y.numpy(), tape.gradient(y, x, output_gradients=dy).numpy())
  plain, xla = results["False"], results["True"]
  np.testing.assert_allclose(xla[0], plain[0], atol=2e-6, rtol=0)
  np.testing.assert_allclose(xla[1], plain[1], atol=2e-5, rtol=0)  # |dy| <= 2, gelu' <= 1.13
  for chosen, expected in ((str(tf.constant(True)), xla), (str(tf.constant(False)), plain)):
    np.testing.assert_array_equal(results[chosen][0], expected[0])
    np.testing.assert_array_equal(results[chosen][1], expected[1])


def test_fused_gelu_runs_only_on_unpacked_or_dense_batches(monkeypatch):
  """BertModel.fused_gelu: the XLA kernels run in every full layer when nothing is packed
  away (a [B,S,I] batch, or a packed batch without padding), never for a packed batch of
  arbitrary token count (XLA would compile per count); logits and gradients unchanged."""
  calls = []  # appended to when the graph really runs a kernel (a py_function)
  forward_xla, backward_xla = modeling._gelu_forward_xla, modeling._gelu_backward_xla

  def counted(kernel, name):
    def run(*args):
      with tf.control_dependencies([tf.py_function(lambda: calls.append(name) or 0, [], tf.int32)]):
        return kernel(*args)
    return run

  counting_forward = counted(forward_xla, "forward")
  counting_backward = counted(backward_xla, "backward")

  monkeypatch.setattr(modeling, "_gelu_forward_xla", counting_forward)
  monkeypatch.setattr(modeling, "_gelu_backward_xla", counting_backward)
  model = modeling.BertClassifier(_config(), 3)
  _load(model)
  rng = np.random.RandomState(5)
  padded = _padded_batch(rng, _config().vocab_size, [12, 3, 7, 12], 12)
  full = _padded_batch(rng, _config().vocab_size, [12, 12, 12, 12], 12)
  labels = tf.constant([0, 1, 2, 1])
  full_layers = _config().num_hidden_layers - 1  # the last one runs on [B,I] only

  def run(f, fused, skip):
    model.bert.fused_gelu, model.bert.skip_padding = fused, skip
    del calls[:]

    @tf.function
    def fn():
      with tf.GradientTape() as tape:
        logits = model(f, training=False)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
      return logits, [tf.convert_to_tensor(g) for g in tape.gradient(
          loss, model.trainable_variables)]
    out = fn()
    return out, (calls.count("forward"), calls.count("backward"))

  try:
    for f, skip, expected_calls in ((padded, False, (full_layers, full_layers)),
                                    (full, True, (full_layers, full_layers)),
                                    (padded, True, (0, 0))):
      (ref_logits, ref_grads), n = run(f, False, skip)
      assert n == (0, 0)
      (logits, grads), n = run(f, True, skip)
      assert n == expected_calls, (skip, n)
      np.testing.assert_allclose(logits, ref_logits, atol=1e-5, rtol=0)
      for v, g, r in zip(model.trainable_variables, grads, ref_grads):
        scale = max(float(np.abs(r).max()), 1e-3)
        np.testing.assert_allclose(g, r, atol=1e-5 * scale, rtol=0, err_msg=v.path)
  finally:
    model.bert.fused_gelu, model.bert.skip_padding = False, False


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
  z = tf.zeros([2, 8], tf.int32)
  f = {"input_ids": z, "input_mask": tf.ones_like(z), "segment_ids": z}
  a = model(f, training=False)["pooled_output"]
  b = model(f, training=False)["pooled_output"]
  c = model(f, training=True)["pooled_output"]
  np.testing.assert_array_equal(a, b)
  assert np.abs(a - c).max() > 1e-4


def _padded_batch(rng, vocab_size, lengths, seq):
  ids = np.zeros((len(lengths), seq), np.int32)
  mask = np.zeros((len(lengths), seq), np.int32)
  segments = np.zeros((len(lengths), seq), np.int32)
  for i, n in enumerate(lengths):
    ids[i, :n] = rng.randint(5, vocab_size, n)
    mask[i, :n] = 1
    segments[i, n // 2:n] = 1
  return {"input_ids": ids, "input_mask": mask, "segment_ids": segments}


def test_skip_padding_gives_the_original_real_tokens_pooled_output_and_gradients():
  """BertModel.skip_padding runs the per-token layers on the real tokens only: real
  positions of every layer, the pooled output, the loss and every weight gradient are
  the padded computation's (to float rounding); padded positions come out 0."""
  model = modeling.BertClassifier(_config(), 3)
  _load(model)
  rng = np.random.RandomState(7)
  f = _padded_batch(rng, _config().vocab_size, [12, 3, 7, 1, 12, 9], 12)
  labels = tf.constant([0, 1, 2, 1, 0, 2])
  real = f["input_mask"].astype(bool)

  def run(skip):
    model.bert.skip_padding = skip

    @tf.function
    def fn():
      with tf.GradientTape() as tape:
        out = model.bert(f, training=False)
        logits = model(f, training=False)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
      grads = tape.gradient(loss, model.trainable_variables)
      return out, loss, [tf.convert_to_tensor(g) for g in grads]
    return fn()

  try:
    (ref, ref_loss, ref_grads), (got, loss, grads) = run(False), run(True)
  finally:
    model.bert.skip_padding = False
  for a, b in zip(ref["all_encoder_layers"], got["all_encoder_layers"]):
    np.testing.assert_allclose(b.numpy()[real], a.numpy()[real], atol=1e-5, rtol=0)
    assert not b.numpy()[~real].any()
  np.testing.assert_allclose(got["pooled_output"], ref["pooled_output"], atol=1e-5, rtol=0)
  np.testing.assert_allclose(loss, ref_loss, atol=1e-6, rtol=0)
  assert len(grads) == len(ref_grads) == len(model.trainable_variables)
  for v, g, r in zip(model.trainable_variables, grads, ref_grads):
    scale = max(float(np.abs(r).max()), 1e-3)
    np.testing.assert_allclose(g, r, atol=1e-5 * scale, rtol=0, err_msg=v.path)


def test_key_span_is_the_last_real_position_rounded_up():
  mask = np.zeros((3, 40), np.int32)
  mask[0, :5] = 1
  mask[1, :17] = 1
  mask[2, [0, 3, 21]] = 1  # not a prefix: the last real position counts
  assert int(modeling.key_span(mask, 1)) == 22
  assert int(modeling.key_span(mask, 16)) == 32
  assert int(modeling.key_span(mask[:2], 16)) == 32
  assert int(modeling.key_span(mask[:1], 16)) == 16
  assert int(modeling.key_span(np.ones((2, 40), np.int32), 16)) == 40  # at most S
  assert int(modeling.key_span(np.zeros((2, 40), np.int32), 16)) == 1  # at least 1


@pytest.mark.parametrize("pooled_only", [False, True])
def test_trim_keys_gives_every_position_and_gradient_of_the_full_attention(pooled_only):
  """BertModel.trim_keys reads only the first K keys (K = last real position + 1 over
  the batch, rounded up): every layer's output at EVERY position -- padded ones too,
  which run_squad's loss reads -- the pooled output and every weight gradient of a
  loss over all positions are the untrimmed model's (to float rounding)."""
  cfg = _config()
  full = modeling.BertModel(cfg)
  trimmed = modeling.BertModel(cfg, trim_keys=True, key_bucket=8)
  for m in (full, trimmed):
    _load(m)
  f = _padded_batch(np.random.RandomState(5), cfg.vocab_size, [9, 3, 14, 1], 40)
  assert int(modeling.key_span(f["input_mask"], 8)) == 16  # 24 of 40 keys cut
  weights = tf.constant(np.random.RandomState(6).randn(4, 40, cfg.hidden_size), tf.float32)

  def run(model):
    @tf.function
    def fn():
      with tf.GradientTape() as tape:
        out = model(f, training=False, pooled_only=pooled_only)
        loss = tf.reduce_sum(out["pooled_output"])
        if not pooled_only:
          loss += tf.reduce_sum(out["sequence_output"] * weights)
      grads = tape.gradient(loss, model.trainable_variables)
      return out, [tf.convert_to_tensor(g) for g in grads]
    return fn()

  (ref, ref_grads), (got, grads) = run(full), run(trimmed)
  np.testing.assert_allclose(got["pooled_output"], ref["pooled_output"], atol=1e-5, rtol=0)
  if not pooled_only:
    for a, b in zip(ref["all_encoder_layers"], got["all_encoder_layers"]):
      np.testing.assert_allclose(b, a, atol=1e-5, rtol=0)  # padded positions included
  # the key biases' gradients are 0 in exact arithmetic (softmax ignores a shift shared by
  # every key), so they are rounding noise of the loss's scale, not of their own
  overall = max(float(np.abs(r).max()) for r in ref_grads)
  for v, g, r in zip(full.trainable_variables, grads, ref_grads):
    scale = max(float(np.abs(r).max()), 1e-2 * overall)
    np.testing.assert_allclose(g, r, atol=1e-5 * scale, rtol=0, err_msg=v.path)


def test_trim_keys_and_skip_padding_are_exclusive():
  with pytest.raises(ValueError, match="exclusive"):
    modeling.BertModel(_config(), skip_padding=True, trim_keys=True)


def test_classifier_last_layer_on_the_first_token_only_gives_the_same_logits_and_gradients():
  """BertClassifier computes its last layer at position 0 only (keys/values from every
  token): logits, loss and every weight gradient equal the full last layer's, padded or
  packed (skip_padding), and the original fixture's logits still match."""
  model = modeling.BertClassifier(_config(), 3)
  _load(model)
  assert model.last_layer_first_token_only  # the default
  f = _padded_batch(np.random.RandomState(11), _config().vocab_size, [12, 3, 7, 1, 12, 9], 12)
  f["input_mask"][3] = 0  # a TPU-style all-padding row
  labels = tf.constant([0, 1, 2, 1, 0, 2])

  def run(first_only, skip):
    model.last_layer_first_token_only, model.bert.skip_padding = first_only, skip

    @tf.function
    def fn():
      with tf.GradientTape() as tape:
        logits = model(f, training=False)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
      return logits, loss, [tf.convert_to_tensor(g) for g in tape.gradient(
          loss, model.trainable_variables)]
    return fn()

  try:
    for skip in (False, True):  # (skip_padding's all-padding row differs from the padded one)
      ref_logits, ref_loss, ref_grads = run(False, skip)
      logits, loss, grads = run(True, skip)
      np.testing.assert_allclose(logits, ref_logits, atol=1e-5, rtol=0)
      np.testing.assert_allclose(loss, ref_loss, atol=1e-6, rtol=0)
      for v, g, r in zip(model.trainable_variables, grads, ref_grads):
        scale = max(float(np.abs(r).max()), 1e-3)
        np.testing.assert_allclose(g, r, atol=1e-5 * scale, rtol=0, err_msg=v.path)
      # the last layer's query/FFN really see only B rows: their gradients are not zero
      assert all(np.abs(g).max() > 0 for g in grads)
  finally:
    model.last_layer_first_token_only, model.bert.skip_padding = True, False
  out = model.bert(f, training=False, pooled_only=True)
  assert set(out) == {"pooled_output"}


def test_skip_padding_with_an_all_padding_row_and_dropout():
  """A TPU-style padding example (mask all 0) keeps its first position; real rows are
  unaffected by it; training mode (dropout) runs and gives finite outputs."""
  model = modeling.BertModel(_config())
  _load(model)
  f = _padded_batch(np.random.RandomState(3), _config().vocab_size, [5, 8, 2], 8)
  f["input_mask"][1] = 0
  ref = model(f, training=False)["pooled_output"].numpy()
  model.skip_padding = True
  try:
    got = model(f, training=False)["pooled_output"].numpy()
    trained = model(f, training=True)["sequence_output"].numpy()
  finally:
    model.skip_padding = False
  np.testing.assert_allclose(got[[0, 2]], ref[[0, 2]], atol=1e-5, rtol=0)
  assert np.isfinite(got).all() and np.isfinite(trained).all()
  full = _padded_batch(np.random.RandomState(4), _config().vocab_size, [8, 8], 8)  # no padding
  ref = model(full, training=False)["sequence_output"].numpy()
  model.skip_padding = True
  try:
    got = model(full, training=False)["sequence_output"].numpy()
  finally:
    model.skip_padding = False
  np.testing.assert_allclose(got, ref, atol=1e-5, rtol=0)
