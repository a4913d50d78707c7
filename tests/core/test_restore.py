"""bert_tf.restore: the one restore path (shape check, load, missing variables, missing heads)."""

import os

import numpy as np
import pytest
import tensorflow as tf

from helpers import TINY
from bert_tf import checkpoints, restore

CKPT = os.path.join(TINY, "bert_model.ckpt")
BIAS = "cls/predictions/output_bias"
GAMMA = "bert/embeddings/LayerNorm/gamma"


def _variables(**extra_shapes):
  shapes = dict(tf.train.list_variables(CKPT))
  names = {n: shapes[n] for n in (BIAS, GAMMA)}
  names.update(extra_shapes)
  return {n: tf.Variable(np.zeros(s, np.float32)) for n, s in names.items()}


def test_restore_loads_and_reports_missing_variables():
  reader = tf.train.load_checkpoint(CKPT)
  variables = _variables(**{"output_weights": [2, 32]})
  prefix, restored = restore.restore(variables, TINY)  # a directory resolves to its checkpoint
  assert prefix == CKPT and restored == {BIAS, GAMMA}
  np.testing.assert_array_equal(variables[BIAS].numpy(), reader.get_tensor(BIAS))
  assert not np.any(variables["output_weights"].numpy())  # partial: kept as it was
  with pytest.raises(checkpoints.CheckpointError, match=r"^%s: checkpoint lacks 1 variable\(s\) "
                     r"of the classifier \(output_weights\)$" % CKPT):
    restore.restore(variables, CKPT, "classifier")
  many = _variables(**{"x%d" % i: [1] for i in range(4)})
  with pytest.raises(checkpoints.CheckpointError, match=r"lacks 4 variable\(s\) of the model "
                     r"\(x0, x1, x2, \.\.\.\)$"):
    restore.restore(many, CKPT, "model")
  with pytest.raises(checkpoints.CheckpointError, match="^custom 4 x0$"):
    restore.restore(many, CKPT, "model", lacks=lambda p, m: "custom %d %s" % (len(m), m[0]))


def test_shape_mismatch_is_refused_before_anything_is_assigned():
  variables = _variables()
  variables[GAMMA] = tf.Variable(np.zeros([7], np.float32))
  with pytest.raises(checkpoints.CheckpointError, match="variable %s has shape" % GAMMA):
    restore.check(variables, CKPT)
  with pytest.raises(checkpoints.CheckpointError, match="variable %s has shape" % GAMMA):
    restore.restore(variables, CKPT)
  assert not np.any(variables[BIAS].numpy())
  assert restore.check(_variables(), CKPT) == CKPT


def test_heads():
  assert restore.check_masked_lm_head(CKPT) == CKPT
  with pytest.raises(restore.MissingHeadError, match="no classifier head"):
    restore.classifier_outputs_of(CKPT)


def test_resume_needs_an_exact_fit_but_init_checkpoint_stays_name_matched(tmp_path):
  d = str(tmp_path)
  assert restore.check_resume(_variables(), d) is None  # nothing to resume
  model = _variables(**{"output_weights": [2, 32]})
  extra = {"bert/encoder/layer_1/output/dense/bias": tf.Variable(np.zeros([32], np.float32))}
  slots = {GAMMA + "/adam_m": tf.Variable(np.zeros([32], np.float32))}
  checkpoints.save_checkpoint(d, 3, dict(model, **extra), slots=slots)
  prefix = os.path.join(d, "model.ckpt-3")
  assert restore.fit(model, prefix) == (["bert/encoder/layer_1/output/dense/bias"], [])
  with pytest.raises(checkpoints.CheckpointError) as e:
    restore.check_resume(model, d)  # e.g. a bert_config.json with fewer layers
  assert str(e.value) == (
      "%s: the checkpoint in --output_dir does not fit the model: 1 of its variables are not in "
      "the model (bert/encoder/layer_1/output/dense/bias); it was written with another "
      "bert_config.json or task. Pass the same settings to continue it, a new --output_dir to "
      "start over, or --allow_resume_mismatch to load only what fits" % prefix)
  assert restore.check_resume(model, d, allow_mismatch=True) == prefix
  assert restore.check_resume(dict(model, **extra), d) == prefix  # the same model fits
  more = dict(model, **extra, **{"bert/pooler/dense/bias": tf.Variable(np.zeros([32], np.float32))})
  with pytest.raises(checkpoints.CheckpointError, match=r"1 variables of the model are not in it "
                     r"\(bert/pooler/dense/bias\)"):
    restore.check_resume(more, d)
  # Variables outside the model's scopes (here: every bert/* and cls/* one) are not a misfit.
  head = {"output_weights": tf.Variable(np.zeros([2, 32], np.float32))}
  assert restore.fit(head, CKPT) == ([], ["output_weights"])
  # --init_checkpoint: names in both are loaded, the rest is left as the original did.
  _, restored = restore.restore(more, prefix)
  assert "bert/pooler/dense/bias" not in restored and GAMMA in restored


def test_classifier_outputs_of_a_checkpoint_without_head(tmp_path):
  assert restore.classifier_outputs_of(CKPT, required=False) is None
  d = str(tmp_path)
  checkpoints.save_checkpoint(d, 1, _variables(**{"output_weights": [3, 32]}))
  assert restore.classifier_outputs_of(d) == 3
