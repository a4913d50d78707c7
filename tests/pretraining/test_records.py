"""The fast path's tf.train.Example encoder, checked against TensorFlow's parser."""
import collections
import random

import tensorflow as tf

from bert_tf.data.tfrecord import TFRecordFramer
from bert_tf.pretraining import records
from bert_tf.pretraining import reference

CLS = 101


def instance_features(instance, max_seq_length, max_predictions_per_seq):
  """The padded features a FastInstanceMaker instance tuple stands for."""
  input_ids, len_a, len_b, positions, label_ids, is_random_next = instance
  seq, preds = max_seq_length, max_predictions_per_seq
  n, k = len(input_ids), len(positions)
  return collections.OrderedDict([
      ("input_ids", list(input_ids) + [0] * (seq - n)),
      ("input_mask", [1] * n + [0] * (seq - n)),
      ("segment_ids", [0] * (len_a + 2) + [1] * (len_b + 1) + [0] * (seq - n)),
      ("masked_lm_positions", list(positions) + [0] * (preds - k)),
      ("masked_lm_ids", list(label_ids) + [0] * (preds - k)),
      ("masked_lm_weights", [1.0] * k + [0.0] * (preds - k)),
      ("next_sentence_labels", [1 if is_random_next else 0]),
  ])


def test_example_encoder_parses_like_tf_train_example():
  rng = random.Random(3)
  framer = TFRecordFramer()
  for seq, preds in ((64, 10), (128, 20), (512, 80)):
    encoder = records.ExampleEncoder(30522, seq, preds)
    for _ in range(50):
      n = rng.randint(5, seq)
      len_a = rng.randint(1, n - 4)
      len_b = n - 3 - len_a
      ids = [CLS] + [rng.randint(0, 30521) for _ in range(n - 1)]
      k = rng.randint(1, preds)
      positions = sorted(rng.sample(range(1, n), min(k, n - 1)))
      labels = [rng.randint(0, 30521) for _ in positions]
      instance = (ids, len_a, len_b, positions, labels, rng.random() < 0.5)
      features = instance_features(instance, seq, preds)
      expected = reference.features_to_example(features)
      serialized = encoder.encode(instance)
      assert tf.train.Example.FromString(serialized) == expected
      framed = framer.frame([serialized])[0]
      assert records.decode_framed_example(framed) == features
      assert len(features["input_ids"]) == seq
      assert len(features["masked_lm_weights"]) == preds
