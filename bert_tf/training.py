"""Strategy resolution and the train / evaluate / predict loops shared by every script.

One code path for every tf.distribute strategy (default, Mirrored,
MultiWorkerMirrored, TPU): each replica computes its loss and gradients in
`strategy.run`, the gradients are summed across replicas (IndexedSlices are
concatenated, so the original's per-occurrence global norm is kept), and the
optimizer applies the original update in cross-replica context, which writes
every replica's copy of a mirrored variable.  No strategy-specific maths.

Checkpoints are `output_dir/model.ckpt-N` under the original variable names,
with `global_step` and the `<var>/adam_m`, `<var>/adam_v` slots, so a killed
run resumes exactly where the newest checkpoint left it, and the original code
can read every file we write.
"""

import json
import math
import os
import signal
import threading
import time

import numpy as np
import tensorflow as tf
from absl import logging

from bert_tf import checkpoints, modeling, restore
from bert_tf.errors import TrainingError, TrainingInterrupted  # noqa: F401  (raised here)


# --------------------------------------------------------------------------- strategy


def resolve_strategy(use_tpu=False, tpu_name=None, tpu_zone=None, gcp_project=None, master=None,
                     num_tpu_cores=8, distribution="auto"):
  """The tf.distribute strategy for this run.

  use_tpu: TPUClusterResolver(tpu_name or master, zone, project) + TPUStrategy
  over `num_tpu_cores` cores.  Otherwise, with distribution="auto":
  MultiWorkerMirroredStrategy when TF_CONFIG names several workers,
  MirroredStrategy when more than one GPU is visible, else the default
  strategy.  distribution may also force "default", "mirrored" (all local
  GPUs, or all logical CPUs when there is no GPU) or "multi_worker".
  """
  if use_tpu:
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
        tpu=tpu_name or master, zone=tpu_zone, project=gcp_project)
    tf.config.experimental_connect_to_cluster(resolver)
    topology = tf.tpu.experimental.initialize_tpu_system(resolver)
    assignment = None
    if num_tpu_cores and num_tpu_cores < topology.num_tasks * topology.num_tpus_per_task:
      assignment = tf.tpu.experimental.DeviceAssignment.build(topology,
                                                              num_replicas=num_tpu_cores)
    logging.info("Running on TPU %s with %s cores", tpu_name or master, num_tpu_cores)
    return tf.distribute.TPUStrategy(resolver, experimental_device_assignment=assignment)
  if distribution == "auto":
    workers = json.loads(os.environ.get("TF_CONFIG") or "{}").get("cluster", {}).get("worker", [])
    if len(workers) > 1:
      distribution = "multi_worker"
    elif len(tf.config.list_logical_devices("GPU")) > 1:
      distribution = "mirrored"
    else:
      distribution = "default"
  if distribution == "multi_worker":
    return tf.distribute.MultiWorkerMirroredStrategy()
  if distribution == "mirrored":
    gpus = tf.config.list_logical_devices("GPU")
    devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
    return tf.distribute.MirroredStrategy(devices=devices)
  if distribution == "default":
    return tf.distribute.get_strategy()
  raise ValueError("unknown --distribution=%s (auto, default, mirrored, multi_worker)" %
                   distribution)


def seed_everything(seed):
  """--seed: seeds Python, NumPy and TensorFlow (initialisation, dropout, shuffling) and
  turns on TensorFlow's deterministic ops, so two runs of one command give bit-identical
  checkpoints and results (on GPUs too, where some kernels are otherwise nondeterministic;
  an op without a deterministic kernel then fails naming itself instead of varying)."""
  tf.keras.utils.set_random_seed(seed)
  tf.config.experimental.enable_op_determinism()


def distribute_dataset(strategy, dataset):
  if strategy is tf.distribute.get_strategy() and not tf.distribute.has_strategy():
    return dataset
  options = tf.data.Options()
  options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
  return strategy.experimental_distribute_dataset(dataset.with_options(options))


def is_chief():
  cluster = json.loads(os.environ.get("TF_CONFIG") or "{}")
  task = cluster.get("task", {})
  return not task or (task.get("type") in ("chief", None) or
                      (task.get("type") == "worker" and task.get("index", 0) == 0 and
                       "chief" not in cluster.get("cluster", {})))


# --------------------------------------------------------------------------- progress


def format_duration(seconds):
  seconds = int(max(0, seconds))
  h, rem = divmod(seconds, 3600)
  m, s = divmod(rem, 60)
  return "%dh%02dm%02ds" % (h, m, s) if h else ("%dm%02ds" % (m, s) if m else "%ds" % s)


class Progress(object):
  """Progress lines with examples/s and ETA for people, plus the Estimator-style
  "loss = ..., step = ..." lines the original's users grep for."""

  def __init__(self, total_steps, start_step, batch_size, every_seconds=10.0, log_step_count=100):
    self.total = total_steps
    self.start_step = start_step
    self.batch_size = batch_size
    self.every = every_seconds
    self.log_step_count = log_step_count
    self.t0 = time.time()
    self.t_last = self.t0
    self.step_last = start_step

  def update(self, step, loss, lr):
    now = time.time()
    if self.log_step_count and step % self.log_step_count == 0:
      logging.info("loss = %s, step = %d", np.float32(loss), step)
    if now - self.t_last < self.every and step < self.total:
      return
    done = step - self.start_step
    rate = done / max(now - self.t0, 1e-9)
    eta = (self.total - step) / rate if rate > 0 else float("inf")
    logging.info("step %d/%d (%.1f%%)  loss %.4f  lr %.3g  %.1f examples/s  elapsed %s  ETA %s",
                 step, self.total, 100.0 * step / max(self.total, 1), loss, lr,
                 rate * self.batch_size, format_duration(now - self.t0),
                 format_duration(eta) if math.isfinite(eta) else "?")
    self.t_last, self.step_last = now, step

  def examples_per_second(self, step):
    return (step - self.start_step) * self.batch_size / max(time.time() - self.t0, 1e-9)


# --------------------------------------------------------------------------- padding


SEQUENCE_KEYS = ("input_ids", "input_mask", "segment_ids")


def trim_padding(features, bucket=16):
  """Cuts [B,S] sequence features to the batch's longest real sequence, rounded up to
  a multiple of `bucket` (so XLA sees a few shapes, not one per batch).

  Exact for BERT: padding is on the right and padded keys get a -10000 attention
  adder (exp underflows to exactly 0), so real tokens, the pooled output and every
  loss are unchanged; only work on padded positions is skipped.
  """
  if "input_mask" not in features:
    return features
  mask = features["input_mask"]
  seq_len = tf.shape(mask)[1]
  longest = tf.reduce_max(tf.reduce_sum(tf.cast(mask, tf.int32), axis=1))
  if "masked_lm_positions" in features:  # MLM positions must stay inside the kept prefix
    longest = tf.maximum(longest, tf.reduce_max(tf.cast(features["masked_lm_positions"],
                                                        tf.int32)) + 1)
  keep = modeling.bucketed_length(longest, bucket, seq_len)
  out = dict(features)
  for key in SEQUENCE_KEYS:
    if key in out:
      out[key] = out[key][:, :keep]
  return out


# --------------------------------------------------------------------------- trainer


class Interrupts(object):
  """While active (a `with` block): SIGINT and SIGTERM are remembered, not acted on.

  Ctrl-C, or the SIGTERM a preempted Cloud TPU VM or a batch scheduler sends,
  would otherwise raise KeyboardInterrupt in the middle of a step (or kill the
  process) and lose every step since the last checkpoint.  The Trainer checks
  `signum` at each step boundary, saves the step it reached and stops.  A
  second signal while it finishes the step or saves is only logged, so the save
  completes (SIGKILL still stops the process at once; the checkpoint writes are
  atomic, so even that leaves the previous checkpoint intact).  The previous
  handlers are restored on exit.  Signal handlers can only be set from the main
  thread; elsewhere this does nothing.
  """

  SIGNALS = (signal.SIGINT, signal.SIGTERM)

  def __init__(self):
    self.signum = None
    self._previous = {}

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      for signum in self.SIGNALS:
        self._previous[signum] = signal.signal(signum, self._handle)
    return self

  def __exit__(self, *exc_info):
    for signum, handler in self._previous.items():
      # None: a handler not set from Python; the default is the closest.
      signal.signal(signum, signal.SIG_DFL if handler is None else handler)
    self._previous = {}
    return False

  def _handle(self, signum, frame):
    del frame
    name = signal.Signals(signum).name
    if self.signum is None:
      self.signum = signum
      logging.warning("%s received: stopping after the current step and saving a checkpoint "
                      "of it (SIGKILL stops without saving).", name)
    else:
      logging.warning("%s received again: still finishing the step and saving; please wait.",
                      name)


INITIAL_LOSS_SCALE = 2.0 ** 15
LOSS_SCALE_PERIOD = 2000


class Trainer(object):
  """Owns the train step, checkpointing and resume for one model.

  model: a Keras model; variables: {original_name: variable} to checkpoint
  (model.original_variables()); optimizer: bert_tf.optimization optimizer with
  build / apply_gradients / slot_variables / global_step; loss_fn(features,
  training) -> scalar loss of that (per-replica) batch, the original's loss.
  """

  def __init__(self, strategy, model, variables, optimizer, loss_fn, output_dir,
               save_checkpoints_steps=1000, steps_per_loop=1, gradient_accumulation_steps=1,
               max_to_keep=5, use_xla=False, summaries=True, trim=False, loss_scaling=False):
    self.strategy = strategy
    self.model = model
    self.variables = variables
    self.optimizer = optimizer
    self.loss_fn = loss_fn
    self.output_dir = output_dir
    self.save_checkpoints_steps = save_checkpoints_steps
    self.steps_per_loop = max(1, int(steps_per_loop))
    self.accumulation = max(1, int(gradient_accumulation_steps))
    self.max_to_keep = max_to_keep
    self.use_xla = use_xla
    self.summaries = summaries and is_chief()
    self.trim = trim
    # float16 compute: dynamic loss scaling (the scale halves and the step is skipped when
    # a gradient overflows; it doubles after LOSS_SCALE_PERIOD good steps).  The variables
    # are created with the optimizer slots, in the strategy's scope.
    self.loss_scaling = loss_scaling
    self.loss_scale = None
    self._good_steps = None
    self._names = sorted(n for n, v in variables.items() if v.trainable)
    self._train_vars = [variables[n] for n in self._names]
    self._train_fn = None

  # ---- state

  def checkpoint_variables(self):
    out = dict(self.variables)
    out.update(self.optimizer.slot_variables())
    return out

  @property
  def global_step(self):
    return int(self.optimizer.global_step.numpy())

  def restore_or_initialize(self, init=None):
    """Resume from the newest checkpoint in output_dir, else load the initial weights.

    init: fn({original_name: variable}) loading the initial weights (see
    restore.checkpoint_initializer), or None.  Returns the global step.  Resuming
    restores weights, optimizer slots and global_step; init then has no effect
    (as init_checkpoint with the Estimator).
    """
    latest = restore.latest_in(self.output_dir)
    if latest:
      restore.restore(self.checkpoint_variables(), latest)
      step = checkpoints.read_global_step(latest)
      self.optimizer.global_step.assign(step)
      logging.info("Restoring parameters from %s (global_step = %d)", latest, step)
      return step
    if init is not None:
      init(self.variables)
    return 0

  def save(self):
    if not is_chief():
      return None
    prefix = checkpoints.save_checkpoint(self.output_dir, self.global_step,
                                         self.checkpoint_variables(), max_to_keep=self.max_to_keep)
    logging.info("Saving checkpoints for %d into %s.", self.global_step, prefix)
    return prefix

  # ---- the step

  def _replica_grads(self, features):
    if self.trim:
      features = trim_padding(features)
    with tf.GradientTape() as tape:
      loss = self.loss_fn(features, training=True)
      scaled = loss / tf.cast(self.strategy.num_replicas_in_sync, loss.dtype)
      target = scaled * self.loss_scale if self.loss_scaling else scaled
    grads = tape.gradient(target, self._train_vars)
    if self.loss_scaling:
      grads = [_scale_grad(g, 1.0 / self.loss_scale) for g in grads]
    return scaled, grads

  def _apply_scaled(self, grads):
    """Loss scaling: apply the step only if every gradient is finite, then adapt the scale."""
    finite = tf.math.is_finite(tf.linalg.global_norm([g for g in grads.values()
                                                      if g is not None]))

    def apply():
      self.optimizer.apply_gradients(grads)
      return tf.constant(True)

    def skip():  # the step still counts (schedule and checkpoint numbering go on)
      self.optimizer.global_step.assign_add(1)
      return tf.constant(False)

    tf.cond(finite, apply, skip)
    good = tf.where(finite, self._good_steps + 1, 0)
    grow = good >= LOSS_SCALE_PERIOD
    self.loss_scale.assign(tf.where(finite, tf.where(grow, self.loss_scale * 2.0, self.loss_scale),
                                    tf.maximum(self.loss_scale * 0.5, 1.0)))
    self._good_steps.assign(tf.where(grow, 0, good))

  def _replica_accumulated_grads(self, micro_batches):
    """This replica's loss and gradients summed over its micro-batches, so that the
    cross-replica all-reduce runs once per update, not once per micro-batch."""
    total_loss, acc = None, None
    for features in micro_batches:
      loss, grads = self._replica_grads(features)
      total_loss = loss if total_loss is None else total_loss + loss
      acc = grads if acc is None else [_add_grads(a, g) for a, g in zip(acc, grads)]
    return total_loss, acc

  def _sum_replicas(self, value):
    if value is None:
      return None
    return self.strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)

  def _build_train_fn(self):
    replica_fn = self._replica_accumulated_grads
    if self.use_xla:
      replica_fn = tf.function(replica_fn, jit_compile=True, reduce_retracing=True)
    n_acc = self.accumulation

    def one_step(iterator):
      # Each replica sums its n_acc micro-batches' gradients (unrolled, exact), then one
      # all-reduce sums the replicas.
      micro_batches = tuple(next(iterator) for _ in range(n_acc))
      loss, grads = self.strategy.run(replica_fn, args=(micro_batches,))
      total_loss = self._sum_replicas(loss)
      acc = [self._sum_replicas(g) for g in grads]
      if n_acc > 1:
        acc = [_scale_grad(g, 1.0 / n_acc) for g in acc]
        total_loss = total_loss / n_acc
      lr = self.optimizer.learning_rate()
      if self.loss_scaling:
        self._apply_scaled(dict(zip(self._names, acc)))
      else:
        self.optimizer.apply_gradients(dict(zip(self._names, acc)))
      return total_loss, lr

    @tf.function
    def train_steps(iterator, num_steps):
      losses = tf.TensorArray(tf.float32, size=num_steps)
      lrs = tf.TensorArray(tf.float32, size=num_steps)
      for i in tf.range(num_steps):
        loss, lr = one_step(iterator)
        losses = losses.write(i, tf.cast(loss, tf.float32))
        lrs = lrs.write(i, tf.cast(lr, tf.float32))
      return losses.stack(), lrs.stack()

    return train_steps

  def train(self, dataset, num_train_steps, batch_size, init=None, evaluate_every=0,
            evaluate_fn=None):
    """Trains to `num_train_steps` (resuming if output_dir has a checkpoint).

    dataset: a tf.data.Dataset of global batches (repeated for training).
    init: loads the initial weights when there is no checkpoint to resume
    (restore.checkpoint_initializer(--init_checkpoint), or a TF Hub module's).
    evaluate_fn(step) -> bool, called every `evaluate_every` steps (and at the
    end) with the current weights; True stops training early (after a save).
    Returns {"global_step", "loss" (last), "examples_per_second", "stopped_early"}.

    SIGINT / SIGTERM (Interrupts) stop training at the next step boundary (with
    steps_per_loop > 1, the end of the current loop): the step reached is saved
    as model.ckpt-N and TrainingInterrupted is raised; rerunning the same
    command resumes from it.
    """
    with Interrupts() as interrupts:
      return self._train(dataset, num_train_steps, batch_size, init, evaluate_every,
                         evaluate_fn, interrupts)

  def _raise_if_interrupted(self, interrupts, step):
    """TrainingInterrupted if a signal came (the checkpoint of `step` is saved by now)."""
    if interrupts.signum is not None:
      raise TrainingInterrupted(
          "interrupted (%s) at step %d, saved %s; rerun the same command to resume from it" %
          (signal.Signals(interrupts.signum).name, step,
           os.path.join(self.output_dir, "model.ckpt-%d" % step)), interrupts.signum)

  def _train(self, dataset, num_train_steps, batch_size, init, evaluate_every, evaluate_fn,
             interrupts):
    os.makedirs(self.output_dir, exist_ok=True)
    with self.strategy.scope():
      if not self.optimizer.built:
        self.optimizer.build({n: self.variables[n] for n in self._names})
      if self.loss_scaling and self.loss_scale is None:
        self.loss_scale = tf.Variable(INITIAL_LOSS_SCALE, trainable=False, dtype=tf.float32,
                                      name="loss_scale")
        self._good_steps = tf.Variable(0, trainable=False, dtype=tf.int32, name="good_steps")
    step = self.restore_or_initialize(init)
    if step >= num_train_steps:
      self._raise_if_interrupted(interrupts, step)
      logging.info("Skipping training since max_steps has already saved.")
      return {"global_step": step, "loss": None, "examples_per_second": None,
              "stopped_early": False}
    if step == 0 and not checkpoints.latest_checkpoint(self.output_dir):
      self.save()  # model.ckpt-0, as the Estimator's saver hook does
    if self._train_fn is None:
      self._train_fn = self._build_train_fn()
    iterator = iter(distribute_dataset(self.strategy, dataset))
    writer = tf.summary.create_file_writer(self.output_dir) if self.summaries else None
    progress = Progress(num_train_steps, step, batch_size * self.accumulation)
    last_saved = step
    last_loss = None
    stopped_early = False
    while step < num_train_steps and not stopped_early and interrupts.signum is None:
      n = min(self.steps_per_loop, num_train_steps - step)
      for every in (self.save_checkpoints_steps, evaluate_every if evaluate_fn else 0):
        if every:
          n = min(n, every - step % every)
      losses, lrs = self._train_fn(iterator, tf.constant(n, tf.int32))
      losses, lrs = losses.numpy(), lrs.numpy()
      bad = np.flatnonzero(~np.isfinite(losses))
      if bad.size:
        bad_step = step + int(bad[0]) + 1
        last = checkpoints.latest_checkpoint(self.output_dir)
        raise TrainingError(
            "loss is %s at step %d; stopping without saving this state. Last good checkpoint: %s. "
            "Likely causes: learning rate too high, or vocab.txt / bert_config.json vocab_size "
            "mismatch with the checkpoint." % (losses[bad[0]], bad_step, last or "none"))
      for i, (loss, lr) in enumerate(zip(losses, lrs)):
        s = step + i + 1
        progress.update(s, float(loss), float(lr))
        if writer is not None:
          with writer.as_default(step=s):
            tf.summary.scalar("loss", loss)
            tf.summary.scalar("learning_rate", lr)
      step += n
      last_loss = float(losses[-1])
      if writer is not None:
        with writer.as_default(step=step):
          tf.summary.scalar("examples_per_second", progress.examples_per_second(step))
          if self.loss_scaling:
            tf.summary.scalar("loss_scale", self.loss_scale.numpy())
        writer.flush()
      if self.save_checkpoints_steps and step % self.save_checkpoints_steps == 0:
        self.save()
        last_saved = step
      if interrupts.signum is not None:
        break  # no evaluation: the user wants the process to end
      if evaluate_fn and ((evaluate_every and step % evaluate_every == 0) or
                          step == num_train_steps):
        stopped_early = bool(evaluate_fn(step)) and step < num_train_steps
        if stopped_early:
          logging.info("Stopping early at step %d.", step)
    if last_saved != step:
      self.save()
    self._raise_if_interrupted(interrupts, step)
    logging.info("Loss for final step: %s.", np.float32(last_loss))
    return {"global_step": step, "loss": last_loss,
            "examples_per_second": progress.examples_per_second(step),
            "stopped_early": stopped_early}


def _add_grads(a, b):
  if a is None:
    return b
  if isinstance(a, tf.IndexedSlices) or isinstance(b, tf.IndexedSlices):
    if isinstance(a, tf.IndexedSlices) and isinstance(b, tf.IndexedSlices):
      return tf.IndexedSlices(tf.concat([a.values, b.values], 0),
                              tf.concat([a.indices, b.indices], 0), a.dense_shape)
    return tf.convert_to_tensor(a) + tf.convert_to_tensor(b)
  return a + b


def _scale_grad(g, factor):
  if g is None:
    return None
  if isinstance(g, tf.IndexedSlices):
    return tf.IndexedSlices(g.values * factor, g.indices, g.dense_shape)
  return g * factor


# --------------------------------------------------------------------------- inference


def write_key_values(path, values):
  """eval_results.txt: sorted `key = value` lines, values printed with str()."""
  tmp = path + ".tmp"
  with open(tmp, "w", encoding="utf-8") as f:
    for key in sorted(values):
      logging.info("  %s = %s", key, str(values[key]))
      f.write("%s = %s\n" % (key, str(values[key])))
  os.replace(tmp, path)
