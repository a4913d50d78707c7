"""The classifier TFRecord schema: its writer (hand-encoded tf.train.Example) and its reader.

Each record is a tf.train.Example with, in the original's insertion order:
input_ids, input_mask, segment_ids int64[S]; label_ids int64[1] (float[1] for
regression); is_real_example int64[1].  `file_based_convert_examples_to_features`
writes them; `feature_spec` + `parse_batch` read them back (`pipeline.make_dataset`).

Records are serialized by hand: the proto is tiny (Example > Features >
map<string, Feature> > Int64List/FloatList), and building tf.train.Example
objects costs ~40 us per record, more than tokenizing it.  The encoding is
the standard proto3 wire format (packed repeated values), so any reader parses
it to the same features; tests/data/test_records.py parses random features
with tf.train.Example and compares whole files with the original's records.
"""

import os
import struct
import uuid

import tensorflow as tf

from bert_tf.data import features_fast
from bert_tf.data.examples import is_regression_label_list
from bert_tf.data.tfrecord import varint

# ----------------------------------------------------------------------------
# Writer
# ----------------------------------------------------------------------------

_VARINT_TABLE = []


def _packed_varints(values):
  """Concatenated varints of int values (packed repeated int64 payload).

  Fast path: values 0 <= v < 2**18 come from a table, and a run of trailing
  zeros (the padding) is emitted as zero bytes without a lookup per value.
  """
  if type(values) is not list:  # pylint: disable=unidiomatic-typecheck
    values = [int(v) for v in values]
  if not values:
    return b""
  try:
    cut = values.index(0)
  except ValueError:
    cut = len(values)
  tail = len(values) - cut
  if tail and values[cut:] == [0] * tail:
    values, zeros = values[:cut], b"\x00" * tail
  else:
    zeros = b""
  if not values:
    return zeros
  table = _VARINT_TABLE
  low, high = min(values), max(values)
  if low < 0 or high >= (1 << 18):
    return b"".join([varint(v) for v in values]) + zeros
  if high >= len(table):
    table.extend(varint(v) for v in range(len(table), max(1 << 15, high + 1)))
  return b"".join([table[v] for v in values]) + zeros


def _packed_flags(values):
  """_packed_varints for lists of small values such as masks (one byte each)."""
  try:
    packed = bytes(values)
    if packed.isascii():
      return packed
  except (TypeError, ValueError):
    pass
  return _packed_varints(values)


def _entry_prefix(name, list_tag, payload_length):
  """Bytes of one `Features.feature` map entry up to its packed payload.

  Entry{key: name, value: Feature{<list_tag>: List{value: packed}}}; list_tag
  is b"\x1a" (int64_list) or b"\x12" (float_list).
  """
  list_length = 1 + len(varint(payload_length)) + payload_length
  feature_length = 1 + len(varint(list_length)) + list_length
  entry_length = (1 + len(varint(len(name))) + len(name) +
                  1 + len(varint(feature_length)) + feature_length)
  return b"".join([b"\x0a", varint(entry_length), b"\x0a", varint(len(name)),
                   name, b"\x12", varint(feature_length), list_tag,
                   varint(list_length), b"\x0a", varint(payload_length)])


class ExampleEncoder(object):
  """Serializes InputFeatures to tf.train.Example bytes, as the original writes them.

  input_ids, input_mask, segment_ids: int64[S]; label_ids: int64[1] (float[1]
  for regression); is_real_example: int64[1].  The framing bytes of each
  feature depend only on its payload length and are cached.
  """

  def __init__(self, is_regression=False):
    self.is_regression = is_regression
    self._prefixes = {}

  def _prefix(self, name, list_tag, payload_length):
    key = (name, payload_length)
    prefix = self._prefixes.get(key)
    if prefix is None:
      prefix = _entry_prefix(name, list_tag, payload_length)
      self._prefixes[key] = prefix
    return prefix

  def encode(self, feature):
    """InputFeatures -> serialized tf.train.Example (bytes)."""
    if self.is_regression:
      label_tag, label = b"\x12", struct.pack("<f", float(feature.label_id))
    else:
      label_tag, label = b"\x1a", _packed_varints([int(feature.label_id)])
    ids = _packed_varints(feature.input_ids)
    mask = _packed_flags(feature.input_mask)
    segments = _packed_flags(feature.segment_ids)
    real = _packed_varints([int(feature.is_real_example)])
    body = b"".join([
        self._prefix(b"input_ids", b"\x1a", len(ids)), ids,
        self._prefix(b"input_mask", b"\x1a", len(mask)), mask,
        self._prefix(b"segment_ids", b"\x1a", len(segments)), segments,
        self._prefix(b"label_ids", label_tag, len(label)), label,
        self._prefix(b"is_real_example", b"\x1a", len(real)), real,
    ])
    return b"\x0a" + varint(len(body)) + body


def serialize_features(feature, is_regression=False):
  """The tf.train.Example bytes of one InputFeatures (see ExampleEncoder)."""
  return ExampleEncoder(is_regression).encode(feature)


def file_based_convert_examples_to_features(examples, label_list,
                                            max_seq_length, tokenizer,
                                            output_file):
  """Converts N examples and writes them as a TFRecord file of tf.train.Example.

  Same records and log as the original (features input_ids, input_mask,
  segment_ids int64[S], label_ids int64[1] or float[1] for regression,
  is_real_example int64[1]; "Writing example %d of %d" every 10000).  The
  file is written under a temporary name in the same directory and renamed
  into place, so `output_file` is either the old file or the complete new one.
  """
  is_regression = is_regression_label_list(label_list)
  directory = os.path.dirname(os.path.abspath(output_file))
  tmp = os.path.join(directory, ".%s.tmp-%d-%s" % (
      os.path.basename(output_file), os.getpid(), uuid.uuid4().hex[:8]))
  encoder = ExampleEncoder(is_regression)
  try:
    with features_fast.gc_paused(), tf.io.TFRecordWriter(tmp) as writer:
      for feature in features_fast.iter_features(examples, label_list,
                                                 max_seq_length, tokenizer):
        writer.write(encoder.encode(feature))
    os.replace(tmp, output_file)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise


# ----------------------------------------------------------------------------
# Reader
# ----------------------------------------------------------------------------


def feature_spec(seq_length, is_regression):
  """The tf.io parsing spec of one record."""
  label_dtype = tf.float32 if is_regression else tf.int64
  return {
      "input_ids": tf.io.FixedLenFeature([seq_length], tf.int64),
      "input_mask": tf.io.FixedLenFeature([seq_length], tf.int64),
      "segment_ids": tf.io.FixedLenFeature([seq_length], tf.int64),
      "label_ids": tf.io.FixedLenFeature([], label_dtype),
      "is_real_example": tf.io.FixedLenFeature([], tf.int64),
  }


def parse_batch(serialized, spec):
  """[B] serialized records -> dict of [B, S] / [B] tensors, int64 cast to int32."""
  parsed = tf.io.parse_example(serialized, spec)
  return {name: tf.cast(t, tf.int32) if t.dtype == tf.int64 else t
          for name, t in parsed.items()}
