"""SQuAD TFRecords: the train/eval record schema, its writer and its tf.data reader.

One tf.train.Example per feature, int64 lists, written in the original
FeatureWriter's key order:

  unique_ids [1], input_ids [S], input_mask [S], segment_ids [S]
  training only: start_positions [1], end_positions [1], is_impossible [1] (0/1)

`FeatureWriter` / `write_features` write that file; `make_dataset` reads it
back as the original `input_fn_builder` (training: repeat, shuffle(100),
batch with drop_remainder; predict: file order), int64 cast to int32.
`shuffle_training_examples` is the original main()'s
`random.Random(12345).shuffle(train_examples)`, done before converting, so
run_squad's train.tf_record follows the shuffled example order.
"""

import os
import random
import uuid

import tensorflow as tf

from bert_tf.data import pipeline

TRAIN_KEYS = ("unique_ids", "input_ids", "input_mask", "segment_ids",
              "start_positions", "end_positions", "is_impossible")
EVAL_KEYS = TRAIN_KEYS[:4]
TRAIN_SHUFFLE_SEED = 12345


def shuffle_training_examples(examples, seed=TRAIN_SHUFFLE_SEED):
  """Shuffles `examples` in place (and returns it) as the original main() does."""
  random.Random(seed).shuffle(examples)
  return examples


def _int_feature(values):
  return tf.train.Feature(int64_list=tf.train.Int64List(value=list(values)))


def feature_to_example(feature, is_training):
  """The tf.train.Example of one InputFeatures, as the original FeatureWriter."""
  features = {
      "unique_ids": _int_feature([feature.unique_id]),
      "input_ids": _int_feature(feature.input_ids),
      "input_mask": _int_feature(feature.input_mask),
      "segment_ids": _int_feature(feature.segment_ids),
  }
  if is_training:
    features["start_positions"] = _int_feature([feature.start_position])
    features["end_positions"] = _int_feature([feature.end_position])
    features["is_impossible"] = _int_feature([1 if feature.is_impossible else 0])
  return tf.train.Example(features=tf.train.Features(feature=features))


class FeatureWriter(object):
  """Writes InputFeatures to a TFRecord file, as the original FeatureWriter.

  The file is written under a temporary name in the same directory and
  renamed on close(), so `filename` is never left half-written; use it as a
  context manager (an exception removes the temporary file).
  """

  def __init__(self, filename, is_training):
    self.filename = filename
    self.is_training = is_training
    self.num_features = 0
    directory = os.path.dirname(os.path.abspath(filename))
    self._tmp = os.path.join(directory, ".%s.tmp-%d-%s" % (
        os.path.basename(filename), os.getpid(), uuid.uuid4().hex[:8]))
    self._writer = tf.io.TFRecordWriter(self._tmp)

  def process_feature(self, feature):
    self.num_features += 1
    self._writer.write(feature_to_example(feature, self.is_training).SerializeToString())

  def close(self):
    if self._writer is not None:
      self._writer.close()
      self._writer = None
      os.replace(self._tmp, self.filename)

  def abort(self):
    if self._writer is not None:
      self._writer.close()
      self._writer = None
      if os.path.exists(self._tmp):
        os.remove(self._tmp)

  def __enter__(self):
    return self

  def __exit__(self, exc_type, exc, tb):
    if exc_type is None:
      self.close()
    else:
      self.abort()


def write_features(features, filename, is_training):
  """Writes an iterable of InputFeatures; returns how many were written."""
  with FeatureWriter(filename, is_training) as writer:
    for feature in features:
      writer.process_feature(feature)
  return writer.num_features


def read_records(filename):
  """Every record of a squad TFRecord file as a dict key -> list of ints (tests, tools)."""
  out = []
  for record in tf.data.TFRecordDataset(filename).as_numpy_iterator():
    example = tf.train.Example.FromString(record)
    out.append({k: list(v.int64_list.value) for k, v in example.features.feature.items()})
  return out


def feature_spec(seq_length, is_training):
  """The original input_fn's name_to_features (is_impossible is not read)."""
  spec = {
      "unique_ids": tf.io.FixedLenFeature([], tf.int64),
      "input_ids": tf.io.FixedLenFeature([seq_length], tf.int64),
      "input_mask": tf.io.FixedLenFeature([seq_length], tf.int64),
      "segment_ids": tf.io.FixedLenFeature([seq_length], tf.int64),
  }
  if is_training:
    spec["start_positions"] = tf.io.FixedLenFeature([], tf.int64)
    spec["end_positions"] = tf.io.FixedLenFeature([], tf.int64)
  return spec


def parse_batch(serialized, spec):
  """[B] serialized records -> dict of int32 tensors ([B] or [B, S])."""
  parsed = tf.io.parse_example(serialized, spec)
  return {name: tf.cast(t, tf.int32) if t.dtype == tf.int64 else t
          for name, t in parsed.items()}


def make_dataset(input_file, seq_length, batch_size, is_training,
                 drop_remainder, seed=None):
  """The original input_fn_builder's pipeline as a tf.data.Dataset.

  Training: repeat() -> shuffle(buffer_size=100, seed) -> batch with
  drop_remainder; predict: file order, batch(drop_remainder) (the original
  passes False: the last batch is partial).  Records are parsed after
  batching (same tensors as the original's per-record map).
  """
  spec = feature_spec(seq_length, is_training)
  d = tf.data.TFRecordDataset(input_file)
  if is_training:
    d = d.repeat()
    d = d.shuffle(buffer_size=100, seed=seed)
  d = d.batch(batch_size, drop_remainder=drop_remainder)
  d = d.map(lambda records: parse_batch(records, spec),
            num_parallel_calls=pipeline.host_cores(), deterministic=True)
  return pipeline.without_autotune(d)
