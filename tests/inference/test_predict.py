"""predict.py / bert_tf.inference.predictor: new text -> the same numbers as run_classifier.

End to end: the tiny config is fine-tuned on the 40-row MRPC fixture by
run_classifier.py (subprocess); predict.py must then give, for the test.tsv
sentence pairs, the probabilities of run_classifier's test_results.tsv (1e-6),
from the output_dir, from --init_checkpoint, and from an exported SavedModel.
"""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from helpers import FIXTURES, ROOT, TINY
from bert_tf import checkpoints, restore
from bert_tf.errors import DataError
from bert_tf.data.tasks import get_processor
from bert_tf.inference import model_dir, predictor, settings, text_input

MRPC = os.path.join(FIXTURES, "classifier_features", "MRPC", "data")
CONFIG = os.path.join(TINY, "bert_config.json")
VOCAB = os.path.join(TINY, "vocab.txt")
PREDICT = os.path.join(ROOT, "predict.py")
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)


def _popen(args, stdin_text=None):
  proc = subprocess.Popen([sys.executable] + args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=ENV, cwd=ROOT)
  proc.stdin_text = stdin_text or ""
  return proc


def _finish(proc, check=True, timeout=600):
  out, err = proc.communicate(proc.stdin_text, timeout=timeout)
  if check:
    assert proc.returncode == 0, err[-3000:]
  return proc.returncode, out, err


def _run(args, stdin_text=None, check=True):
  return _finish(_popen(args, stdin_text), check=check)


def _test_pairs():
  """(text_a, text_b) of MRPC test.tsv, as run_classifier reads them."""
  examples = get_processor("MRPC").get_test_examples(MRPC)
  return [(e.text_a, e.text_b) for e in examples]


def _stdin_of(pairs):
  return "".join("%s\t%s\n" % p for p in pairs)


def _test_results(out):
  return np.loadtxt(os.path.join(out, "test_results.tsv"), dtype=np.float64, ndmin=2)


def _model_flags():
  return ["--bert_config_file=%s" % CONFIG, "--vocab_file=%s" % VOCAB, "--max_seq_length=32"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  """run_classifier.py fine-tunes MRPC (5 steps) and writes test_results.tsv; then an
  export of the result starts in the background (it takes a minute) for the SavedModel test."""
  out = str(tmp_path_factory.mktemp("mrpc_output"))
  _run([os.path.join(ROOT, "run_classifier.py"), "--task_name=MRPC", "--data_dir=%s" % MRPC,
        "--init_checkpoint=%s" % os.path.join(TINY, "bert_model.ckpt"), "--do_train=true",
        "--do_predict=true", "--train_batch_size=8", "--num_train_epochs=1",
        "--learning_rate=1e-3", "--seed=3", "--output_dir=%s" % out] + _model_flags())
  export_dir = str(tmp_path_factory.mktemp("serving") / "mrpc")
  exporter = _popen([os.path.join(ROOT, "export_model.py"), "--format=classifier",
                     "--label_list=0,1", "--init_checkpoint=%s" % out,
                     "--export_dir=%s" % export_dir] + _model_flags())
  yield {"output_dir": out, "exporter": exporter, "export_dir": export_dir}
  if exporter.poll() is None:
    exporter.kill()
  exporter.communicate()


# --------------------------------------------------------------------------- end to end


@pytest.mark.slow
def test_stdin_pairs_give_test_results_probabilities(trained):
  out = trained["output_dir"]
  pairs = _test_pairs()
  _, stdout, _ = _run([PREDICT, "--task_name=MRPC", "--output_dir=%s" % out] + _model_flags(),
                      stdin_text=_stdin_of(pairs))
  rows = [line.split("\t") for line in stdout.splitlines()]
  assert len(rows) == 40 and all(len(r) == 5 for r in rows)
  probs = np.array([[float(r[1]), float(r[2])] for r in rows])
  expected = _test_results(out)
  np.testing.assert_allclose(probs, expected, atol=1e-6, rtol=0)
  assert [r[0] for r in rows] == [["0", "1"][i] for i in np.argmax(probs, axis=1)]
  assert [(r[3], r[4]) for r in rows] == pairs
  assert np.ptp(expected[:, 1]) > 1e-3  # the fine-tuned model tells the pairs apart


@pytest.mark.slow
def test_init_checkpoint_input_file_json_and_uneven_batches(trained, tmp_path):
  out = trained["output_dir"]
  pairs = _test_pairs()
  path = tmp_path / "pairs.txt"
  path.write_text(_stdin_of(pairs).replace("\n", "\r\n", 3) + "\n\n", encoding="utf-8")
  _, stdout, _ = _run([PREDICT, "--task_name=mrpc", "--input_file=%s" % path,
                       "--init_checkpoint=%s" % os.path.join(out, "model.ckpt-5"),
                       "--batch_size=7", "--output_format=json"] + _model_flags())
  objects = [json.loads(line) for line in stdout.splitlines()]
  assert len(objects) == 40
  assert set(objects[0]) == {"text_a", "text_b", "label", "probabilities"}
  np.testing.assert_allclose([o["probabilities"] for o in objects], _test_results(out),
                             atol=1e-6, rtol=0)
  assert [(o["text_a"], o["text_b"]) for o in objects] == pairs


@pytest.mark.slow
def test_cli_errors_are_one_line(trained, tmp_path):
  out = trained["output_dir"]
  empty_dir = tmp_path / "not_trained"
  empty_dir.mkdir()
  base = [PREDICT, "--task_name=MRPC"] + _model_flags()
  cases = [
      (base + ["--output_dir=%s" % empty_dir], "a\tb\n",
       "%s: no checkpoint (model.ckpt-N) in this directory" % empty_dir),
      (base + ["--output_dir=%s" % out], "\n  \n", "<stdin>: empty input"),
      (base + ["--output_dir=%s" % out], "fine\tok\nx\ty\tz\n",
       "<stdin> line 2: 2 tabs; a line is one text, or two texts"),
  ]
  procs = [_popen(args, stdin_text) for args, stdin_text, _ in cases]
  for proc, (_, _, message) in zip(procs, cases):
    code, stdout, stderr = _finish(proc, check=False)
    last = stderr.strip().splitlines()[-1]
    assert code == 1 and stdout == ""
    assert last.startswith("predict.py: error: ") and message in last, stderr[-2000:]
    assert "Traceback" not in stderr


@pytest.mark.slow
def test_features_are_run_classifiers_records(trained):
  """The features of the test pairs are byte-for-byte predict.tf_record's."""
  out = trained["output_dir"]
  model = predictor.load_classifier(output_dir=out, bert_config_file=CONFIG, vocab_file=VOCAB,
                                    task_name="MRPC", max_seq_length=32)
  ours = model.features(text_input.as_inputs(_test_pairs()))
  records = list(tf.data.TFRecordDataset(os.path.join(out, "predict.tf_record")).as_numpy_iterator())
  assert len(records) == 40
  for i, record in enumerate(records):
    example = tf.train.Example.FromString(record)
    for key in ("input_ids", "input_mask", "segment_ids"):
      assert list(example.features.feature[key].int64_list.value) == list(ours[key][i]), (i, key)


@pytest.mark.slow
def test_run_config_json_supplies_the_settings(trained, tmp_path):
  """With run_config.json (and a relative bert_config path) only --output_dir is needed."""
  out = trained["output_dir"]
  new = tmp_path / "copied_output"
  new.mkdir()
  for name in os.listdir(out):
    if name.startswith("model.ckpt-5") or name == "checkpoint":
      shutil.copy(os.path.join(out, name), new / name)
  shutil.copy(CONFIG, new / "bert_config.json")
  (new / model_dir.RUN_CONFIG_FILE).write_text(json.dumps({
      "task_name": "MRPC", "bert_config_file": "bert_config.json",
      "vocab_file": os.path.abspath(VOCAB), "do_lower_case": True, "max_seq_length": 32,
      "label_list": ["0", "1"], "not_a_key_we_read": 1}))
  model = predictor.load_classifier(output_dir=str(new))
  assert model.max_seq_length == 32 and model.label_list == ["0", "1"]
  predictions = model.predict(_test_pairs(), batch_size=16)
  np.testing.assert_allclose(predictions.values, _test_results(out), atol=1e-6, rtol=0)
  # an explicit flag wins over the file
  with pytest.raises(settings.InputError, match="only trained up to sequence length 64"):
    predictor.load_classifier(output_dir=str(new), max_seq_length=65)


@pytest.mark.slow
def test_saved_model_dir_gives_the_same_probabilities(trained):
  code, _, stderr = _finish(trained["exporter"], check=False)
  assert code == 0, stderr[-3000:]
  pairs = _test_pairs()
  singles = [a for a, _ in pairs[:5]]
  stdin_text = _stdin_of(pairs) + "".join(s + "\n" for s in singles)
  _, stdout, _ = _run([PREDICT, "--saved_model_dir=%s" % trained["export_dir"],
                       "--output_format=json", "--batch_size=16"], stdin_text=stdin_text)
  objects = [json.loads(line) for line in stdout.splitlines()]
  assert len(objects) == 45
  probs = np.array([o["probabilities"] for o in objects])
  np.testing.assert_allclose(probs[:40], _test_results(trained["output_dir"]), atol=1e-6, rtol=0)
  assert [o["label"] for o in objects] == [["0", "1"][i] for i in np.argmax(probs, axis=1)]
  # single texts through the checkpoint path agree too
  model = predictor.load_classifier(output_dir=trained["output_dir"], bert_config_file=CONFIG,
                                    vocab_file=VOCAB, task_name="MRPC", max_seq_length=32)
  np.testing.assert_allclose(probs[40:], model.predict(singles).values, atol=1e-6, rtol=0)


# --------------------------------------------------------------------------- library


def test_parse_lines():
  got = text_input.parse_lines(["one text\n", "a\tb\r\n", "\n", "   \n", "c\t\n", "last"], "f.txt")
  assert got == [text_input.TextInput("one text", None, 1), text_input.TextInput("a", "b", 2),
                 text_input.TextInput("c", None, 5), text_input.TextInput("last", None, 6)]
  with pytest.raises(settings.InputError) as e:
    text_input.parse_lines(["ok\n", "a\tb\tc\td\n"], "f.txt")
  assert str(e.value) == ("f.txt line 2: 3 tabs; a line is one text, or two texts (a sentence "
                          "pair) separated by one tab")
  for empty in ([], [""], ["\n", " \t \n"]):
    with pytest.raises(settings.InputError, match=r"^f.txt: empty input, no text to process$"):
      text_input.parse_lines(empty, "f.txt")


def test_read_input_lines_and_as_inputs(tmp_path):
  import io
  assert text_input.read_input_lines(None, io.StringIO("x\ty\n")) == [text_input.TextInput("x", "y", 1)]

  class BinaryStdin(object):
    def __init__(self, data):
      self.buffer = io.BytesIO(data)

  assert text_input.read_input_lines(None, BinaryStdin(b"caf\xc3\xa9\r\n")) == [
      text_input.TextInput("caf\u00e9", None, 1)]
  with pytest.raises(settings.InputError, match="^<stdin>: not UTF-8 text \\(byte 3\\)$"):
    text_input.read_input_lines(None, BinaryStdin(b"ok\n\xff"))
  with pytest.raises(settings.InputError, match="missing.txt: input file not found"):
    text_input.read_input_lines(str(tmp_path / "missing.txt"))
  (tmp_path / "bad.txt").write_bytes(b"ok\n\xff\n")
  with pytest.raises(settings.InputError, match="bad.txt: not UTF-8 text"):
    text_input.read_input_lines(str(tmp_path / "bad.txt"))
  assert text_input.as_inputs([("a", "b"), ("c", "")]) == [text_input.TextInput("a", "b", 1),
                                                          text_input.TextInput("c", None, 2)]
  assert text_input.as_inputs("single") == [text_input.TextInput("single", None, 1)]


def test_find_checkpoint_errors(tmp_path):
  with pytest.raises(settings.InputError, match="pass --output_dir .* or --init_checkpoint"):
    model_dir.find_checkpoint(None, None)
  with pytest.raises(settings.InputError, match="nope: --output_dir does not exist"):
    model_dir.find_checkpoint(str(tmp_path / "nope"))
  with pytest.raises(settings.InputError, match="no checkpoint \\(model.ckpt-N\\)"):
    model_dir.find_checkpoint(str(tmp_path))
  with pytest.raises(checkpoints.CheckpointError, match="checkpoint not found"):
    model_dir.find_checkpoint(str(tmp_path), str(tmp_path / "model.ckpt-9"))


def test_resolve_labels(tmp_path):
  assert model_dir.resolve_labels(2, task_name="MRPC") == ["0", "1"]
  assert model_dir.resolve_labels(3, task_name="mnli") == ["contradiction", "entailment",
                                                           "neutral"]
  assert model_dir.resolve_labels(1, task_name="sts-b") == [None]
  assert model_dir.resolve_labels(1, task_name="tsv") == [None]  # tsv --regression
  assert model_dir.resolve_labels(2, labels="neg, pos") == ["neg", "pos"]
  (tmp_path / "label_list.txt").write_text("spam\nham\neggs\n")
  assert model_dir.resolve_labels(3, task_name="tsv", label_dir=str(tmp_path)) == [
      "spam", "ham", "eggs"]
  with pytest.raises(DataError, match="no label list"):
    model_dir.resolve_labels(3, task_name="csv", label_dir=str(tmp_path / "elsewhere"))
  with pytest.raises(settings.InputError, match="has 3 outputs but the label list"):
    model_dir.resolve_labels(3, task_name="MRPC")
  with pytest.raises(settings.InputError, match="regression task"):
    model_dir.resolve_labels(2, task_name="STS-B")
  with pytest.raises(settings.InputError, match="pass --task_name"):
    model_dir.resolve_labels(2)
  with pytest.raises(ValueError, match="Task not found: nosuch"):
    model_dir.resolve_labels(2, task_name="nosuch")


def test_read_run_config(tmp_path):
  assert model_dir.read_run_config(str(tmp_path)) == {}
  (tmp_path / "run_config.json").write_text('{"vocab_file": "v.txt", "max_seq_length": 64}')
  assert model_dir.read_run_config(str(tmp_path)) == {
      "vocab_file": str(tmp_path / "v.txt"), "max_seq_length": 64}
  (tmp_path / "run_config.json").write_text("{not json")
  with pytest.raises(settings.InputError, match="run_config.json: unreadable"):
    model_dir.read_run_config(str(tmp_path))


@pytest.mark.parametrize("text, message", [
    ("{not json", r"x\.json: unreadable \(Expecting property name"),
    ("", r"x\.json: unreadable \(Expecting value"),
    ("[1, 2]", r"x\.json: expected a JSON object"),
    (b"\xff\xfe{}", r"x\.json: unreadable \('utf-8' codec"),
])
def test_read_json_object_errors_are_one_line_naming_the_file(tmp_path, text, message):
  """run_config.json and the SQuAD export's settings file are read by this one function."""
  path = tmp_path / "x.json"
  assert model_dir.read_json_object(str(path)) == {}  # no file: no settings
  if isinstance(text, bytes):
    path.write_bytes(text)
  else:
    path.write_text(text)
  with pytest.raises(settings.InputError, match=message) as e:
    model_dir.read_json_object(str(path))
  assert "\n" not in str(e.value)


def test_pretrained_checkpoint_has_no_classifier_head():
  with pytest.raises(restore.MissingHeadError, match="no classifier head"):
    restore.classifier_outputs_of(os.path.join(TINY, "bert_model.ckpt"))


def test_regression_model_and_formats(tmp_path):
  """A one-output checkpoint is regression: one value per text, in both formats."""
  reader = tf.train.load_checkpoint(os.path.join(TINY, "bert_model.ckpt"))
  values = {n: reader.get_tensor(n) for n, _ in tf.train.list_variables(
      os.path.join(TINY, "bert_model.ckpt")) if n.startswith("bert/")}
  rng = np.random.RandomState(0)
  values["output_weights"] = rng.normal(0, 0.02, [1, 32]).astype(np.float32)
  values["output_bias"] = np.array([0.5], np.float32)
  checkpoints.save_checkpoint(str(tmp_path), 7, values)
  model = predictor.load_classifier(output_dir=str(tmp_path), bert_config_file=CONFIG,
                                    vocab_file=VOCAB, task_name="STS-B", max_seq_length=32)
  inputs = text_input.as_inputs(["a man plays\ta man is playing", "hello"])
  predictions = model.predict(inputs)
  assert predictions.is_regression and predictions.labels is None
  assert predictions.values.shape == (2,) and np.all(np.abs(predictions.values - 0.5) < 0.1)
  tsv = predictor.format_predictions(inputs, predictions, "tsv")
  assert tsv == ["%s\ta man plays\ta man is playing" % predictions.values[0],
                 "%s\thello" % predictions.values[1]]
  obj = json.loads(predictor.format_predictions(inputs, predictions, "json")[1])
  assert obj == {"text_a": "hello", "prediction": pytest.approx(float(predictions.values[1]))}
