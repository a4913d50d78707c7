"""The pretraining input: create_pretraining_data.py's TFRecords (MLM + NSP instances) ->
checked input files -> the original run_pretraining input_fn as a tf.data pipeline."""

import tensorflow as tf
from absl import logging

from bert_tf.data import pipeline
from bert_tf.errors import PretrainingDataError  # noqa: F401  (raised here)
from bert_tf.pretraining import inputs


def expand_input_files(pattern_list):
  """A comma-separated list of files or globs -> the files, in the order given, each pattern
  expanded as the original's tf.gfile.Glob (the one globber, pretraining.inputs.glob)."""
  files = []
  for pattern in pattern_list.split(","):
    pattern = pattern.strip()
    if not pattern:
      continue
    matched = inputs.glob(pattern)
    if not matched:
      raise PretrainingDataError("%s: no input file matches this pattern (--input_file)" %
                                 pattern)
    files.extend(matched)
  if not files:
    raise PretrainingDataError("--input_file is empty")
  return files


def feature_spec(max_seq_length, max_predictions_per_seq):
  L, M = max_seq_length, max_predictions_per_seq
  return {
      "input_ids": tf.io.FixedLenFeature([L], tf.int64),
      "input_mask": tf.io.FixedLenFeature([L], tf.int64),
      "segment_ids": tf.io.FixedLenFeature([L], tf.int64),
      "masked_lm_positions": tf.io.FixedLenFeature([M], tf.int64),
      "masked_lm_ids": tf.io.FixedLenFeature([M], tf.int64),
      "masked_lm_weights": tf.io.FixedLenFeature([M], tf.float32),
      "next_sentence_labels": tf.io.FixedLenFeature([1], tf.int64),
  }


def check_input_files(files, max_seq_length, max_predictions_per_seq):
  """Fails early, naming the file, when a record does not fit the flags (or a file is empty)."""
  want = {"input_ids": max_seq_length, "masked_lm_positions": max_predictions_per_seq}
  flag = {"input_ids": "max_seq_length", "masked_lm_positions": "max_predictions_per_seq"}
  nonempty = 0
  for path in files:
    try:
      first = next(iter(tf.data.TFRecordDataset(path).take(1)), None)
    except tf.errors.OpError as e:
      raise PretrainingDataError("%s: not a readable TFRecord file (%s)" %
                                 (path, e.message.splitlines()[0]))
    if first is None:
      logging.warning("%s: no records", path)
      continue
    nonempty += 1
    example = tf.train.Example.FromString(first.numpy())
    feats = example.features.feature
    for key, n in want.items():
      if key not in feats:
        raise PretrainingDataError("%s: record 0 has no feature %r; is this a "
                                   "create_pretraining_data.py output?" % (path, key))
      have = len(feats[key].int64_list.value)
      if have != n:
        raise PretrainingDataError(
            "%s: records have %s of length %d but --%s=%d; pass the value used by "
            "create_pretraining_data.py" % (path, key, have, flag[key], n))
  if not nonempty:
    raise PretrainingDataError("%s: the input files hold no records" % ",".join(files))


def _parse(spec):
  def parse(record):
    example = tf.io.parse_single_example(record, spec)
    return {k: tf.cast(v, tf.int32) if v.dtype == tf.int64 else v for k, v in example.items()}
  return parse


def make_dataset(files, max_seq_length, max_predictions_per_seq, batch_size, is_training,
                 seed=None):
  """The original input_fn.

  Training: shuffle the file list each epoch, read up to 4 files interleaved
  (non-deterministic, like `sloppy=True`), shuffle(100), batch with
  drop_remainder.  Eval: the same files in order, repeated, batched.
  """
  spec = feature_spec(max_seq_length, max_predictions_per_seq)
  if is_training:
    d = tf.data.Dataset.from_tensor_slices(tf.constant(files))
    d = d.repeat().shuffle(buffer_size=len(files), seed=seed)
    cycle = min(4, len(files))
    d = d.interleave(tf.data.TFRecordDataset, cycle_length=cycle,
                     num_parallel_calls=min(pipeline.host_cores(), cycle),
                     deterministic=seed is not None)
    d = d.shuffle(buffer_size=100, seed=seed)
  else:
    d = tf.data.TFRecordDataset(files).repeat()
  d = d.map(_parse(spec), num_parallel_calls=pipeline.host_cores())
  d = d.batch(batch_size, drop_remainder=True)
  return pipeline.without_autotune(d)
