"""The classifier's tf.data input pipeline: TFRecord files -> batches of tensors."""

import tensorflow as tf

from bert_tf.data import records


def without_autotune(dataset, parallelism=2):
  """Fixed tf.data parallelism instead of autotuning.

  With autotune on, tf.data's model optimisation periodically blocks the
  pipeline for exactly 10.24 s / 20.48 s (its optimisation period doubling
  from 10 ms) on this 2-core CPU -- the "stalls for 20.5 s or 41 s" seen in
  keras-hub and our own predict runs (benchmarks/README.md).  The maps here
  are cheap vectorized parses, so two parallel calls and two prefetched
  batches keep the step fed without the tuner.
  """
  options = tf.data.Options()
  options.autotune.enabled = False
  return dataset.with_options(options).prefetch(parallelism)


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
            num_parallel_calls=2, deterministic=True)
  return without_autotune(d)
