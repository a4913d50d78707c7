"""Trainer.train under SIGINT / SIGTERM (issue 17 item 7), in process on a one-variable model.

The signal is sent by the training step itself (a tf.py_function in the loss at a chosen
step), so it arrives while the main thread is inside the compiled loop, as a user's Ctrl-C
or a scheduler's SIGTERM does.  tests/e2e/test_inputs_and_interrupts.py sends them to real
run_classifier.py / run_pretraining.py processes.
"""
import os
import signal

import numpy as np
import pytest
import tensorflow as tf

from bert_tf import checkpoints, optimization, training
from bert_tf.errors import TrainingInterrupted


def _train(output_dir, num_steps, steps_per_loop=1, signal_at=(), signum=signal.SIGINT,
           save_checkpoints_steps=1000, evaluate_fn=None, evaluate_every=0):
  """Trains y = x.w for num_steps; the process gets `signum` during each step in `signal_at`."""
  w = tf.Variable(tf.zeros([2, 1]), name="w")
  opt = optimization.create_optimizer("adamw", 1e-2, num_steps, 0)
  variables = {"w": w}
  signal_at = set(signal_at)

  def send(step):
    if int(step) + 1 in signal_at:  # global_step counts the steps done before this one
      os.kill(os.getpid(), signum)
    return np.int64(0)

  def loss_fn(features, training):
    del training
    tf.py_function(send, [opt.global_step], tf.int64)
    return tf.reduce_mean((tf.matmul(features["x"], w) - features["y"]) ** 2)

  x = np.arange(16, dtype=np.float32).reshape(8, 2)
  ds = tf.data.Dataset.from_tensor_slices({"x": x, "y": x.sum(1, keepdims=True)})
  ds = ds.repeat().batch(4)
  trainer = training.Trainer(tf.distribute.get_strategy(), None, variables, opt, loss_fn,
                             output_dir, save_checkpoints_steps=save_checkpoints_steps,
                             steps_per_loop=steps_per_loop, summaries=False)
  return trainer.train(ds, num_steps, 4, evaluate_fn=evaluate_fn, evaluate_every=evaluate_every)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_saves_the_step_reached_and_raises(tmp_path, signum):
  before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
  out = str(tmp_path / "out")
  with pytest.raises(TrainingInterrupted) as e:
    _train(out, 20, signal_at=[3], signum=signum)
  name = signal.Signals(signum).name
  assert str(e.value) == ("interrupted (%s) at step 3, saved %s/model.ckpt-3; rerun the same "
                          "command to resume from it" % (name, out))
  assert e.value.exit_status == 128 + signum
  assert checkpoints.latest_checkpoint(out) == os.path.join(out, "model.ckpt-3")
  assert checkpoints.read_global_step(os.path.join(out, "model.ckpt-3")) == 3
  # The handlers of before train() are back.
  assert {s: signal.getsignal(s) for s in before} == before
  # The same call resumes from step 3 and finishes.
  result = _train(out, 20)
  assert result["global_step"] == 20
  assert checkpoints.latest_checkpoint(out) == os.path.join(out, "model.ckpt-20")


def test_steps_per_loop_stops_at_the_end_of_the_loop(tmp_path):
  out = str(tmp_path / "out")
  with pytest.raises(TrainingInterrupted, match="at step 8, saved"):
    _train(out, 20, steps_per_loop=4, signal_at=[6])
  assert checkpoints.read_global_step(checkpoints.latest_checkpoint(out)) == 8


def test_second_signal_while_stopping_is_only_logged(tmp_path):
  """Two signals in one loop (a user pressing Ctrl-C twice): one save, one error."""
  out = str(tmp_path / "out")
  with pytest.raises(TrainingInterrupted, match="at step 4, saved"):
    _train(out, 20, steps_per_loop=4, signal_at=[2, 3])
  assert [os.path.basename(p) for p in sorted(os.listdir(out)) if p.endswith(".index")] == [
      "model.ckpt-0.index", "model.ckpt-4.index"]


def test_interrupt_on_a_save_step_saves_once_and_skips_evaluation(tmp_path):
  out = str(tmp_path / "out")
  evaluated = []
  with pytest.raises(TrainingInterrupted, match="at step 5, saved"):
    _train(out, 20, signal_at=[5], save_checkpoints_steps=5,
           evaluate_fn=lambda step: evaluated.append(step), evaluate_every=5)
  assert evaluated == []
  assert checkpoints.latest_checkpoint(out) == os.path.join(out, "model.ckpt-5")
