"""bert_tf.data.pipeline: make_dataset's batches, order, shapes and dtypes."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from bert_tf.data import pipeline
from bert_tf.data.records import file_based_convert_examples_to_features
from bert_tf.data.tasks import get_processor

from helpers import ROOT

FEATURES = os.path.join(ROOT, "tests", "fixtures", "classifier_features")
SEQ = 32
FEATURE_NAMES = ("input_ids", "input_mask", "segment_ids", "label_ids",
                 "is_real_example")


@pytest.fixture(scope="module")
def eval_file(tmp_path_factory, tokenizer):
  processor = get_processor("cola")
  examples = processor.get_dev_examples(os.path.join(FEATURES, "CoLA", "data"))
  path = str(tmp_path_factory.mktemp("records") / "eval.tf_record")
  file_based_convert_examples_to_features(examples, processor.get_labels(),
                                          SEQ, tokenizer, path)
  with open(os.path.join(FEATURES, "CoLA", "eval.json"), encoding="utf-8") as f:
    return path, json.load(f)


def test_make_dataset_eval_order_shapes_dtypes(eval_file):
  path, want = eval_file
  ds = pipeline.make_dataset(path, SEQ, 16, is_training=False, drop_remainder=False)
  spec = ds.element_spec
  assert set(spec) == set(FEATURE_NAMES)
  assert spec["input_ids"].shape.as_list() == [None, SEQ]
  assert spec["label_ids"].shape.as_list() == [None]
  assert all(s.dtype == tf.int32 for s in spec.values())
  batches = list(ds)
  assert [b["input_ids"].shape[0] for b in batches] == [16, 16, 8]
  for name in FEATURE_NAMES:
    got = np.concatenate([b[name].numpy() for b in batches])
    expected = np.array([w[name] for w in want])
    if name in ("label_ids", "is_real_example"):
      expected = expected[:, 0]
    np.testing.assert_array_equal(got, expected)


def test_make_dataset_drop_remainder(eval_file):
  path, _ = eval_file
  ds = pipeline.make_dataset(path, SEQ, 16, is_training=False, drop_remainder=True)
  assert ds.element_spec["input_mask"].shape.as_list() == [16, SEQ]
  assert len(list(ds)) == 2


def test_make_dataset_training_repeats_and_shuffles(eval_file):
  path, want = eval_file
  ds = pipeline.make_dataset(path, SEQ, 16, is_training=True, drop_remainder=False,
                             seed=7)
  assert ds.element_spec["segment_ids"].shape.as_list() == [16, SEQ]
  first = [b["input_ids"].numpy() for b in ds.take(20)]  # 320 rows, 8 epochs
  again = [b["input_ids"].numpy() for b in pipeline.make_dataset(
      path, SEQ, 16, is_training=True, drop_remainder=False, seed=7).take(20)]
  np.testing.assert_array_equal(np.stack(first), np.stack(again))
  rows = {tuple(r) for r in np.concatenate(first)}
  assert rows == {tuple(w["input_ids"]) for w in want}
  in_file_order = np.array([w["input_ids"] for w in want[:16]])
  assert not np.array_equal(first[0], in_file_order)


def test_host_cores_follows_the_affinity_mask_and_the_cgroup_quota(monkeypatch):
  """The pipeline's parallelism comes from the machine, not a constant: the affinity
  mask (taskset) and a container's CPU quota both bound it."""
  monkeypatch.setattr(pipeline.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4, 5})
  monkeypatch.setattr(pipeline, "_cgroup_cpu_quota", lambda: None)
  assert pipeline.host_cores() == 6
  monkeypatch.setattr(pipeline, "_cgroup_cpu_quota", lambda: 2.5)  # cpu.max "250000 100000"
  assert pipeline.host_cores() == 3
  monkeypatch.setattr(pipeline, "_cgroup_cpu_quota", lambda: 0.2)
  assert pipeline.host_cores() == 1
  monkeypatch.setattr(pipeline.os, "sched_getaffinity", lambda pid: {3})
  monkeypatch.setattr(pipeline, "_cgroup_cpu_quota", lambda: None)
  assert pipeline.host_cores() == 1


def test_cgroup_cpu_quota_reads_cpu_max(monkeypatch, tmp_path):
  files = {"/sys/fs/cgroup/cpu.max": "150000 100000\n"}
  real_open = open

  def fake_open(path, *args, **kwargs):
    if path in files:
      p = tmp_path / "f"
      p.write_text(files[path])
      return real_open(p, *args, **kwargs)
    if str(path).startswith("/sys/fs/cgroup"):
      raise OSError("no such file")
    return real_open(path, *args, **kwargs)

  monkeypatch.setattr("builtins.open", fake_open)
  assert pipeline._cgroup_cpu_quota() == pytest.approx(1.5)
  files["/sys/fs/cgroup/cpu.max"] = "max 100000\n"
  assert pipeline._cgroup_cpu_quota() is None


def test_without_autotune_turns_the_tuner_off_and_prefetches():
  d = pipeline.without_autotune(tf.data.Dataset.range(5).batch(2), buffer_batches=3)
  assert d.options().autotune.enabled is False
  assert [x.tolist() for x in d.as_numpy_iterator()] == [[0, 1], [2, 3], [4]]
