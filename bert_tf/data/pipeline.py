"""The classifier's tf.data input pipeline: TFRecord files -> batches of tensors."""

import math
import os

import tensorflow as tf

from bert_tf.data import records


def host_cores():
  """The CPUs this process may use: the fewer of its affinity mask (taskset, cpusets)
  and its cgroup CPU quota (containers' cpu.max / cfs_quota), at least 1."""
  try:
    cores = len(os.sched_getaffinity(0))
  except (AttributeError, OSError):
    cores = os.cpu_count() or 1
  quota = _cgroup_cpu_quota()
  if quota:
    cores = min(cores, max(1, int(math.ceil(quota))))
  return max(1, cores)


def _cgroup_cpu_quota():
  """CPUs allowed by the cgroup's CPU quota (v2 cpu.max, else v1 cfs), or None."""
  try:
    with open("/sys/fs/cgroup/cpu.max") as f:
      quota, period = f.read().split()[:2]
    return None if quota == "max" else int(quota) / int(period)
  except (OSError, ValueError):
    pass
  try:
    with open("/sys/fs/cgroup/cpu/cpu.cfs_quota_us") as f:
      quota = int(f.read())
    with open("/sys/fs/cgroup/cpu/cpu.cfs_period_us") as f:
      period = int(f.read())
    return None if quota <= 0 else quota / period
  except (OSError, ValueError):
    return None


def without_autotune(dataset, buffer_batches=2):
  """The dataset with tf.data's autotuner off and `buffer_batches` batches prefetched.

  With autotune on, tf.data's model optimisation periodically blocks the
  pipeline for exactly 10.24 s / 20.48 s (its optimisation period doubling
  from 10 ms) on a 2-core CPU -- the "stalls for 20.5 s or 41 s" seen in
  keras-hub and our own predict runs (benchmarks/README.md).  Without the
  tuner, the parallelism of the maps before this is what their callers set
  (host_cores()), and two prefetched batches -- one being consumed, one ready
  -- keep the step fed: the maps are cheap vectorized parses, far faster than
  a model step.
  """
  options = tf.data.Options()
  options.autotune.enabled = False
  return dataset.with_options(options).prefetch(buffer_batches)


def make_dataset(input_file, seq_length, batch_size, is_training,
                 drop_remainder, is_regression=False, seed=None):
  """The original's file_based_input_fn_builder pipeline as a tf.data.Dataset.

  Training: repeat() -> shuffle(100, seed) -> batch(drop_remainder=True);
  eval/predict: file order, batch(drop_remainder=drop_remainder).  Records
  are parsed with FixedLenFeature (a vectorized parse after batching, which
  gives the same tensors as the original's per-record map) and prefetched.

  Returns:
    Dataset of dicts: input_ids, input_mask, segment_ids int32 [B, S];
    label_ids int32 [B] (float32 for regression); is_real_example int32 [B].
  """
  spec = records.feature_spec(seq_length, is_regression)
  d = tf.data.TFRecordDataset(input_file)
  if is_training:
    d = d.repeat()
    d = d.shuffle(buffer_size=100, seed=seed)
    drop_remainder = True
  d = d.batch(batch_size, drop_remainder=drop_remainder)
  d = d.map(lambda batch: records.parse_batch(batch, spec),
            num_parallel_calls=host_cores(), deterministic=True)
  return without_autotune(d)
