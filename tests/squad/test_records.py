"""squad TFRecords: parity with the original FeatureWriter's files, the shuffle, the reader."""
import os

import numpy as np
import pytest
import tensorflow as tf

from squad_testing import DOC_STRIDE, MAX_QUERY_LENGTH, MAX_SEQ_LENGTH, squad_path

from bert_tf.squad import features_fast
from bert_tf.squad import records
from bert_tf.squad.examples import read_squad_examples


def _fixture_records(version, name):
  """Parsed records of a gzip-compressed fixture TFRecord file."""
  out = []
  dataset = tf.data.TFRecordDataset(squad_path(version, name + ".gz"), compression_type="GZIP")
  for record in dataset.as_numpy_iterator():
    example = tf.train.Example.FromString(record)
    out.append({k: list(v.int64_list.value) for k, v in example.features.feature.items()})
  return out


def _features(version, is_training, tokenizer, shuffle=False):
  path = squad_path("input_%s_%s.json" % (version, "train" if is_training else "dev"))
  examples = read_squad_examples(path, is_training, version == "v2")
  if shuffle:
    records.shuffle_training_examples(examples)
  return features_fast.convert_examples_to_features(
      examples, tokenizer, MAX_SEQ_LENGTH, DOC_STRIDE, MAX_QUERY_LENGTH, is_training)


@pytest.mark.parametrize("version", ["v1", "v2"])
@pytest.mark.parametrize("name,is_training,shuffle", [
    ("eval.tf_record", False, False),
    ("train.tf_record", True, False),
    ("train_as_run_squad_writes.tf_record", True, True),
])
def test_records_match_original(version, name, is_training, shuffle, tokenizer, tmp_path):
  out = str(tmp_path / name)
  features = _features(version, is_training, tokenizer, shuffle)
  assert records.write_features(features, out, is_training) == len(features)
  got = records.read_records(out)
  want = _fixture_records(version, name)
  assert len(got) == len(want)
  for g, w in zip(got, want):
    assert g == w
  keys = records.TRAIN_KEYS if is_training else records.EVAL_KEYS
  assert all(set(g) == set(keys) for g in got)
  assert os.listdir(tmp_path) == [name]  # no temporary file left


def test_shuffle_is_the_originals_random_12345():
  items = list(range(30))
  import random
  want = list(items)
  random.Random(12345).shuffle(want)
  assert records.shuffle_training_examples(items) == want


def test_writer_leaves_no_file_on_error(tmp_path, tokenizer):
  features = _features("v1", True, tokenizer)[:3]
  out = str(tmp_path / "train.tf_record")
  with pytest.raises(RuntimeError):
    with records.FeatureWriter(out, True) as writer:
      writer.process_feature(features[0])
      raise RuntimeError("stop")
  assert os.listdir(tmp_path) == []


def test_dataset_as_the_original_input_fn(tmp_path, tokenizer):
  train = _features("v2", True, tokenizer)
  evals = _features("v2", False, tokenizer)
  train_file, eval_file = str(tmp_path / "train.tf_record"), str(tmp_path / "eval.tf_record")
  records.write_features(train, train_file, True)
  records.write_features(evals, eval_file, False)

  batches = list(records.make_dataset(eval_file, MAX_SEQ_LENGTH, 8, False, False))
  assert sum(int(b["unique_ids"].shape[0]) for b in batches) == len(evals) == 126
  assert int(batches[-1]["unique_ids"].shape[0]) == 126 % 8  # partial last batch kept
  assert set(batches[0]) == set(records.EVAL_KEYS)
  assert all(t.dtype == tf.int32 for t in batches[0].values())
  np.testing.assert_array_equal(
      np.concatenate([b["input_ids"].numpy() for b in batches]),
      np.array([f.input_ids for f in evals]))

  d = records.make_dataset(train_file, MAX_SEQ_LENGTH, 32, True, True, seed=1)
  seen = []
  for batch in d.take(5):  # repeats forever, full batches only
    assert batch["input_ids"].shape == (32, MAX_SEQ_LENGTH)
    assert set(batch) == {"unique_ids", "input_ids", "input_mask", "segment_ids",
                          "start_positions", "end_positions"}
    seen.extend(batch["unique_ids"].numpy().tolist())
  assert set(seen) <= {f.unique_id for f in train}
