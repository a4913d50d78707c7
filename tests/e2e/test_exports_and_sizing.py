"""Issue 17, items 1, 5/9 (bert_config.json values) and 10, through the real scripts.

* Exports never delete a user's work: export_model.py and run_classifier.py --export_dir into a
  directory holding other files, into the training output_dir, or onto a directory holding an
  input are refused with one line before any work, and every file stays as it was; an earlier
  export of ours (it carries bert_tf_export.json) is replaced.
* Every bad bert_config.json value is one line naming the file and the key, before anything is
  created (run_classifier's --output_dir is not even made).
* predict.py, fill_mask.py and extract_features.py size themselves: with default flags they run
  on the tiny model (64 positions, fewer than the old default 128) and print what an explicit
  --max_seq_length=64 prints; an explicit --max_seq_length=128 is one line naming the file and
  the key.

The failing runs are independent, so they all start at once (2 at a time) in one module
fixture and each test only looks at its result.
"""
import concurrent.futures
import json
import os
import shutil
import sys

import numpy as np
import pytest
import tensorflow as tf

from bert_tf import checkpoints
from helpers import ROOT
from e2e_testing import (CKPT, CONFIG, MRPC, VOCAB, classifier_cmd, error_line, run_script,
                         snapshot)

pytestmark = pytest.mark.slow


def _script(name, **flags):
  return [sys.executable, os.path.join(ROOT, name)] + [
      "--%s=%s" % (k, v) for k, v in flags.items() if v is not None]


def _export_cmd(export_dir, **overrides):
  flags = {"bert_config_file": CONFIG, "vocab_file": VOCAB, "init_checkpoint": CKPT,
           "export_dir": export_dir}
  flags.update(overrides)
  return _script("export_model.py", **flags)


def _fake_training_run(out):
  """What run_classifier leaves in its output_dir: checkpoints, the state file, results, records
  (the tiny checkpoint stands in for the fine-tuned one)."""
  os.makedirs(out)
  for step in (8, 10):
    for suffix in (".index", ".data-00000-of-00001"):
      shutil.copy(CKPT + suffix, os.path.join(out, "model.ckpt-%d%s" % (step, suffix)))
  checkpoints.write_state_file(out, ["model.ckpt-8", "model.ckpt-10"])
  for name, text in (("eval_results.txt", "eval_accuracy = 0.5\n"),
                     ("test_results.tsv", "0.5\t0.5\n"), ("train.tf_record", "records")):
    with open(os.path.join(out, name), "w") as f:
      f.write(text)
  return out


def _classifier_checkpoint(directory):
  """The tiny encoder with a 2-label classifier head: what predict.py loads."""
  reader = tf.train.load_checkpoint(CKPT)
  values = {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map()}
  rng = np.random.RandomState(0)
  values["output_weights"] = rng.normal(0, 0.02, [2, 32]).astype(np.float32)
  values["output_bias"] = np.zeros([2], np.float32)
  os.makedirs(directory)
  prefix = os.path.join(directory, "model.ckpt-1")
  checkpoints.write_bundle(prefix, values)
  return prefix


# --------------------------------------------------------------------------- the cases
# (one bad value per bert_config.json key here; tests/core/test_configuration.py has the rest)
# Each: setup(d) -> (command, [fragments of the one error line], [directories that must stay
# exactly as they were]).  Refused cases only; the successful runs are below.


def _case_export_into_user_files(d):
  target = os.path.join(d, "my_files")
  os.makedirs(os.path.join(target, "notes"))
  for name in ("thesis.tex", "notes/todo.txt"):
    with open(os.path.join(target, name), "w") as f:
      f.write("mine\n")
  return (_export_cmd(target),
          ["%s: --export_dir already exists and holds files that are not a bert_tf export "
           "(notes, thesis.tex); exporting would delete them. Pass a new or empty --export_dir"
           % target], [target])


def _case_export_into_training_output_dir(d):
  out = _fake_training_run(os.path.join(d, "run"))
  ckpt = os.path.join(out, "model.ckpt-10")
  return (_export_cmd(out, init_checkpoint=ckpt),
          ["%s: --export_dir is a directory holding the --init_checkpoint (%s); exporting "
           "there would delete it. Pass a new --export_dir outside it" % (out, ckpt)], [out])


def _case_export_classifier_into_training_output_dir(d):
  out = _fake_training_run(os.path.join(d, "run"))
  return (_export_cmd(out, init_checkpoint=out, format="classifier", label_list="0,1",
                      max_seq_length=32),
          ["%s: --export_dir is the --init_checkpoint; exporting there would delete it" % out],
          [out])


def _case_export_above_the_checkpoint(d):
  out = _fake_training_run(os.path.join(d, "runs", "mrpc"))
  parent = os.path.dirname(out)
  return (_export_cmd(parent, init_checkpoint=os.path.join(out, "model.ckpt-10")),
          ["%s: --export_dir is a directory holding the --init_checkpoint" % parent], [parent])


def _case_export_into_other_output_dir(d):
  """Not the checkpoint's directory, but a run's all the same: other files, refused."""
  out = _fake_training_run(os.path.join(d, "run"))
  return (_export_cmd(out),
          ["%s: --export_dir already exists and holds files that are not a bert_tf export "
           "(checkpoint, eval_results.txt, model.ckpt-10.data-00000-of-00001, "
           "model.ckpt-10.index and 4 more)" % out], [out])


def _case_run_classifier_export_into_user_files(d):
  target = os.path.join(d, "serving")
  os.makedirs(target)
  with open(os.path.join(target, "keep.txt"), "w") as f:
    f.write("mine\n")
  out = os.path.join(d, "out")  # not created by a refused run
  return (classifier_cmd(out, export_dir=target, num_train_epochs=1.0),
          ["%s: --export_dir already exists and holds files that are not a bert_tf export "
           "(keep.txt)" % target], [target, d])


def _case_run_classifier_export_into_output_dir(d):
  out = _fake_training_run(os.path.join(d, "run"))
  return (classifier_cmd(out, export_dir=out, do_train="false"),
          ["%s: --export_dir is the --output_dir; exporting there would delete it" % out],
          [out])


def _case_run_classifier_export_above_output_dir(d):
  out = os.path.join(d, "runs", "mrpc")
  return (classifier_cmd(out, export_dir=d),
          ["%s: --export_dir is a directory holding the --output_dir (%s)" % (d, out)], [d])


def _config_with(d, **values):
  with open(CONFIG) as f:
    obj = json.load(f)
  obj.update(values)
  path = os.path.join(d, "bert_config.json")
  with open(path, "w") as f:
    json.dump(obj, f)
  return path


def _bad_config_case(key, value, message):
  def case(d):
    config = _config_with(d, **{key: value})
    out = os.path.join(d, "out")
    return (classifier_cmd(out, bert_config_file=config),
            ["%s: %s" % (config, message)], [d])
  return case


BAD_CONFIGS = {
    "hidden_dropout_prob_1": ("hidden_dropout_prob", 1.0,
                              '"hidden_dropout_prob" must be a probability in [0, 1), got 1.0'),
    "attention_probs_dropout_prob_string": (
        "attention_probs_dropout_prob", "0.1",
        '"attention_probs_dropout_prob" must be a probability in [0, 1), got "0.1"'),
    "hidden_act_unknown": ("hidden_act", "swish",
                           '"hidden_act" must be one of gelu, relu, tanh, linear, got "swish"'),
    "hidden_size_float": ("hidden_size", 32.0, '"hidden_size" must be a positive integer, got '
                          '32.0'),
    "type_vocab_size_0": ("type_vocab_size", 0, '"type_vocab_size" must be a positive integer, '
                          'got 0'),
    "num_attention_heads_not_dividing": (
        "num_attention_heads", 5, 'The hidden size (32) is not a multiple of the number of '
        'attention heads (5) ("hidden_size", "num_attention_heads")'),
    "initializer_range_0": ("initializer_range", 0, '"initializer_range" must be a positive '
                            'number'),
    "vocab_size_huge": ("vocab_size", 10 ** 12, 'these sizes make a model of 3.2e+13 parameters '
                        '(1.28e+05 GB of float32 weights), more than this machine\'s memory'),
}


def _inference_flags(name):
  """The tool's command with defaults for everything but the model (64 positions)."""
  return {"fill_mask.py": dict(bert_config_file=CONFIG, vocab_file=VOCAB,
                               init_checkpoint=CKPT, text="the cat [MASK] on the mat ."),
          "extract_features.py": dict(bert_config_file=CONFIG, vocab_file=VOCAB,
                                      init_checkpoint=CKPT, layers="-1")}[name]


def _case_explicit_length(name):
  def case(d):
    flags = _inference_flags(name)
    if name == "extract_features.py":
      flags.update(input_file=_extract_input(d), output_file=os.path.join(d, "o.jsonl"))
    return (_script(name, max_seq_length=128, **flags),
            ["Cannot use sequence length 128 because the BERT model was only trained up to "
             "sequence length 64 (\"max_position_embeddings\" in %s); pass --max_seq_length=64 "
             "or less, or leave it out to fit the input" % CONFIG], [d])
  return case


def _case_predict_explicit_length(d):
  ckpt = _classifier_checkpoint(os.path.join(d, "clf"))
  text = os.path.join(d, "in.txt")
  with open(text, "w") as f:
    f.write("a sentence\tanother one\n")
  return (_script("predict.py", init_checkpoint=ckpt, bert_config_file=CONFIG,
                  vocab_file=VOCAB, task_name="MRPC", input_file=text, max_seq_length=128),
          ["Cannot use sequence length 128 because the BERT model was only trained up to "
           "sequence length 64 (\"max_position_embeddings\" in %s)" % CONFIG], [d])


def _case_fill_mask_past_the_model(d):
  return (_script("fill_mask.py", bert_config_file=CONFIG, vocab_file=VOCAB,
                  init_checkpoint=CKPT, text="very " * 70 + "[MASK] ."),
          ['the text has 72 tokens and a [MASK] falls past position 64, the most this model '
           'takes ("max_position_embeddings" in %s); shorten the text' % CONFIG], [d])


def _case_pair_on_a_one_token_type_model(d):
  """A RoBERTa-like model (type_vocab_size 1) has no embedding for a pair's second text."""
  reader = tf.train.load_checkpoint(CKPT)
  values = {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map()}
  values["bert/embeddings/token_type_embeddings"] = \
      values["bert/embeddings/token_type_embeddings"][:1]
  ckpt = os.path.join(d, "one_type", "bert_model.ckpt")
  os.makedirs(os.path.dirname(ckpt))
  checkpoints.write_bundle(ckpt, values)
  config = _config_with(d, type_vocab_size=1)
  return (_script("fill_mask.py", bert_config_file=config, vocab_file=VOCAB,
                  init_checkpoint=ckpt, text="a [MASK] .\tthe second text"),
          ['line 1 ("a [MASK] .\\tthe second text"): a sentence pair needs token type 1, but %s '
           'has "type_vocab_size" = 1 (the model takes single texts only); give one text per '
           'line' % config], [d])


def _case_run_classifier_pairs_on_a_one_token_type_model(d):
  """run_classifier refuses the same before any work (MRPC's rows are pairs)."""
  config = _config_with(d, type_vocab_size=1)
  out = os.path.join(d, "out")
  return (classifier_cmd(out, bert_config_file=config),
          ['%s line 2: a sentence pair needs token type 1, but %s has "type_vocab_size" = 1 '
           '(the model takes single texts only); use a single-sentence task, or a model with '
           'two token types' % (os.path.join(MRPC, "train.tsv"), config)], [d])


def _extract_input(d):
  path = os.path.join(d, "input.txt")
  with open(path, "w", encoding="utf-8") as f:
    f.write("the cat sat on the mat\nhello world ||| second text\n" + "word " * 100 + "\n")
  return path


CASES = {
    "export_model_into_a_directory_of_user_files": _case_export_into_user_files,
    "export_model_into_the_training_output_dir": _case_export_into_training_output_dir,
    "export_model_classifier_onto_its_checkpoint_dir": _case_export_classifier_into_training_output_dir,
    "export_model_above_the_checkpoint": _case_export_above_the_checkpoint,
    "export_model_into_another_runs_output_dir": _case_export_into_other_output_dir,
    "run_classifier_export_into_user_files": _case_run_classifier_export_into_user_files,
    "run_classifier_export_into_output_dir": _case_run_classifier_export_into_output_dir,
    "run_classifier_export_above_output_dir": _case_run_classifier_export_above_output_dir,
    "fill_mask_explicit_max_seq_length_too_long": _case_explicit_length("fill_mask.py"),
    "extract_features_explicit_max_seq_length_too_long":
        _case_explicit_length("extract_features.py"),
    "predict_explicit_max_seq_length_too_long": _case_predict_explicit_length,
    "fill_mask_mask_past_the_model": _case_fill_mask_past_the_model,
    "fill_mask_pair_on_a_one_token_type_model": _case_pair_on_a_one_token_type_model,
    "run_classifier_pairs_on_a_one_token_type_model":
        _case_run_classifier_pairs_on_a_one_token_type_model,
}
CASES.update({"bert_config_" + name: _bad_config_case(*spec) for name, spec in BAD_CONFIGS.items()})


def _case_run(name, d):
  os.makedirs(d)
  cmd, expected, watched = CASES[name](d)
  before = {w: snapshot(w) for w in watched}
  proc = run_script(cmd, timeout=600)
  script = os.path.basename(next(c for c in cmd if c.endswith(".py") and c.startswith(ROOT)))
  return proc, expected, before, {w: snapshot(w) for w in watched}, script, d


# --------------------------------------------------------------------------- the good runs


def _exports_twice(d):
  """A tf2_encoder export, then the same command again onto it: (first, second) snapshots."""
  target = os.path.join(d, "encoder")
  first = run_script(_export_cmd(target), timeout=600)
  assert first.returncode == 0, first.stderr[-3000:]
  with open(os.path.join(target, checkpoints.EXPORT_MARKER)) as f:
    marker = json.load(f)
  before = snapshot(target)
  second = run_script(_export_cmd(target), timeout=600)
  return second, marker, before, snapshot(target), target


def _sized_runs(d):
  """Each inference tool with default flags and with --max_seq_length=64: {name: (proc, out)}."""
  os.makedirs(d)
  ckpt = _classifier_checkpoint(os.path.join(d, "clf"))
  text = os.path.join(d, "pairs.txt")
  with open(text, "w") as f:
    f.write("a sentence\tanother one\n" + "long " * 90 + "\tend\n")
  extract_in = _extract_input(d)
  runs = {}
  for length in (None, 64):
    tag = "default" if length is None else str(length)
    fill = dict(_inference_flags("fill_mask.py"), max_seq_length=length)
    runs["fill_mask_" + tag] = (_script("fill_mask.py", **fill), None)
    out = os.path.join(d, "features_%s.jsonl" % tag)
    extract = dict(_inference_flags("extract_features.py"), max_seq_length=length,
                   input_file=extract_in, output_file=out)
    runs["extract_" + tag] = (_script("extract_features.py", **extract), out)
    runs["predict_" + tag] = (_script("predict.py", init_checkpoint=ckpt, bert_config_file=CONFIG,
                                      vocab_file=VOCAB, task_name="MRPC", input_file=text,
                                      max_seq_length=length), None)
  # export_model.py --format=classifier: 128 by default, capped at the model's 64
  runs["export_classifier_default"] = (_export_cmd(
      os.path.join(d, "serving"), init_checkpoint=ckpt, format="classifier", label_list="0,1"),
      os.path.join(d, "serving"))
  return runs


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
  base = tmp_path_factory.mktemp("exports_and_sizing")
  with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
    futures = {"exports_twice": pool.submit(_exports_twice, str(base / "twice"))}
    for name, (cmd, out) in _sized_runs(str(base / "sized")).items():
      futures["sized:" + name] = pool.submit(
          lambda c=cmd, o=out: (run_script(c, timeout=600), o))
    for name in sorted(CASES):
      futures["case:" + name] = pool.submit(_case_run, name, str(base / "cases" / name))
    yield futures


@pytest.mark.parametrize("name", sorted(CASES))
def test_refused_in_one_line_and_nothing_touched(runs, name):
  proc, expected, before, after, script, _ = runs["case:" + name].result()
  assert proc.returncode == 1, "exit status %d\n%s" % (proc.returncode, proc.stderr[-3000:])
  message = error_line(proc, script)
  for fragment in expected:
    assert fragment in message, "expected %r in %r" % (fragment, message)
  for directory in before:
    assert before[directory] == after[directory], "files changed in %s" % directory


def test_refused_run_classifier_creates_no_output_dir(runs):
  """The checks run before run_classifier makes its --output_dir, let alone trains."""
  names = [n for n in CASES if n.startswith("bert_config_")] + [
      "run_classifier_export_into_user_files", "run_classifier_export_above_output_dir"]
  for name in names:
    proc, _, _, _, _, d = runs["case:" + name].result()
    assert "Running training" not in proc.stderr, name
    assert not os.path.exists(os.path.join(d, "out")), name
    assert not os.path.exists(os.path.join(d, "runs")), name


def test_an_earlier_export_of_ours_is_replaced(runs):
  proc, marker, before, after, target = runs["exports_twice"].result()
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert marker["written_by"] == "bert_tf" and marker["format"] == "tf2_encoder"
  assert marker["source"] == os.path.abspath(CKPT)
  assert "saved_model.pb" in marker["files"] and checkpoints.EXPORT_MARKER in after
  # the same files, each written anew (a new inode: the directory was replaced, not merged)
  assert sorted(before) == sorted(after)
  assert all(before[p][2] != after[p][2] for p in before)
  assert not [n for n in os.listdir(os.path.dirname(target)) if n != "encoder"]
  # and the export still loads as a TF Hub encoder
  loaded = tf.saved_model.load(target)
  out = loaded({"input_word_ids": tf.ones([1, 4], tf.int32),
                "input_mask": tf.ones([1, 4], tf.int32),
                "input_type_ids": tf.zeros([1, 4], tf.int32)}, training=False)
  assert out["pooled_output"].shape == (1, 32)


@pytest.mark.parametrize("tool", ["fill_mask", "extract", "predict"])
def test_inference_tools_size_themselves_to_the_model(runs, tool):
  """Default flags on a 64-position model: the run works and prints what --max_seq_length=64
  prints (the long texts are cut where the model ends)."""
  results = {}
  for tag in ("default", "64"):
    proc, out = runs["sized:%s_%s" % (tool, tag)].result()
    assert proc.returncode == 0, proc.stderr[-3000:]
    results[tag] = open(out).read() if out else proc.stdout
  assert results["default"] and results["default"] == results["64"]
  if tool == "extract":
    lines = [json.loads(l) for l in results["default"].splitlines()]
    assert [len(l["features"]) for l in lines] == [8, 7, 64]
    proc, _ = runs["sized:extract_default"].result()
    assert "1 of 3 lines were truncated to max_seq_length = 64 tokens (first: line 2" in \
        proc.stderr
  if tool == "predict":
    assert len(results["default"].splitlines()) == 2


def test_classifier_export_sizes_itself_to_the_model(runs):
  proc, target = runs["sized:export_classifier_default"].result()
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert checkpoints.read_export_marker(target)["format"] == "classifier"
  served = tf.saved_model.load(target)
  assert int(served.max_seq_length.numpy()) == 64
  ids = served.signatures["tokenize"](text_a=tf.constant(["word " * 100]))["input_ids"]
  assert ids.shape == (1, 64)


def test_run_config_max_seq_length_is_kept_by_predict(tmp_path):
  """predict.py without --max_seq_length uses the training run's value from run_config.json."""
  from bert_tf.inference import predictor
  ckpt = _classifier_checkpoint(str(tmp_path / "run"))
  with open(str(tmp_path / "run" / "run_config.json"), "w") as f:
    json.dump({"task_name": "MRPC", "bert_config_file": CONFIG, "vocab_file": VOCAB,
               "do_lower_case": True, "max_seq_length": 16, "label_list": ["0", "1"]}, f)
  model = predictor.load_classifier(output_dir=str(tmp_path / "run"))
  assert model.max_seq_length == 16 and model.checkpoint == ckpt
  # (the checkpoint's own directory counts as the run's: run_config.json beside it is read)
  model = predictor.load_classifier(init_checkpoint=ckpt)
  assert model.max_seq_length == 16
  # no run_config.json: the model's max_position_embeddings
  other = _classifier_checkpoint(str(tmp_path / "elsewhere"))
  model = predictor.load_classifier(init_checkpoint=other, bert_config_file=CONFIG,
                                    vocab_file=VOCAB, task_name="MRPC")
  assert model.max_seq_length == 64
  # a run_config.json asking for more than the config allows names both files
  with open(str(tmp_path / "run" / "run_config.json"), "w") as f:
    json.dump({"task_name": "MRPC", "bert_config_file": CONFIG, "vocab_file": VOCAB,
               "max_seq_length": 128}, f)
  with pytest.raises(ValueError) as e:
    predictor.load_classifier(output_dir=str(tmp_path / "run"))
  assert str(e.value).endswith(
      '("max_position_embeddings" in %s); %s asks for 128: pass that run\'s bert_config.json, '
      'or --max_seq_length=64 or less' % (CONFIG, tmp_path / "run" / "run_config.json"))
