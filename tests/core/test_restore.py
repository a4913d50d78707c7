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
