"""extract_features.py: the original's input parsing, features and JSON-lines output."""

import collections
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from helpers import FIXTURES, ROOT, TINY
from bert_tf import checkpoints
from bert_tf.inference import extract, text_input
from bert_tf import modeling
from bert_tf import tokenization
from bert_tf.configuration import BertConfig

VOCAB = os.path.join(TINY, "vocab.txt")
CONFIG = os.path.join(TINY, "bert_config.json")
CKPT = os.path.join(TINY, "bert_model.ckpt")
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")


@pytest.fixture(scope="module")
def config():
  return BertConfig.from_json_file(CONFIG)


@pytest.fixture(scope="module")
def tokenizer():
  return tokenization.FullTokenizer(VOCAB, do_lower_case=True)


def test_read_examples(tmp_path):
  path = tmp_path / "in.txt"
  path.write_bytes(b"Who was Jim Henson ? ||| Jim Henson was a puppeteer\n"
                   b"  single sentence  \r\n"
                   b"\n"
                   b"no|||split here\n"
                   b"a ||| b ||| c\n"
                   b"caf\xc3\xa9 \xff|||\n"
                   b"last line without newline")
  ex = text_input.read_examples(str(path))
  got = [(e.unique_id, e.text_a, e.text_b) for e in ex]
  assert got == [(0, "Who was Jim Henson ?", "Jim Henson was a puppeteer"),
                 (1, "single sentence", None),
                 (2, "", None),
                 (3, "no|||split here", None),
                 (4, "a ||| b", "c"),  # the regex's first group is greedy
                 (5, "caf\u00e9 |||", None),  # invalid UTF-8 dropped; "|||" needs spaces
                 (6, "last line without newline", None)]


def test_features_follow_the_original_layout(tokenizer):
  examples = [text_input.InputExample(0, "Who was Jim Henson ?", "Jim Henson was a puppeteer"),
              text_input.InputExample(1, "the quick brown fox jumps over the lazy dog", None),
              text_input.InputExample(2, "a b c d e f g", "h i"),
              text_input.InputExample(3, "", "")]
  feats = extract.convert_examples_to_features(examples, 8, tokenizer)
  assert feats[0].tokens == ["[CLS]", "who", "was", "jim", "[SEP]", "jim", "henson", "[SEP]"]
  assert feats[0].input_type_ids == [0, 0, 0, 0, 0, 1, 1, 1]
  assert feats[1].tokens == ["[CLS]", "the", "quick", "brown", "fox", "jumps", "over", "[SEP]"]
  assert feats[1].input_mask == [1] * 8
  assert feats[2].tokens == ["[CLS]", "a", "b", "c", "[SEP]", "h", "i", "[SEP]"]
  assert feats[3].tokens == ["[CLS]", "[SEP]"]
  assert feats[3].input_ids == [101, 102, 0, 0, 0, 0, 0, 0]
  assert feats[3].input_mask == [1, 1, 0, 0, 0, 0, 0, 0]
  for f in feats:
    assert f.input_ids[:len(f.tokens)] == tokenizer.convert_tokens_to_ids(f.tokens)


def test_layer_values_equal_the_original_activations(config):
  fx = np.load(os.path.join(FIXTURES, "encoder_outputs.npz"))
  ext = extract.FeatureExtractor.from_checkpoint(config, CKPT, [-1, -2, 0])
  for b in range(3):
    out = ext.layer_outputs(fx["batch%d_input_ids" % b], fx["batch%d_input_mask" % b],
                            fx["batch%d_segment_ids" % b])
    np.testing.assert_allclose(out[0], fx["batch%d_encoder_layer_1" % b], atol=1e-5)
    np.testing.assert_allclose(out[1], fx["batch%d_encoder_layer_0" % b], atol=1e-5)
    np.testing.assert_allclose(out[2], fx["batch%d_encoder_layer_0" % b], atol=1e-5)
  with pytest.raises(ValueError, match="out of range"):
    extract.FeatureExtractor(ext.model, [-3])


def test_script_output_format_and_values(config, tokenizer, tmp_path):
  lines = ["Who was Jim Henson ? ||| Jim Henson was a puppeteer", "hello world",
           "\u4e2d\u6587 caf\u00e9 \u00bd", "x " * 100]
  (tmp_path / "input.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
  out_file = tmp_path / "output.jsonl"
  r = subprocess.run([sys.executable, os.path.join(ROOT, "extract_features.py"),
                      "--input_file=%s" % (tmp_path / "input.txt"),
                      "--output_file=%s" % out_file, "--vocab_file=" + VOCAB,
                      "--bert_config_file=" + CONFIG, "--init_checkpoint=" + CKPT,
                      "--layers=-1,-2", "--max_seq_length=64", "--batch_size=3"],
                     cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
  assert r.returncode == 0, r.stderr[-3000:]
  raw = out_file.read_text(encoding="utf-8").split("\n")
  assert raw[-1] == "" and len(raw) == len(lines) + 1
  # An independent computation: FullTokenizer features through our encoder.
  model = modeling.BertModel(config)
  model.build()
  checkpoints.init_from_checkpoint(model.original_variables(), CKPT, log=False)
  examples = [text_input.InputExample(i, *(l.split(" ||| ") + [None])[:2])
              for i, l in enumerate(lines)]
  for i, (line, ex) in enumerate(zip(raw, examples)):
    assert line.isascii()  # json.dumps defaults escape non-ASCII tokens
    obj = json.loads(line, object_pairs_hook=collections.OrderedDict)
    assert list(obj) == ["linex_index", "features"] and obj["linex_index"] == i
    assert line == json.dumps(obj)  # default separators, key order kept
    tokens_a = tokenizer.tokenize(ex.text_a.strip())
    tokens_b = tokenizer.tokenize(ex.text_b) if ex.text_b else []
    tokens = ["[CLS]"] + tokens_a[:62 if not tokens_b else None] + ["[SEP]"]
    segs = [0] * len(tokens)
    if tokens_b:
      tokens += tokens_b + ["[SEP]"]
      segs += [1] * (len(tokens_b) + 1)
    assert [f["token"] for f in obj["features"]] == tokens
    ids = tf.constant([tokenizer.convert_tokens_to_ids(tokens)])
    layers = model({"input_ids": ids, "input_mask": tf.ones_like(ids),
                    "segment_ids": tf.constant([segs])})["all_encoder_layers"]
    for t, feature in enumerate(obj["features"]):
      assert [l["index"] for l in feature["layers"]] == [-1, -2]
      assert list(feature["layers"][0]) == ["index", "values"]
      for li, layer in zip((-1, -2), feature["layers"]):
        values = np.array(layer["values"])
        assert values.shape == (32,)
        np.testing.assert_allclose(values, layers[li][0, t].numpy(), atol=2e-6)
        assert all(v == round(v, 6) for v in layer["values"])
  assert "\\u4e2d" in raw[2]


def test_batch_size_does_not_change_the_output(config, tmp_path):
  (tmp_path / "in.txt").write_text("one ||| two\nthree four five\nsix\n", encoding="utf-8")
  outs = []
  for bs in (1, 2, 32):
    out = tmp_path / ("out%d.jsonl" % bs)
    n = extract.extract_features(str(tmp_path / "in.txt"), str(out), config, CKPT, VOCAB,
                                 layers="-1", max_seq_length=16, batch_size=bs)
    assert n == 3
    outs.append(out.read_text())
  assert outs[0] == outs[1] == outs[2]


def test_script_errors_are_one_line(tmp_path):
  (tmp_path / "in.txt").write_text("hello\n")
  r = subprocess.run([sys.executable, os.path.join(ROOT, "extract_features.py"),
                      "--input_file=%s" % (tmp_path / "in.txt"),
                      "--output_file=%s" % (tmp_path / "o.jsonl"), "--vocab_file=" + VOCAB,
                      "--bert_config_file=" + CONFIG, "--init_checkpoint=" + CKPT,
                      "--max_seq_length=128"],
                     cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
  assert r.returncode != 0
  assert r.stderr.strip().splitlines()[-1] == (
      "extract_features.py: error: Cannot use sequence length 128 because the BERT model was "
      "only trained up to sequence length 64 (\"max_position_embeddings\" in %s); pass "
      "--max_seq_length=64 or less, or leave it out to fit the input" % CONFIG)
