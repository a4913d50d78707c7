"""The pre-training TFRecord schema, written by the fast path without TensorFlow.

Each record is a `tf.train.Example` with the original's seven features
(input_ids, input_mask, segment_ids, masked_lm_positions, masked_lm_ids,
masked_lm_weights, next_sentence_labels), serialized straight to protobuf wire
format by `ExampleEncoder` from a fast.py instance tuple and framed as a
TFRecord (bert_tf/data/tfrecord.py).  The workers of the tokenizer pool encode
batches while the rng pass is still running (`encode_instances`); the framed
records are then written round-robin in the final shuffled order
(`write_fast_instances`), and the first 20 are logged from the bytes, as the
reference path (reference.py) logs its instances.

tests/pretraining/test_records.py parses `ExampleEncoder`'s bytes with
`tf.train.Example` and compares them with reference.py's `features_to_example`.
"""

import collections
import struct

from absl import logging

from bert_tf.data.tfrecord import AtomicOutputs
from bert_tf.data.tfrecord import field
from bert_tf.data.tfrecord import read_field
from bert_tf.data.tfrecord import read_varint
from bert_tf.data.tfrecord import TFRecordFileWriter
from bert_tf.data.tfrecord import TFRecordFramer
from bert_tf.data.tfrecord import varint
from bert_tf.pretraining.reference import log_example
from bert_tf.pretraining.reference import NUM_LOGGED_EXAMPLES


class ExampleEncoder(object):
  """Serializes instances as tf.train.Example bytes without protobuf objects.

  Wire format: Example{features = 1: Features{feature = 1: map entries
  {key = 1, value = 2: Feature{float_list = 2 | int64_list = 3: {value = 1,
  packed}}}}}.  Entries are written in the original's feature order.  Every
  field header depends only on the payload length, so headers are memoized.
  """

  _INT64 = b"\x1a"
  _FLOAT = b"\x12"

  def __init__(self, vocab_size, max_seq_length, max_predictions_per_seq):
    self.max_seq_length = seq = max_seq_length
    self.max_predictions_per_seq = preds = max_predictions_per_seq
    self._varints = [varint(v) for v in range(max(vocab_size, seq + 1))]
    self._headers = {}
    self._zeros = b"\x00" * max(seq, preds)
    self._ones = b"\x01" * seq
    self._mask_entries = [
        self.entry("input_mask", self._INT64, b"\x01" * n + b"\x00" * (seq - n))
        for n in range(seq + 1)]
    self._segment_header = self.header("segment_ids", self._INT64, seq)
    one = struct.pack("<f", 1.0)
    self._weight_entries = [
        self.entry("masked_lm_weights", self._FLOAT,
                   one * k + b"\x00" * (4 * (preds - k)))
        for k in range(preds + 1)]
    self._nsp_entries = [self.entry("next_sentence_labels", self._INT64, b"\x00"),
                         self.entry("next_sentence_labels", self._INT64, b"\x01")]

  def header(self, name, kind, packed_length):
    """Bytes of a map entry up to its packed values (memoized by length)."""
    key = (name, kind, packed_length)
    header = self._headers.get(key)
    if header is None:
      values = varint(packed_length)
      value_list = kind + varint(1 + len(values) + packed_length) + b"\x0a" + values
      feature_length = len(value_list) + packed_length
      body = (field(b"\x0a", name.encode("ascii")) + b"\x12" +
              varint(feature_length) + value_list)
      header = b"\x0a" + varint(len(body) + packed_length) + body
      self._headers[key] = header
    return header

  def entry(self, name, kind, packed):
    return self.header(name, kind, len(packed)) + packed

  def _packed(self, values, length):
    if values and max(values) < 0x80:
      packed = bytes(values)
    else:
      packed = b"".join(map(self._varints.__getitem__, values))
    return packed + self._zeros[:length - len(values)]

  def encode(self, instance):
    """Serialized tf.train.Example of a FastInstanceMaker instance tuple."""
    input_ids, len_a, len_b, positions, label_ids, is_random_next = instance
    seq, preds = self.max_seq_length, self.max_predictions_per_seq
    n = len(input_ids)
    if n > seq:
      raise ValueError("instance of %d tokens > max_seq_length %d" % (n, seq))
    zeros = self._zeros
    ids = b"".join(map(self._varints.__getitem__, input_ids)) + zeros[:seq - n]
    masked_ids = self._packed(label_ids, preds)
    masked_positions = self._packed(positions, preds)
    body = b"".join((
        self.header("input_ids", self._INT64, len(ids)), ids,
        self._mask_entries[n],
        self._segment_header, zeros[:len_a + 2], self._ones[:len_b + 1],
        zeros[:seq - n],
        self.header("masked_lm_positions", self._INT64, len(masked_positions)),
        masked_positions,
        self.header("masked_lm_ids", self._INT64, len(masked_ids)), masked_ids,
        self._weight_entries[len(positions)],
        self._nsp_entries[1 if is_random_next else 0],
    ))
    return b"\x0a" + self._varint_of(len(body)) + body

  def _varint_of(self, value):
    if value < len(self._varints):
      return self._varints[value]
    return varint(value)


_worker_encoders = {}


def encode_and_frame(encoder_args, instances):
  """Framed TFRecord bytes of FastInstanceMaker instances (runs in workers).

  `encoder_args` = (vocab_size, max_seq_length, max_predictions_per_seq); the
  encoder and framer are built once per process.
  """
  state = _worker_encoders.get(encoder_args)
  if state is None:
    state = (ExampleEncoder(*encoder_args), TFRecordFramer())
    _worker_encoders[encoder_args] = state
  encoder, framer = state
  return framer.frame([encoder.encode(instance) for instance in instances])


def encode_instances(instances, encoder_args, pool=None, batch_size=512,
                     max_pending_batches=16):
  """The framed TFRecord bytes of every instance, in creation order.

  With a pool, batches are encoded by the workers while `instances` (an
  iterator, e.g. FastInstanceMaker.iter_instances) is still being produced;
  at most `max_pending_batches` batches wait for a worker, so instances never
  pile up in memory; only their bytes are kept.
  """
  framed = []
  pending = collections.deque()
  batch = []

  def submit(chunk):
    if pool is None:
      framed.extend(encode_and_frame(encoder_args, chunk))
      return
    pending.append(pool.apply_async(encode_and_frame, (encoder_args, chunk)))
    while len(pending) > max_pending_batches:
      framed.extend(pending.popleft().get())

  for instance in instances:
    batch.append(instance)
    if len(batch) == batch_size:
      submit(batch)
      batch = []
  if batch:
    submit(batch)
  while pending:
    framed.extend(pending.popleft().get())
  return framed


def decode_framed_example(framed):
  """The features of one framed record written by the fast path, in file order.

  Only what ExampleEncoder writes is understood (packed int64 / float lists).
  """
  record = framed[12:-4]
  _, features, _ = read_field(record, 0)
  decoded = collections.OrderedDict()
  position = 0
  while position < len(features):
    _, entry, position = read_field(features, position)
    _, name, offset = read_field(entry, 0)
    _, feature, _ = read_field(entry, offset)
    kind, value_list, _ = read_field(feature, 0)
    _, packed, _ = read_field(value_list, 0) if value_list else (0, b"", 0)
    if kind == 2:
      values = list(struct.unpack("<%df" % (len(packed) // 4), packed))
    else:
      values, cursor = [], 0
      while cursor < len(packed):
        value, cursor = read_varint(packed, cursor)
        values.append(value)
    decoded[name.decode("ascii")] = values
  return decoded


def write_framed_records(framed, order, output_files):
  """Writes framed[order[0]], framed[order[1]], ... round-robin to the files."""
  num_files = len(output_files)
  with AtomicOutputs(output_files) as temporary_files:
    writers = []
    try:
      for path in temporary_files:
        writers.append(TFRecordFileWriter(path))
      chunk = 4096 * num_files
      for start in range(0, len(order), chunk):
        part = order[start:start + chunk]
        for k, writer in enumerate(writers):
          writer.write_framed([framed[i] for i in part[k::num_files]])
    finally:
      for writer in writers:
        writer.close()


def write_fast_instances(framed, order, inv_vocab, output_files):
  """Writes the records in final order and logs the first 20 like the original."""
  write_framed_records(framed, order, output_files)
  for index in order[:NUM_LOGGED_EXAMPLES]:
    features = decode_framed_example(framed[index])
    length = sum(features["input_mask"])
    log_example([inv_vocab[t] for t in features["input_ids"][:length]],
                features)
  logging.info("Wrote %d total instances", len(order))
  return len(order)
