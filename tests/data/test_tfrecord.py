"""TFRecord framing without TensorFlow == tf.io.TFRecordWriter, byte for byte."""
import numpy as np
import tensorflow as tf

from bert_tf.data import tfrecord


def test_tfrecord_framing_is_byte_identical_to_tf_writer(tmp_path):
  rng = np.random.RandomState(0)
  records = [b"", b"x", b"123456789"] + [
      rng.bytes(int(n)) for n in rng.randint(1, 3000, size=300)]
  ours, theirs = str(tmp_path / "ours"), str(tmp_path / "theirs")
  writer = tfrecord.TFRecordFileWriter(ours)
  writer.BATCH = 37
  for r in records:
    writer.write(r)
  writer.close()
  with tf.io.TFRecordWriter(theirs) as tf_writer:
    for r in records:
      tf_writer.write(r)
  with open(ours, "rb") as a, open(theirs, "rb") as b:
    assert a.read() == b.read()
  # Known CRC32C check value, unmasked from the TFRecord masking.
  masked = int(tfrecord.Crc32c().masked([b"123456789"])[0])
  rotated = (masked - 0xA282EAD8) & 0xFFFFFFFF
  assert ((rotated << 15) | (rotated >> 17)) & 0xFFFFFFFF == 0xE3069283
