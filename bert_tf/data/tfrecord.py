"""TFRecord files written without TensorFlow: protobuf wire pieces, CRC32C, framing.

Schema-independent: the bytes of a record are the caller's (e.g. a
`tf.train.Example` serialized by hand, bert_tf/pretraining/records.py).  What
is here:

* `varint`, `field`, `read_varint`, `read_field`: protobuf base-128 varints and
  length-delimited fields, the only wire types a tf.train.Example needs;
* `Crc32c`: TFRecord's masked CRC32C, computed with numpy for many records at
  once; `TFRecordFramer` / `TFRecordFileWriter`: the TFRecord framing and a
  writer that is byte-identical to `tf.io.TFRecordWriter`
  (tests/data/test_tfrecord.py checks both against TensorFlow);
* `AtomicOutputs`: output files written under temporary names and renamed to
  their final names only when every record is written.

TensorFlow is imported only for remote paths (`gs://...`), through tf.io.gfile.
"""

import os
import struct

import numpy as np


def is_remote(path):
  """Whether `path` names a remote file system (`gs://...`), i.e. needs tf.io.gfile."""
  return "://" in path


def open_binary(path, mode):
  """A binary file object for a local or remote path."""
  if is_remote(path):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    return tf.io.gfile.GFile(path, mode)
  return open(path, mode)


# --------------------------------------------------------------------------
# Protobuf wire format (varints and length-delimited fields).
# --------------------------------------------------------------------------


def varint(value):
  """Protobuf base-128 varint of an int64 (a negative one as 10-byte two's complement)."""
  value = int(value) & 0xFFFFFFFFFFFFFFFF
  out = bytearray()
  while value > 0x7F:
    out.append((value & 0x7F) | 0x80)
    value >>= 7
  out.append(value)
  return bytes(out)


def field(tag, payload):
  """A length-delimited protobuf field: tag byte, varint length, payload."""
  return tag + varint(len(payload)) + payload


def read_varint(data, position):
  """(value, next position) of the protobuf varint at data[position]."""
  value = shift = 0
  while True:
    byte = data[position]
    position += 1
    value |= (byte & 0x7F) << shift
    if byte < 0x80:
      return value, position
    shift += 7


def read_field(data, position):
  """(field number, payload, next position) of a length-delimited field."""
  tag, position = read_varint(data, position)
  length, position = read_varint(data, position)
  return tag >> 3, data[position:position + length], position + length


# --------------------------------------------------------------------------
# CRC32C and TFRecord framing.
# --------------------------------------------------------------------------


class Crc32c(object):
  """Masked CRC32C (Castagnoli), as TFRecord uses it, for many records at once.

  The CRC register update is linear over GF(2), so the CRC of a record equals
  Z^n(0xFFFFFFFF) ^ raw(record) ^ 0xFFFFFFFF, where raw() starts from a zero
  register (which leading zero bytes do not change) and Z^n advances a register
  over n zero bytes.  Records are therefore right-aligned with zero padding
  into one matrix and processed 4 bytes per step (slicing-by-4) for the whole
  batch with numpy.
  """

  _POLY = 0x82F63B78
  _MASK_DELTA = 0xA282EAD8

  def __init__(self):
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
      table = (table >> 1) ^ (np.uint32(self._POLY) * (table & 1))
    # _tables[k][b]: byte b followed by k zero bytes.
    self._tables = [table]
    for _ in range(3):
      self._tables.append(self._zero_byte(self._tables[-1]))
    self._init = np.array([0xFFFFFFFF], dtype=np.uint32)

  def _zero_byte(self, registers):
    """Advances registers over one zero byte."""
    return self._tables[0][registers & 0xFF] ^ (registers >> 8)

  def _grow_init(self, length):
    values = [self._init]
    last = self._init[-1:]
    for _ in range(length + 1 - self._init.shape[0]):
      last = self._zero_byte(last)
      values.append(last)
    self._init = np.concatenate(values)

  def masked(self, records):
    """The TFRecord-masked CRC32C of each byte string, as a uint32 array."""
    lengths = np.fromiter(map(len, records), dtype=np.int64, count=len(records))
    longest = int(lengths.max())
    if longest >= self._init.shape[0]:
      self._grow_init(longest)
    width = (longest + 3) // 4 * 4
    padding = b"\x00" * width
    data = b"".join([padding[:width - len(r)] + r for r in records])
    words = np.frombuffer(data, dtype="<u4").reshape(len(records), width // 4)
    words = np.ascontiguousarray(words.T)
    t0, t1, t2, t3 = self._tables
    crc = np.zeros(len(records), dtype=np.uint32)
    for column in words:
      crc ^= column
      crc = (t3[crc & 0xFF] ^ t2[(crc >> 8) & 0xFF] ^ t1[(crc >> 16) & 0xFF] ^
             t0[crc >> 24])
    crc ^= self._init[lengths] ^ np.uint32(0xFFFFFFFF)
    return ((crc >> 15) | (crc << 17)) + np.uint32(self._MASK_DELTA)


class TFRecordFramer(object):
  """TFRecord framing: uint64 length, masked CRC of it, data, masked CRC of data."""

  def __init__(self):
    self._crc = Crc32c()
    self._headers = {}

  def _header(self, length):
    """The 12 header bytes for a record of `length` bytes (memoized)."""
    header = self._headers.get(length)
    if header is None:
      size = struct.pack("<Q", length)
      header = size + struct.pack("<I", int(self._crc.masked([size])[0]))
      self._headers[length] = header
    return header

  def frame(self, records):
    """The framed bytes of each record (CRCs computed for the whole batch)."""
    if not records:
      return []
    crcs = self._crc.masked(records).astype("<u4").tobytes()
    header = self._header
    return [header(len(r)) + r + crcs[4 * i:4 * i + 4]
            for i, r in enumerate(records)]


class TFRecordFileWriter(object):
  """A TFRecord file writer (like tf.io.TFRecordWriter) without TensorFlow.

  Records are buffered and framed in batches.  Use `write(record)`, then
  `close()`; `write_framed(chunks)` appends already framed records.
  """

  BATCH = 4096

  def __init__(self, path, framer=None):
    self._file = open_binary(path, "wb")
    self._framer = framer or TFRecordFramer()
    self._pending = []

  def write(self, record):
    self._pending.append(record)
    if len(self._pending) >= self.BATCH:
      self.flush()

  def write_framed(self, framed_records):
    self.flush()
    self._file.write(b"".join(framed_records))

  def flush(self):
    records, self._pending = self._pending, []
    if records:
      self._file.write(b"".join(self._framer.frame(records)))

  def close(self):
    try:
      self.flush()
    finally:
      self._file.close()


# --------------------------------------------------------------------------
# Atomic outputs: temporary names, renamed on success.
# --------------------------------------------------------------------------


def temporary_name(path):
  return "%s.tmp-%d" % (path, os.getpid())


def _remove_quietly(path):
  try:
    if is_remote(path):
      import tensorflow as tf  # pylint: disable=g-import-not-at-top
      tf.io.gfile.remove(path)
    else:
      os.remove(path)
  except Exception:  # pylint: disable=broad-except
    pass


def _publish(temporary, final):
  if is_remote(final):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    tf.io.gfile.rename(temporary, final, overwrite=True)
  else:
    os.replace(temporary, final)


class AtomicOutputs(object):
  """Temporary names for the output files, renamed to the final names on success.

  Use as a context manager: `with AtomicOutputs(paths) as temporary_paths:`.
  If the block raises (including KeyboardInterrupt) the temporary files are
  deleted and no final file is touched.
  """

  def __init__(self, paths):
    self.paths = list(paths)
    self.temporary_paths = [temporary_name(p) for p in self.paths]

  def __enter__(self):
    return self.temporary_paths

  def __exit__(self, exc_type, exc, tb):
    if exc_type is not None:
      for path in self.temporary_paths:
        _remove_quietly(path)
      return False
    for temporary, final in zip(self.temporary_paths, self.paths):
      _publish(temporary, final)
    return False
