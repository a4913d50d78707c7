"""Serving export: in-graph tokenization (bert_tf.graph_tokenizer) == FullTokenizer, packing ==
the original, and the SavedModel's probabilities == our Keras model's, loaded with plain TF."""

import csv
import json
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from helpers import ROOT, TINY
from bert_tf import checkpoints
from bert_tf import modeling
from bert_tf import tokenization
from bert_tf.configuration import BertConfig
from bert_tf.graph_tokenizer import TextFeaturizer
from bert_tf.interop import serving

VOCAB = os.path.join(TINY, "vocab.txt")
GLUE = os.path.join(ROOT, "data", "glue")
PY = sys.executable
SAVED_MODEL_CLI = os.path.join(os.path.dirname(PY), "saved_model_cli")
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")


# --- an independent reference: the original convert_single_example ----------

def _truncate_seq_pair(tokens_a, tokens_b, max_length):
  while True:
    if len(tokens_a) + len(tokens_b) <= max_length:
      break
    if len(tokens_a) > len(tokens_b):
      tokens_a.pop()
    else:
      tokens_b.pop()


def reference_features(tokenizer, text_a, text_b, max_seq_length):
  tokens_a = tokenizer.tokenize(text_a)
  tokens_b = tokenizer.tokenize(text_b) if text_b else None
  if tokens_b:
    _truncate_seq_pair(tokens_a, tokens_b, max_seq_length - 3)
  elif len(tokens_a) > max_seq_length - 2:
    tokens_a = tokens_a[:max_seq_length - 2]
  tokens = ["[CLS]"] + tokens_a + ["[SEP]"]
  segment_ids = [0] * len(tokens)
  if tokens_b:
    tokens += tokens_b + ["[SEP]"]
    segment_ids += [1] * (len(tokens_b) + 1)
  input_ids = tokenizer.convert_tokens_to_ids(tokens)
  pad = max_seq_length - len(input_ids)
  return (input_ids + [0] * pad, [1] * len(input_ids) + [0] * pad, segment_ids + [0] * pad)


def _read_tsv(path):
  with open(path, "r", encoding="utf-8") as f:
    return list(csv.reader(f, delimiter="\t", quotechar=None))


def glue_rows():
  """(name, [text_a], [text_b or None]) for every row of the GLUE files we ship."""
  out = []
  for split in ("train", "dev", "test"):
    rows = _read_tsv(os.path.join(GLUE, "MRPC", "%s.tsv" % split))[1:]
    out.append(("MRPC/" + split, [r[3] for r in rows], [r[4] for r in rows]))
  for split in ("train", "dev"):
    rows = _read_tsv(os.path.join(GLUE, "CoLA", "%s.tsv" % split))
    out.append(("CoLA/" + split, [r[3] for r in rows], None))
  rows = _read_tsv(os.path.join(GLUE, "CoLA", "test.tsv"))[1:]
  out.append(("CoLA/test", [r[1] for r in rows], None))
  for split, col in (("train", 0), ("dev", 0), ("test", 1)):
    rows = _read_tsv(os.path.join(GLUE, "SST-2", "%s.tsv" % split))[1:]
    out.append(("SST-2/" + split, [r[col] for r in rows], None))
  return out


@pytest.fixture(scope="module")
def tokenizer():
  return tokenization.FullTokenizer(VOCAB, do_lower_case=True)


@pytest.fixture(scope="module")
def featurizer128():
  return TextFeaturizer(VOCAB, True, 128)


def _graph_features(featurizer, texts_a, texts_b=None, batch=4096):
  spec = tf.TensorSpec([None], tf.string)
  single = tf.function(lambda a: featurizer.features(a), input_signature=[spec])
  pair = tf.function(lambda a, b: featurizer.features(a, b), input_signature=[spec, spec])
  outs = []
  for i in range(0, len(texts_a), batch):
    a = tf.constant(texts_a[i:i + batch])
    f = single(a) if texts_b is None else pair(a, tf.constant(texts_b[i:i + batch]))
    outs.append(f)
  return {k: np.concatenate([o[k].numpy() for o in outs]) for k in outs[0]}


def test_every_glue_row_matches_full_tokenizer(featurizer128, tokenizer):
  total = 0
  for name, texts_a, texts_b in glue_rows():
    got = _graph_features(featurizer128, texts_a, texts_b)
    want = [reference_features(tokenizer, a, None if texts_b is None else texts_b[i], 128)
            for i, a in enumerate(texts_a)]
    for k, key in enumerate(("input_ids", "input_mask", "segment_ids")):
      ref = np.array([w[k] for w in want])
      bad = np.nonzero((got[key] != ref).any(axis=1))[0]
      assert bad.size == 0, "%s row %d %s differs: %r" % (name, bad[0], key, texts_a[bad[0]])
    total += len(texts_a)
  assert total == 86500  # MRPC 5801 pairs, CoLA 10657, SST-2 70042 (all of train)


# Adversarial strings: every one gives FullTokenizer's ids (the README table
# lists what tensorflow-text's BertTokenizer gives instead).
ADVERSARIAL = [
    "naïve café", "Straße", "ẞ", "ﬁnance ﬂow", "Ｆｕｌｌｗｉｄｔｈ", "½ ² Ǆ ǅ",
    "İstanbul ISTANBUL ıi", "here\x00nul\ufffdrepl", "tab\there\nnew\rline\x0bvt\x0cff",
    "zero\u200bwidth\u200djoiner\ufeffbom", "nbsp\u00a0thin\u2009ideo\u3000sp",
    "line\u2028sep\u2029para", "\x1c\x1d\x1e\x1f\x85", "a" * 200, "a" * 201,
    "é" * 150 + "x", "中文字符 和 日本語 カタカナ 한국어", "\U00020000\U0002a6df", "豈 更",
    "ΟΔΟΣ ΣΟΦΙΑΣ. Σ ΑΣ'Σ ΑΣ\u0301", "ΌΣΟΣ ὈΔΥΣΣΕΥΣ", "[CLS] [SEP] [MASK] [UNK]",
    "$^`~ «quotes» — dash… ¿qué? ¡sí!", "emoji 😀👍🏽 family 👨‍👩‍👧",
    "combining a\u0301e\u0308 o\u0328\u0301", "Ⅻ ⓐ ª º", "ǈ ǋ Ǳ", "Ⱟ ꟁ",
    "   leading and trailing   ", "", "\x00\x01\x02", "\ufffd\ufffd",
]


def test_adversarial_strings_match_full_tokenizer(featurizer128, tokenizer):
  ids = featurizer128.token_ids(tf.constant(ADVERSARIAL)).to_list()
  for text, got in zip(ADVERSARIAL, ids):
    want = tokenizer.convert_tokens_to_ids(tokenizer.tokenize_exact(text))
    assert got == want, repr(text)


def test_invalid_utf8_bytes_are_dropped_like_the_original(featurizer128, tokenizer):
  raw = [b"abc\xffdef", b"caf\xc3", b"\xe4\xb8x\xad", b"ok \xf0\x9f\x98 done"]
  ids = featurizer128.token_ids(tf.constant(raw)).to_list()
  for text, got in zip(raw, ids):
    assert got == tokenizer.convert_tokens_to_ids(tokenizer.tokenize(text)), text


def test_cased_model(tokenizer):
  cased = tokenization.FullTokenizer(VOCAB, do_lower_case=False)
  f = TextFeaturizer(VOCAB, False, 32)
  texts = ADVERSARIAL + ["Hello World", "UNwant\u00e9d,running"]
  for text, got in zip(texts, f.token_ids(tf.constant(texts)).to_list()):
    assert got == cased.convert_tokens_to_ids(cased.tokenize_exact(text)), repr(text)


def test_known_difference_noncanonical_mark_order(featurizer128):
  # Two spacing (Mc) marks with non-zero combining classes typed in the wrong
  # order: whole-string NFD reorders them, our per-character map does not.
  # With this vocabulary both become [UNK], so the ids still agree.
  text = "a\U0001d16d\U0001d165"
  basic = tokenization.BasicTokenizer(do_lower_case=True).tokenize(text)
  ours = [t.decode("utf-8") for t in featurizer128.basic_tokens(tf.constant([text]))[0].numpy()]
  assert basic == ["a\U0001d165\U0001d16d"] and ours == ["a\U0001d16d\U0001d165"]


def test_pair_truncation_and_layout_equal_the_original():
  vocab = tokenization.load_vocab(VOCAB)
  for s in (3, 4, 5, 8, 9):
    f = TextFeaturizer(VOCAB, True, s)
    cases = [(la, lb) for la in range(0, 13) for lb in range(0, 13)]
    a = tf.ragged.constant([list(range(1000, 1000 + la)) for la, _ in cases], tf.int64,
                           row_splits_dtype=tf.int64)
    b = tf.ragged.constant([list(range(2000, 2000 + lb)) for _, lb in cases], tf.int64,
                           row_splits_dtype=tf.int64)
    got = f.pack(a, b)
    for row, (la, lb) in enumerate(cases):
      ta, tb = list(range(1000, 1000 + la)), list(range(2000, 2000 + lb))
      if tb:
        _truncate_seq_pair(ta, tb, s - 3)
      else:
        ta = ta[:s - 2]
      ids = [vocab["[CLS]"]] + ta + [vocab["[SEP]"]]
      segs = [0] * len(ids)
      if tb:
        ids += tb + [vocab["[SEP]"]]
        segs += [1] * (len(tb) + 1)
      n = len(ids)
      assert got["input_ids"][row].numpy().tolist() == ids + [0] * (s - n), (s, la, lb)
      assert got["segment_ids"][row].numpy().tolist() == segs + [0] * (s - n)
      assert got["input_mask"][row].numpy().tolist() == [1] * n + [0] * (s - n)


# --- the exported SavedModel ------------------------------------------------

MAX_SEQ = 64  # the tiny model has 64 positions


@pytest.fixture(scope="module")
def classifier():
  config = BertConfig.from_json_file(os.path.join(TINY, "bert_config.json"))
  model = modeling.BertClassifier(config, 2)
  model.build()
  checkpoints.init_from_checkpoint(model.bert.original_variables(),
                                   os.path.join(TINY, "bert_model.ckpt"), log=False)
  head = np.load(os.path.join(ROOT, "tests", "fixtures", "classifier_head.npz"))
  model.head.output_weights.assign(head["output_weights"])
  model.head.output_bias.assign(head["output_bias"])
  return model


@pytest.fixture(scope="module")
def exported(classifier, tmp_path_factory):
  """Exported through the export_model.py command line from a fine-tuned checkpoint."""
  tmp = tmp_path_factory.mktemp("serving")
  prefix = str(tmp / "model.ckpt-7")
  checkpoints.write_bundle(prefix, {k: v.numpy() for k, v in
                                    classifier.original_variables().items()})
  out = str(tmp / "export")
  r = subprocess.run([PY, os.path.join(ROOT, "export_model.py"), "--format=classifier",
                      "--label_list=neg,pos", "--max_seq_length=%d" % MAX_SEQ,
                      "--bert_config_file=" + os.path.join(TINY, "bert_config.json"),
                      "--vocab_file=" + VOCAB, "--init_checkpoint=" + prefix,
                      "--export_dir=" + out], cwd=ROOT, env=ENV, capture_output=True,
                     text=True, timeout=300)
  assert r.returncode == 0, r.stderr[-3000:]
  return out


def _expected(classifier, tokenizer, texts_a, texts_b=None):
  feats = [reference_features(tokenizer, a, None if texts_b is None else texts_b[i], MAX_SEQ)
           for i, a in enumerate(texts_a)]
  inputs = {k: tf.constant([f[j] for f in feats], tf.int32)
            for j, k in enumerate(("input_ids", "input_mask", "segment_ids"))}
  logits = classifier(inputs, training=False)
  return tf.nn.softmax(logits, axis=-1).numpy(), inputs


def test_fresh_process_plain_load_equals_keras_model(exported, classifier, tokenizer, tmp_path):
  mrpc = _read_tsv(os.path.join(GLUE, "MRPC", "dev.tsv"))[1:17]
  singles = ["hello world", "It's a charming and often affecting journey.",
             "Straße ﬁ İstanbul naïve \x00 中文", "x " * 300]
  pairs_a, pairs_b = [r[3] for r in mrpc] + ["only a", ""], [r[4] for r in mrpc] + ["", "b"]
  request = {"singles": singles, "pairs_a": pairs_a, "pairs_b": pairs_b}
  (tmp_path / "request.json").write_text(json.dumps(request))
  script = textwrap.dedent("""
      import json, sys
      sys.modules["bert_tf"] = None  # importing bert_tf would fail here
      import tensorflow as tf
      req = json.load(open(sys.argv[2]))
      m = tf.saved_model.load(sys.argv[1])
      s = m.signatures
      out = {"keys": sorted(s.keys())}
      r = s["serving_default"](text_a=tf.constant(req["singles"]))
      out["single_probs"] = r["probabilities"].numpy().tolist()
      out["single_labels"] = [x.decode() for x in r["label"].numpy()]
      r = s["serving_default"](text_a=tf.constant(req["singles"][:1]))
      out["one_probs"] = r["probabilities"].numpy().tolist()
      r = s["serving_pair"](text_a=tf.constant(req["pairs_a"]), text_b=tf.constant(req["pairs_b"]))
      out["pair_probs"] = r["probabilities"].numpy().tolist()
      r = s["serving_pair"](text_a=tf.constant(req["pairs_a"][:1]),
                            text_b=tf.constant(req["pairs_b"][:1]))
      out["pair_one_probs"] = r["probabilities"].numpy().tolist()
      t = s["tokenize_pair"](text_a=tf.constant(req["pairs_a"]), text_b=tf.constant(req["pairs_b"]))
      out["pair_ids"] = t["input_ids"].numpy().tolist()
      f = s["predict_features"](input_ids=t["input_ids"], input_mask=t["input_mask"],
                                segment_ids=t["segment_ids"])
      out["feature_probs"] = f["probabilities"].numpy().tolist()
      out["vocab_file"] = m.vocab_file.asset_path.numpy().decode()
      out["do_lower_case"] = bool(m.do_lower_case.numpy())
      out["text_modules"] = sorted(k for k in sys.modules
                                   if k.startswith(("tensorflow_text", "keras_hub")))
      print("RESULT" + json.dumps(out))
  """)
  (tmp_path / "serve.py").write_text(script)
  r = subprocess.run([PY, str(tmp_path / "serve.py"), exported, str(tmp_path / "request.json")],
                     cwd=str(tmp_path), env=ENV, capture_output=True, text=True, timeout=300)
  assert r.returncode == 0, r.stderr[-3000:]
  out = json.loads(r.stdout.split("RESULT", 1)[1])
  assert out["keys"] == ["predict_features", "serving_default", "serving_pair", "tokenize",
                         "tokenize_pair"]
  assert out["text_modules"] == []
  assert out["do_lower_case"] is True and os.path.exists(out["vocab_file"])

  want_single, _ = _expected(classifier, tokenizer, singles)
  np.testing.assert_allclose(out["single_probs"], want_single, atol=1e-5)
  np.testing.assert_allclose(out["one_probs"], want_single[:1], atol=1e-5)
  labels = np.array(["neg", "pos"])[np.argmax(want_single, axis=-1)].tolist()
  assert out["single_labels"] == labels
  want_pair, inputs = _expected(classifier, tokenizer, pairs_a, pairs_b)
  assert out["pair_ids"] == inputs["input_ids"].numpy().tolist()
  np.testing.assert_allclose(out["pair_probs"], want_pair, atol=1e-5)
  np.testing.assert_allclose(out["pair_one_probs"], want_pair[:1], atol=1e-5)
  np.testing.assert_allclose(out["feature_probs"], want_pair, atol=1e-5)


def test_saved_model_cli_run(exported, classifier, tokenizer):
  r = subprocess.run([SAVED_MODEL_CLI, "run", "--dir", exported, "--tag_set", "serve",
                      "--signature_def", "serving_default",
                      "--input_exprs", 'text_a=["hello world"]'],
                     env=ENV, capture_output=True, text=True, timeout=300)
  assert r.returncode == 0, r.stderr[-3000:]
  m = re.search(r"Result for output key probabilities:\s*\[\[([^\]]*)\]\]", r.stdout)
  assert m, r.stdout
  got = np.array([float(x) for x in m.group(1).split()])
  want, _ = _expected(classifier, tokenizer, ["hello world"])
  np.testing.assert_allclose(got, want[0], atol=1e-5)
  assert re.search(r"Result for output key label:\s*\[b'(neg|pos)'\]", r.stdout)


def test_regression_export(classifier, tmp_path, tokenizer):
  config = classifier.config
  model = modeling.BertClassifier(config, 1)
  model.build()
  for name, var in model.bert.original_variables().items():
    var.assign(classifier.bert.original_variables()[name])
  model.head.output_weights.assign(classifier.head.output_weights.numpy()[:1])
  out = serving.export_classifier(model, VOCAB, True, 32, [], str(tmp_path / "reg"),
                                  is_regression=True)
  loaded = tf.saved_model.load(out)
  got = loaded.signatures["serving_default"](text_a=tf.constant(["a fine film", "bad"]))
  assert sorted(got) == ["predictions"]
  feats = [reference_features(tokenizer, t, None, 32) for t in ["a fine film", "bad"]]
  inputs = {k: tf.constant([f[j] for f in feats])
            for j, k in enumerate(("input_ids", "input_mask", "segment_ids"))}
  np.testing.assert_allclose(got["predictions"].numpy(), model(inputs)[:, 0].numpy(), atol=1e-5)


def test_export_rejects_bad_arguments(classifier, tmp_path):
  with pytest.raises(ValueError, match="label_list has 3 labels"):
    serving.export_classifier(classifier, VOCAB, True, 32, ["a", "b", "c"], str(tmp_path / "x"))
  with pytest.raises(ValueError, match="only\\s+trained up to sequence length 64"):
    serving.export_classifier(classifier, VOCAB, True, 128, ["a", "b"], str(tmp_path / "x"))
