"""--dtype=bfloat16|float16: 16-bit compute, float32 variables and checkpoints, loss scaling."""
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from bert_tf import checkpoints, modeling, optimization, training
from bert_tf.classifier import job as classifier_job
from bert_tf.runtime import RuntimeOptions
from bert_tf.configuration import BertConfig
from helpers import FIXTURES, TINY

MRPC = os.path.join(FIXTURES, "classifier_features", "MRPC", "data")


def _features(batch=4, seq=16, seed=0):
  ids = np.random.RandomState(seed).randint(1000, 2000, [batch, seq]).astype(np.int32)
  mask = np.ones_like(ids)
  mask[:, seq - 3:] = 0
  return {"input_ids": tf.constant(ids), "input_mask": tf.constant(mask),
          "segment_ids": tf.zeros_like(ids),
          "label_ids": tf.constant(np.arange(batch) % 2, tf.int32)}


def _classifier(dtype):
  config = BertConfig.from_json_file(os.path.join(TINY, "bert_config.json"))
  with modeling.dtype_policy(dtype):
    model = modeling.BertClassifier(config, 2)
    model.build()
  checkpoints.init_from_checkpoint(model.original_variables(),
                                   os.path.join(TINY, "bert_model.ckpt"), log=False)
  head = np.load(os.path.join(FIXTURES, "classifier_head.npz"))
  model.head.output_weights.assign(head["output_weights"])
  model.head.output_bias.assign(head["output_bias"])
  return model


@pytest.mark.parametrize("dtype,compute,atol", [("bfloat16", tf.bfloat16, 3e-2),
                                                 ("float16", tf.float16, 3e-3)])
def test_16_bit_compute_keeps_float32_variables_and_matches_float32(dtype, compute, atol):
  ref, model = _classifier("float32"), _classifier(dtype)
  assert keras.config.dtype_policy().name == "float32"  # the policy does not leak
  assert sorted(model.original_variables()) == sorted(ref.original_variables())
  assert {v.dtype for v in model.original_variables().values()} == {"float32"}
  features = _features()
  assert model.bert(features)["sequence_output"].dtype == compute
  logits, want = model(features), ref(features)
  assert logits.dtype == tf.float32
  np.testing.assert_allclose(logits.numpy(), want.numpy(), atol=atol)
  # gradients reach the float32 variables in float32
  with tf.GradientTape() as tape:
    loss = modeling.classifier_outputs(model(features), features["label_ids"], 2)["loss"]
  grads = tape.gradient(loss, model.trainable_variables)
  assert all(g is not None and g.dtype == tf.float32 for g in grads)


def test_unknown_dtype_is_refused():
  with pytest.raises(ValueError, match="--dtype=int8: expected one of float32, bfloat16"):
    with modeling.dtype_policy("int8"):
      pass


def _trainer(model, tmp_path, name, loss_scaling):
  optimizer = optimization.create_optimizer("adamw", 1e-3, 10 ** 6, 0)  # ~constant lr
  features = _features()

  def loss_fn(f, training):
    return modeling.classifier_outputs(model(f, training=False), f["label_ids"], 2)["loss"]

  dataset = tf.data.Dataset.from_tensors(features).repeat()
  trainer = training.Trainer(tf.distribute.get_strategy(), model, model.original_variables(),
                             optimizer, loss_fn, str(tmp_path / name), save_checkpoints_steps=0,
                             summaries=False, loss_scaling=loss_scaling)
  return trainer, dataset


def test_float16_loss_scaling_skips_overflowing_steps_then_trains(tmp_path, monkeypatch):
  # A scale of 2^40 overflows float16 gradients: those steps are skipped (weights untouched,
  # global_step still advances), the scale halves each time, and training then proceeds.
  monkeypatch.setattr(training, "INITIAL_LOSS_SCALE", 2.0 ** 40)
  monkeypatch.setattr(training, "LOSS_SCALE_PERIOD", 3)
  model = _classifier("float16")
  before = {n: v.numpy().copy() for n, v in model.original_variables().items()}
  trainer, dataset = _trainer(model, tmp_path, "fp16", loss_scaling=True)
  trainer.train(dataset, 2, 4)
  assert trainer.global_step == 2
  assert float(trainer.loss_scale.numpy()) == 2.0 ** 38
  for n, v in model.original_variables().items():
    np.testing.assert_array_equal(v.numpy(), before[n], err_msg=n)
  # Skip until the scale fits, then real updates; after 3 good steps in a row it doubles.
  trainer.loss_scale.assign(2.0 ** 10)
  result = trainer.train(dataset, 5, 4)
  assert result["global_step"] == 5 and np.isfinite(result["loss"])
  assert float(trainer.loss_scale.numpy()) == 2.0 ** 11
  assert any(not np.array_equal(v.numpy(), before[n])
             for n, v in model.original_variables().items())
  # ... and the update is the float32 update, to float16 precision.
  ref = _classifier("float32")
  ref_trainer, ref_dataset = _trainer(ref, tmp_path, "fp32", loss_scaling=False)
  ref_trainer.train(ref_dataset, 3, 4)  # the 3 steps that were not skipped
  kernel = "bert/encoder/layer_0/attention/self/query/kernel"
  moved = np.abs(ref.original_variables()[kernel].numpy() - before[kernel]).max()
  diff = np.abs(model.original_variables()[kernel].numpy() -
                ref.original_variables()[kernel].numpy()).max()
  assert moved > 1e-3 and diff < 0.05 * moved


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_run_classifier_dtype_writes_float32_checkpoint_under_original_names(tmp_path, dtype):
  def job(out, dtype):
    return classifier_job.ClassifierJob(
        data_dir=MRPC, bert_config_file=os.path.join(TINY, "bert_config.json"),
        task_name="MRPC", vocab_file=os.path.join(TINY, "vocab.txt"), output_dir=str(out),
        init_checkpoint=os.path.join(TINY, "bert_model.ckpt"), max_seq_length=32,
        do_train=True, do_eval=True, train_batch_size=8, eval_batch_size=8,
        learning_rate=1e-3, num_train_epochs=1.0, runtime=RuntimeOptions(seed=1, dtype=dtype))

  results = classifier_job.run(job(tmp_path / dtype, dtype))
  ref = classifier_job.run(job(tmp_path / "float32", "float32"))
  ckpt = checkpoints.latest_checkpoint(str(tmp_path / dtype))
  ref_ckpt = checkpoints.latest_checkpoint(str(tmp_path / "float32"))
  got = dict(checkpoints.list_variables(ckpt))
  assert got == dict(checkpoints.list_variables(ref_ckpt))  # same names and shapes
  reader = tf.train.load_checkpoint(ckpt)
  dtypes = reader.get_variable_to_dtype_map()
  assert {dtypes[n] for n in got if n != "global_step"} == {tf.float32}
  assert results["eval"]["global_step"] == ref["eval"]["global_step"] == 5
  assert abs(results["eval"]["eval_loss"] - ref["eval"]["eval_loss"]) < 0.05
