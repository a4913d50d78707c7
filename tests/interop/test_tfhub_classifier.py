"""run_classifier_with_tfhub.py on modules bert_tf exports, and --export_dir serving models."""
import glob
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from bert_tf.configuration import BertConfig
from bert_tf.interop import tf1_hub_module
from bert_tf.interop import tf2_encoder
from helpers import FIXTURES, ROOT, TINY

pytestmark = pytest.mark.slow
MRPC = os.path.join(FIXTURES, "classifier_features", "MRPC", "data")
CKPT = os.path.join(TINY, "bert_model.ckpt")


def _run(script, args, check=True):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)
  out = subprocess.run([sys.executable, os.path.join(ROOT, script)] + args, capture_output=True,
                       text=True, env=env, cwd=ROOT)
  if check:
    assert out.returncode == 0, out.stderr[-3000:]
  return out


def _common(output_dir):
  return ["--task_name=MRPC", "--data_dir=%s" % MRPC, "--max_seq_length=32",
          "--train_batch_size=8", "--learning_rate=1e-3", "--num_train_epochs=1.0", "--seed=7",
          "--output_dir=%s" % output_dir]


def _losses(output_dir):
  values = {}
  for path in glob.glob(os.path.join(output_dir, "events.out.tfevents.*")):
    for event in tf.compat.v1.train.summary_iterator(path):
      for v in event.summary.value:
        if v.tag == "loss":
          values[event.step] = float(tf.make_ndarray(v.tensor))
  return [values[k] for k in sorted(values)]


@pytest.fixture(scope="module")
def modules(tmp_path_factory):
  d = tmp_path_factory.mktemp("hub")
  cfg = BertConfig.from_json_file(os.path.join(TINY, "bert_config.json"))
  vocab = os.path.join(TINY, "vocab.txt")
  return {"tf2": tf2_encoder.export_tf2_encoder(cfg, CKPT, vocab, True, str(d / "tf2")),
          "tf1": tf1_hub_module.export_tf1_hub_module(cfg, CKPT, vocab, True, str(d / "tf1"))}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
  out = str(tmp_path_factory.mktemp("ref"))
  _run("run_classifier.py", _common(out) + [
      "--do_train=true", "--do_predict=true", "--vocab_file=%s" % os.path.join(TINY, "vocab.txt"),
      "--bert_config_file=%s" % os.path.join(TINY, "bert_config.json"),
      "--init_checkpoint=%s" % CKPT, "--export_dir=%s" % os.path.join(out, "serving")])
  return out


@pytest.mark.parametrize("fmt", ["tf2", "tf1"])
def test_hub_module_fine_tunes_like_the_checkpoint(modules, reference, fmt, tmp_path):
  out = str(tmp_path / fmt)
  proc = _run("run_classifier_with_tfhub.py", _common(out) + [
      "--do_train=true", "--bert_hub_module_handle=%s" % modules[fmt]])
  assert "Initialised 39 variables from the TF Hub module" in proc.stderr
  ref, ours = _losses(reference), _losses(out)
  assert len(ours) == len(ref) == 5
  np.testing.assert_allclose(ours, ref, atol=1e-5)
  # the encoder's weights were trained, not frozen
  start = tf.train.load_checkpoint(CKPT).get_tensor("bert/pooler/dense/kernel")
  end = tf.train.load_checkpoint(os.path.join(out, "model.ckpt-5")).get_tensor(
      "bert/pooler/dense/kernel")
  assert np.abs(end - start).max() > 1e-4


def test_tfhub_script_rules(modules, tmp_path):
  proc = _run("run_classifier_with_tfhub.py", _common(str(tmp_path / "o")) + [
      "--do_predict=true", "--bert_hub_module_handle=%s" % modules["tf2"]], check=False)
  assert proc.returncode != 0
  assert "At least one of `do_train` or `do_eval` must be True." in proc.stderr
  proc = _run("run_classifier_with_tfhub.py", _common(str(tmp_path / "o")) + [
      "--do_train=true",
      "--bert_hub_module_handle=https://tfhub.dev/google/bert_uncased_L-12_H-768_A-12/1"],
      check=False)
  assert proc.returncode != 0 and "Traceback" not in proc.stderr
  assert "--bert_hub_module_handle=/path/to/extracted/module" in proc.stderr


def test_exported_serving_model_matches_test_results_without_bert_tf(reference):
  script = textwrap.dedent("""
      import csv, json, sys
      sys.modules["bert_tf"] = None  # any bert_tf import would fail
      import numpy as np, tensorflow as tf
      model = tf.saved_model.load(sys.argv[1])
      rows = list(csv.reader(open(sys.argv[2], encoding="utf-8"), delimiter="\\t", quotechar=None))[1:]
      a = tf.constant([r[3] for r in rows]); b = tf.constant([r[4] for r in rows])
      batch = model.signatures["serving_pair"](text_a=a, text_b=b)["probabilities"].numpy()
      single = model.signatures["serving_pair"](text_a=a[:1], text_b=b[:1])["probabilities"].numpy()
      print(json.dumps({"batch": batch.tolist(), "single": single.tolist()}))
  """)
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
  proc = subprocess.run([sys.executable, "-c", script, os.path.join(reference, "serving"),
                         os.path.join(MRPC, "test.tsv")], capture_output=True, text=True, env=env,
                        cwd="/")
  assert proc.returncode == 0, proc.stderr[-3000:]
  import json
  got = json.loads(proc.stdout.strip().splitlines()[-1])
  expected = np.loadtxt(os.path.join(reference, "test_results.tsv"))
  np.testing.assert_allclose(np.array(got["batch"]), expected, atol=1e-5)
  np.testing.assert_allclose(np.array(got["single"])[0], expected[0], atol=1e-5)
