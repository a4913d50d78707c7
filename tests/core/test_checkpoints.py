"""Reading and writing original-format checkpoints."""
import os
import pathlib
import re
import stat
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from bert_tf import checkpoints, modeling
from bert_tf.configuration import BertConfig
from helpers import FIXTURES, TINY

CKPT = os.path.join(TINY, "bert_model.ckpt")


def _model():
  m = modeling.BertPretrainer(BertConfig.from_json_file(os.path.join(TINY, "bert_config.json")))
  m.build()
  return m


def test_load_save_roundtrip_bit_equal(tmp_path):
  m = _model()
  variables = m.original_variables()
  checkpoints.init_from_checkpoint(variables, CKPT, log=False)
  prefix = checkpoints.save_checkpoint(str(tmp_path), 0, variables)
  assert prefix == str(tmp_path / "model.ckpt-0")
  orig = {n: s for n, s in tf.train.list_variables(CKPT)}
  ours = {n: s for n, s in tf.train.list_variables(prefix)}
  assert ours.pop("global_step") == []
  assert ours == orig
  r0, r1 = tf.train.load_checkpoint(CKPT), tf.train.load_checkpoint(prefix)
  for n in orig:
    a, b = r0.get_tensor(n), r1.get_tensor(n)
    assert a.dtype == b.dtype
    np.testing.assert_array_equal(a, b)
  assert r1.get_tensor("global_step") == 0 and r1.get_tensor("global_step").dtype == np.int64


def test_assignment_semantics_and_logging(tmp_path, caplog):
  # classifier: cls/* only in checkpoint (ignored); output_* only in model (kept)
  m = modeling.BertClassifier(BertConfig.from_json_file(os.path.join(TINY, "bert_config.json")), 3)
  m.build()
  before = m.head.output_weights.numpy().copy()
  from absl import logging as absl_logging
  absl_logging.set_verbosity(absl_logging.INFO)
  restored = checkpoints.init_from_checkpoint(m.original_variables(), CKPT, log=True)
  assert len(restored) == 39 and not any(n.startswith("cls/") for n in restored)
  np.testing.assert_array_equal(m.head.output_weights.numpy(), before)


def test_shape_mismatch_names_variable_and_both_shapes():
  cfg = BertConfig.from_json_file(os.path.join(TINY, "bert_config.json"))
  cfg.intermediate_size = 48
  m = modeling.BertModel(cfg)
  m.build()
  with pytest.raises(checkpoints.CheckpointError,
                     match=r"bert/encoder/layer_0/intermediate/dense/kernel has shape \[32, 64\] in the "
                           r"checkpoint but the model .* expects \[32, 48\]"):
    checkpoints.init_from_checkpoint(m.original_variables(), CKPT, log=False)


def test_resolve_accepts_prefix_files_and_directories(tmp_path):
  assert checkpoints.resolve_checkpoint(CKPT) == CKPT
  assert checkpoints.resolve_checkpoint(CKPT + ".index") == CKPT
  assert checkpoints.resolve_checkpoint(CKPT + ".data-00000-of-00001") == CKPT
  assert checkpoints.resolve_checkpoint(CKPT + ".meta") == CKPT
  assert checkpoints.resolve_checkpoint(TINY) == CKPT  # single *.index in the directory
  with pytest.raises(checkpoints.CheckpointError, match="checkpoint not found"):
    checkpoints.resolve_checkpoint(str(tmp_path / "bert_model.ckpt"))
  with pytest.raises(checkpoints.CheckpointError, match="no `checkpoint` state file"):
    checkpoints.resolve_checkpoint(str(tmp_path))


def test_reads_real_original_training_checkpoint_with_slots():
  path = os.path.join(FIXTURES, "keras_bert_test_checkpoint", "bert_model.ckpt")
  cfg = BertConfig.from_json_file(os.path.join(FIXTURES, "keras_bert_test_checkpoint",
                                               "bert_config.json"))
  m = modeling.BertPretrainer(cfg)
  m.build()
  restored = checkpoints.init_from_checkpoint(m.original_variables(), path, log=False)
  assert restored == set(m.original_variables())  # slots and global_step ignored
  assert checkpoints.read_global_step(path) == 20


def test_keep_last_five_and_state_file(tmp_path):
  v = {"w": tf.Variable(np.ones([2], np.float32))}
  for step in range(0, 70, 10):
    checkpoints.save_checkpoint(str(tmp_path), step, v, slots={"w/adam_m": tf.Variable([0., 1.])})
  steps = sorted(checkpoints.checkpoint_steps(str(tmp_path)))
  assert steps == [20, 30, 40, 50, 60]
  assert checkpoints.latest_checkpoint(str(tmp_path)) == str(tmp_path / "model.ckpt-60")
  assert tf.train.latest_checkpoint(str(tmp_path)) == str(tmp_path / "model.ckpt-60")
  assert checkpoints.resolve_checkpoint(str(tmp_path)) == str(tmp_path / "model.ckpt-60")
  names = dict(tf.train.list_variables(str(tmp_path / "model.ckpt-60")))
  assert set(names) == {"w", "w/adam_m", "global_step"}
  assert not [f for f in os.listdir(tmp_path) if "tmp" in f]


def test_written_checkpoint_restores_in_tf1_graph(tmp_path):
  """The original code's loader (tf.compat.v1 init_from_checkpoint) reads our files."""
  m = _model()
  checkpoints.init_from_checkpoint(m.original_variables(), CKPT, log=False)
  prefix = checkpoints.save_checkpoint(str(tmp_path), 7, m.original_variables())
  script = textwrap.dedent("""
      import sys, numpy as np, tensorflow as tf
      tf1 = tf.compat.v1
      tf1.disable_v2_behavior()
      prefix = sys.argv[1]
      names = {n: s for n, s in tf.train.list_variables(prefix) if n != "global_step"}
      with tf1.Graph().as_default():
        vs = {n: tf1.get_variable(n, shape=s, initializer=tf1.zeros_initializer()) for n, s in names.items()}
        tf1.train.init_from_checkpoint(prefix, {n: n for n in names})
        with tf1.Session() as sess:
          sess.run(tf1.global_variables_initializer())
          vals = sess.run(vs)
      r = tf.train.load_checkpoint(prefix)
      assert all(np.array_equal(vals[n], r.get_tensor(n)) for n in names)
      print("OK", len(names))
  """)
  out = subprocess.run([sys.executable, "-c", script, prefix], capture_output=True, text=True,
                       env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
  assert out.returncode == 0, out.stderr[-2000:]
  assert "OK 46" in out.stdout


def test_publish_directory_replaces_only_when_complete(tmp_path):
  target = tmp_path / "export"
  with checkpoints.publish_directory(str(target)) as out:
    assert not os.listdir(out) and os.path.dirname(out) == str(tmp_path)
    (pathlib.Path(out) / "saved_model.pb").write_text("first")
  assert (target / "saved_model.pb").read_text() == "first"
  # a failing export leaves the previous one as it was, and no temporary directory
  with pytest.raises(RuntimeError, match="boom"):
    with checkpoints.publish_directory(str(target)) as out:
      (pathlib.Path(out) / "saved_model.pb").write_text("half")
      raise RuntimeError("boom")
  assert (target / "saved_model.pb").read_text() == "first"
  assert sorted(os.listdir(tmp_path)) == ["export"]
  # a complete one replaces it, files of the old export do not linger
  with checkpoints.publish_directory(str(target)) as out:
    (pathlib.Path(out) / "other.pb").write_text("second")
  assert sorted(os.listdir(target)) == [checkpoints.EXPORT_MARKER, "other.pb"]
  assert sorted(os.listdir(tmp_path)) == ["export"]
  assert stat.S_IMODE(os.stat(target).st_mode) == 0o777 & ~_umask()


def _umask():
  mask = os.umask(0)
  os.umask(mask)
  return mask


def test_publish_directory_names_what_is_in_the_way(tmp_path):
  blocker = tmp_path / "a_file"
  blocker.write_text("x")
  with pytest.raises(ValueError, match="cannot create the export directory \\(%s is a file, "
                     "not a directory\\)" % re.escape(str(blocker))):
    with checkpoints.publish_directory(str(blocker / "sub" / "export")):
      pass
  with pytest.raises(ValueError, match="exists and is not a directory"):
    with checkpoints.publish_directory(str(blocker)):
      pass


def test_publish_directory_writes_a_marker_listing_the_export(tmp_path):
  target = tmp_path / "export"
  with checkpoints.publish_directory(str(target), "tf2_encoder", "/ckpt/bert_model.ckpt") as out:
    os.makedirs(os.path.join(out, "variables"))
    (pathlib.Path(out) / "variables" / "variables.index").write_text("x")
    (pathlib.Path(out) / "saved_model.pb").write_text("x")
  record = checkpoints.read_export_marker(str(target))
  assert record["written_by"] == "bert_tf" and record["format"] == "tf2_encoder"
  assert record["source"] == "/ckpt/bert_model.ckpt" and record["created"]
  assert record["files"] == ["saved_model.pb", "variables", "variables/variables.index"]


def _publish(target, text="x", **kw):
  with checkpoints.publish_directory(str(target), **kw) as out:
    (pathlib.Path(out) / "saved_model.pb").write_text(text)


@pytest.mark.parametrize("setup,fragment", [
    # a directory with the user's files, without and with a file that looks like ours
    (lambda d: (d / "notes.txt").write_text("mine"), "holds files that are not a bert_tf "
     "export (notes.txt); exporting would delete them. Pass a new or empty --export_dir"),
    (lambda d: (d / "saved_model.pb").write_text("theirs"), "not a bert_tf export"),
    # a marker file that is not ours
    (lambda d: (d / checkpoints.EXPORT_MARKER).write_text("{}"), "not a bert_tf export"),
])
def test_publish_refuses_a_directory_that_is_not_an_export(tmp_path, setup, fragment):
  target = tmp_path / "export"
  target.mkdir()
  setup(target)
  before = {p: p.read_text() for p in target.iterdir()}
  with pytest.raises(ValueError, match=re.escape(fragment)) as e:
    _publish(target)
  assert str(target) in str(e.value) and "\n" not in str(e.value)
  assert {p: p.read_text() for p in target.iterdir()} == before
  assert sorted(os.listdir(tmp_path)) == ["export"]  # no temporary directory left


def test_publish_replaces_an_earlier_export_but_not_files_added_to_it(tmp_path):
  target = tmp_path / "export"
  _publish(target, "first")
  _publish(target, "second")  # an earlier export of ours: replaced
  assert (target / "saved_model.pb").read_text() == "second"
  (target / "variables").mkdir()
  (target / "variables" / "mine.txt").write_text("mine")
  with pytest.raises(ValueError, match=re.escape(
      "is an earlier bert_tf export but also holds files that are not part of it (variables, "
      "variables/mine.txt)")):
    _publish(target, "third")
  assert (target / "saved_model.pb").read_text() == "second"
  assert (target / "variables" / "mine.txt").read_text() == "mine"


def test_publish_into_an_empty_directory_and_through_a_symlink(tmp_path):
  target = tmp_path / "empty"
  target.mkdir()
  _publish(target)
  assert (target / "saved_model.pb").exists()
  link = tmp_path / "link"
  os.symlink(str(target), str(link))
  _publish(link, "again")  # written where the link points; the link stays a link
  assert os.path.islink(link) and (target / "saved_model.pb").read_text() == "again"


def test_publish_refuses_a_directory_holding_an_input(tmp_path):
  out = tmp_path / "run"
  out.mkdir()
  prefix = str(out / "model.ckpt-10")
  with pytest.raises(ValueError, match=re.escape(
      "%s: --export_dir is a directory holding the --init_checkpoint (%s); exporting there "
      "would delete it. Pass a new --export_dir outside it" % (out, prefix))):
    checkpoints.check_can_publish(str(out), inputs=[("--init_checkpoint", prefix)])
  with pytest.raises(ValueError, match=re.escape("--export_dir is the --output_dir")):
    checkpoints.check_can_publish(str(out) + "/", inputs=[("--output_dir", str(out))])
  with pytest.raises(ValueError, match="a directory holding the --output_dir"):
    checkpoints.check_can_publish(str(tmp_path), inputs=[("--output_dir", str(out))])
  # a new directory inside the run's directory deletes nothing
  inside = checkpoints.check_can_publish(str(out / "export"), inputs=[("--output_dir", str(out))])
  assert inside == os.path.realpath(str(out / "export"))


def test_publish_refuses_files_that_appear_while_exporting(tmp_path):
  target = tmp_path / "export"
  with pytest.raises(ValueError, match="not a bert_tf export"):
    with checkpoints.publish_directory(str(target)) as out:
      (pathlib.Path(out) / "saved_model.pb").write_text("x")
      target.mkdir()
      (target / "late.txt").write_text("mine")
  assert os.listdir(target) == ["late.txt"]
  assert sorted(os.listdir(tmp_path)) == ["export"]


def test_check_can_publish_creates_nothing(tmp_path):
  target = tmp_path / "new" / "deeper" / "export"
  assert checkpoints.check_can_publish(str(target)) == str(target)
  assert os.listdir(tmp_path) == []
  _publish(target)  # publishing makes the parents
  assert (target / "saved_model.pb").exists()
