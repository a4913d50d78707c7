"""fill_mask.py / bert_tf.inference.masked_lm.MaskedLM: the cls/predictions head on text with [MASK]s.

(a) the probabilities equal exp() of the ORIGINAL code's masked_lm_log_probs
    (pretraining.npz batch a) through the very function fill_mask uses;
(b) a tiny model pre-trained by create_pretraining_data.py + run_pretraining.py
    until it memorises a few sentences gets their masked words back at top-1;
(c) a checkpoint without cls/predictions is a one-line error;
(d) literal [MASK]s: two in a sentence, next to punctuation, in a pair, cased.
"""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from helpers import FIXTURES, ROOT, TINY
from bert_tf import checkpoints, restore, tokenization
from bert_tf.inference import masked_lm, settings, text_input

CONFIG = os.path.join(TINY, "bert_config.json")
VOCAB = os.path.join(TINY, "vocab.txt")
CKPT = os.path.join(TINY, "bert_model.ckpt")
FILL_MASK = os.path.join(ROOT, "fill_mask.py")
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)


def _run(args, stdin_text="", check=True):
  proc = subprocess.run([sys.executable] + args, input=stdin_text, capture_output=True, text=True,
                        env=ENV, cwd=ROOT, timeout=600)
  if check:
    assert proc.returncode == 0, proc.stderr[-3000:]
  return proc


@pytest.fixture(scope="module")
def tiny_mlm():
  return masked_lm.MaskedLM(CONFIG, VOCAB, CKPT, max_seq_length=64)


# --------------------------------------------------------------------------- (a) the numbers


def test_probabilities_equal_the_original_masked_lm_outputs(tiny_mlm):
  d = np.load(os.path.join(FIXTURES, "pretraining.npz"))
  probs = tiny_mlm.probabilities(d["a_input_ids"], d["a_input_mask"], d["a_segment_ids"],
                                 d["a_masked_lm_positions"])
  assert probs.shape == (3, 5, 30522) and probs.dtype == np.float32
  expected = np.exp(d["a_masked_lm_log_probs"].astype(np.float64)).reshape(3, 5, 30522)
  np.testing.assert_allclose(probs, expected, atol=2e-5, rtol=0)
  np.testing.assert_allclose(probs, expected, atol=0, rtol=1e-4)  # the small ones too
  np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-4)


def test_fill_reports_the_probabilities_of_that_function(tiny_mlm):
  text = "the man went to the [MASK] to buy a [MASK] of milk ."
  [result] = tiny_mlm.fill([text], top_k=4)
  encoded = tiny_mlm.encode(text)
  n = len(encoded.input_ids)
  probs = tiny_mlm.probabilities([encoded.input_ids], [[1] * n], [encoded.segment_ids],
                                 [encoded.mask_positions])[0]
  assert [m["position"] for m in result["masks"]] == encoded.mask_positions == [6, 10]
  for m, p in zip(result["masks"], probs):
    ids = np.argsort(-p, kind="stable")[:4]
    assert [x["token"] for x in m["predictions"]] == tiny_mlm.tokenizer.convert_ids_to_tokens(
        [int(i) for i in ids])
    np.testing.assert_allclose([x["probability"] for x in m["predictions"]], p[ids], rtol=1e-6)
  # batching and padding do not change the numbers
  batched = tiny_mlm.fill(["a [MASK] .", text, "[MASK] " * 3 + "x " * 30], top_k=4,
                          batch_size=2)
  for a, b in zip(batched[1]["masks"], result["masks"]):
    np.testing.assert_allclose([x["probability"] for x in a["predictions"]],
                               [x["probability"] for x in b["predictions"]], atol=1e-6)


# --------------------------------------------------------------------------- (d) [MASK] handling


def test_literal_masks_become_mask_tokens(tiny_mlm):
  tok = tiny_mlm.tokenizer
  assert tok.tokenize("the [MASK] sat") == ["the", "[", "mask", "]", "sat"]  # why we split
  assert masked_lm.tokenize_with_masks(tok, "The [MASK] sat on the [MASK].") == [
      "the", "[MASK]", "sat", "on", "the", "[MASK]", "."]
  assert masked_lm.tokenize_with_masks(tok, "([MASK]),[MASK]![MASK][MASK]'s") == [
      "(", "[MASK]", ")", ",", "[MASK]", "!", "[MASK]", "[MASK]", "'", "s"]
  assert masked_lm.tokenize_with_masks(tok, "un[MASK]able") == ["un", "[MASK]", "able"]
  cased = tokenization.FullTokenizer(VOCAB, do_lower_case=False)
  assert masked_lm.tokenize_with_masks(cased, "[MASK] Paris.") == ["[MASK]", "[UNK]", "."]
  # lower-case "[mask]" is plain text
  with pytest.raises(settings.InputError, match="no \\[MASK\\] in the text"):
    tiny_mlm.encode("the [mask] sat")


def test_encode_layout_pairs_and_truncation(tiny_mlm):
  e = tiny_mlm.encode("the [MASK] sat on the [MASK].")
  assert e.tokens == ["[CLS]", "the", "[MASK]", "sat", "on", "the", "[MASK]", ".", "[SEP]"]
  assert e.mask_positions == [2, 6] and e.segment_ids == [0] * 9
  assert e.input_ids[2] == e.input_ids[6] == tiny_mlm.tokenizer.vocab["[MASK]"] == 103
  e = tiny_mlm.encode("a cat .", "it [MASK] .")
  assert e.tokens == ["[CLS]", "a", "cat", ".", "[SEP]", "it", "[MASK]", ".", "[SEP]"]
  assert e.segment_ids == [0] * 5 + [1] * 4 and e.mask_positions == [6]
  long_tail = "[MASK] is " + "very " * 80 + "long"
  e = tiny_mlm.encode(long_tail)  # truncated to 64 tokens, the mask survives
  assert len(e.tokens) == 64 and e.mask_positions == [1]
  with pytest.raises(settings.InputError, match="falls past --max_seq_length=64"):
    tiny_mlm.encode("very " * 80 + "[MASK]", where="line 3")


def test_inputs_and_format(tiny_mlm):
  inputs = text_input.parse_lines(["a [MASK] .\n", "\n", "x\ty [MASK] z\n"])
  results = tiny_mlm.fill(inputs, top_k=2)
  assert [len(r["masks"]) for r in results] == [1, 1]
  assert results[1]["text_b"] == "y [MASK] z" and "text_b" not in results[0]
  lines = masked_lm.format_fill_results(results, "text")
  assert lines[0] == "a [MASK] ." and lines[2] == "x\ty [MASK] z"
  first = results[0]["masks"][0]["predictions"]
  assert lines[1] == "  [MASK] 1: %s %.4f  %s %.4f" % (
      first[0]["token"], first[0]["probability"], first[1]["token"], first[1]["probability"])
  obj = json.loads(masked_lm.format_fill_results(results, "json")[1])
  assert obj["text_b"] == "y [MASK] z" and obj["masks"][0]["position"] == 4
  assert [set(p) for p in obj["masks"][0]["predictions"]] == [{"token", "probability"}] * 2
  with pytest.raises(settings.InputError, match='line 2 \\("no mask"\\): no \\[MASK\\]'):
    masked_lm.fill_mask(["a [MASK]", "no mask"], CONFIG, VOCAB, CKPT)
  with pytest.raises(settings.InputError, match="top_k must be at least 1"):
    tiny_mlm.fill(["a [MASK]"], top_k=0)


# --------------------------------------------------------------------------- (c) no MLM head


def test_checkpoint_without_mlm_head_is_a_one_line_error(tmp_path):
  reader = tf.train.load_checkpoint(CKPT)
  names = [n for n, _ in tf.train.list_variables(CKPT)]
  encoder = {n: reader.get_tensor(n) for n in names if n.startswith("bert/")}
  checkpoints.save_checkpoint(str(tmp_path / "encoder_only"), 0, encoder)
  with pytest.raises(restore.MissingHeadError) as e:
    masked_lm.MaskedLM(CONFIG, VOCAB, str(tmp_path / "encoder_only"), max_seq_length=64)
  message = str(e.value)
  assert "\n" not in message and "model.ckpt-0: checkpoint has no masked-LM head" in message
  assert "no cls/predictions/* variables" in message
  # a partial head names what is missing
  partial = dict(encoder, **{"cls/predictions/output_bias": reader.get_tensor(
      "cls/predictions/output_bias")})
  checkpoints.save_checkpoint(str(tmp_path / "partial"), 0, partial)
  with pytest.raises(checkpoints.CheckpointError, match="lacks 4 variable\\(s\\) of the encoder "
                     "and masked-LM head \\(cls/predictions/transform/LayerNorm/beta"):
    masked_lm.MaskedLM(CONFIG, VOCAB, str(tmp_path / "partial"), max_seq_length=64)


@pytest.mark.slow
def test_cli_error_for_checkpoint_without_mlm_head(tmp_path):
  reader = tf.train.load_checkpoint(CKPT)
  encoder = {n: reader.get_tensor(n) for n, _ in tf.train.list_variables(CKPT)
             if n.startswith("bert/")}
  checkpoints.save_checkpoint(str(tmp_path), 0, encoder)
  proc = _run([FILL_MASK, "--bert_config_file=%s" % CONFIG, "--vocab_file=%s" % VOCAB,
               "--init_checkpoint=%s" % tmp_path, "--max_seq_length=64", "a [MASK] ."],
              check=False)
  assert proc.returncode == 1 and proc.stdout == "" and "Traceback" not in proc.stderr
  last = proc.stderr.strip().splitlines()[-1]
  assert last.startswith("fill_mask.py: error: %s: checkpoint has no masked-LM head" %
                         os.path.join(str(tmp_path), "model.ckpt-0")), proc.stderr[-2000:]


# --------------------------------------------------------------------------- (b) end to end

SENTENCES = ["the cat sat on the mat .", "the dog ran in the park .",
             "a bird flew over the old tree .", "we drink coffee in the morning .",
             "the river flows to the sea ."]


@pytest.fixture(scope="module")
def memorised(tmp_path_factory):
  """A 2-layer H=64 BERT pre-trained from scratch until it knows five sentences by heart.

  The documents are every ordered pair of the sentences, so each training
  instance's segment A is exactly one sentence (like the probes below) and
  nothing is truncated; masked_lm_prob=0.3 gives ~4 predictions per instance.
  A vocab of just the words used (29 tokens) keeps the softmax small: with the
  30522-token vocab and 5-sentence documents, 400 steps took 3x as long and
  still missed words.  Measured: every single-[MASK] probe right at top-1 with
  a margin of 0.97 over the runner-up.
  """
  d = tmp_path_factory.mktemp("memorise")
  docs = ["%s\n%s" % (a, b) for a in SENTENCES for b in SENTENCES if a != b]
  (d / "text.txt").write_text("\n\n".join(docs) + "\n", encoding="utf-8")
  words = sorted(set(" ".join(SENTENCES).split()))
  (d / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words)
                               + "\n", encoding="utf-8")
  config = {"vocab_size": 5 + len(words), "hidden_size": 64, "num_hidden_layers": 2,
            "num_attention_heads": 4, "intermediate_size": 128, "max_position_embeddings": 64,
            "type_vocab_size": 2, "hidden_act": "gelu", "hidden_dropout_prob": 0.0,
            "attention_probs_dropout_prob": 0.0, "initializer_range": 0.02}
  (d / "bert_config.json").write_text(json.dumps(config), encoding="utf-8")
  _run([os.path.join(ROOT, "create_pretraining_data.py"), "--input_file=%s" % (d / "text.txt"),
        "--output_file=%s" % (d / "data.tfrecord"), "--vocab_file=%s" % (d / "vocab.txt"),
        "--max_seq_length=32", "--max_predictions_per_seq=8", "--masked_lm_prob=0.3",
        "--dupe_factor=10", "--random_seed=1"])
  _run([os.path.join(ROOT, "run_pretraining.py"), "--input_file=%s" % (d / "data.tfrecord"),
        "--output_dir=%s" % (d / "out"), "--bert_config_file=%s" % (d / "bert_config.json"),
        "--do_train", "--train_batch_size=32", "--max_seq_length=32",
        "--max_predictions_per_seq=8", "--num_train_steps=400", "--num_warmup_steps=20",
        "--learning_rate=2e-3", "--save_checkpoints_steps=1000", "--seed=1"])
  return d


def _fill_cmd(d, *extra):
  return [FILL_MASK, "--bert_config_file=%s" % (d / "bert_config.json"),
          "--vocab_file=%s" % (d / "vocab.txt"), "--init_checkpoint=%s" % (d / "out"),
          "--max_seq_length=32"] + list(extra)


@pytest.mark.slow
def test_memorised_words_come_back_at_top_1(memorised):
  probes, answers = [], []
  for sentence in SENTENCES:
    words = sentence.split()
    for k in range(len(words) - 1):  # every word but the final "."
      probes.append(" ".join(words[:k] + ["[MASK]"] + words[k + 1:]))
      answers.append(words[k])
  proc = _run(_fill_cmd(memorised, "--top_k=3", "--output_format=json", "--batch_size=8"),
              stdin_text="\n".join(probes) + "\n")
  results = [json.loads(line) for line in proc.stdout.splitlines()]
  assert [r["text_a"] for r in results] == probes
  top1 = [r["masks"][0]["predictions"][0] for r in results]
  assert [p["token"] for p in top1] == answers
  assert min(p["probability"] for p in top1) > 0.5, top1
  # two masks in one sentence, a mask in text_b, positional arguments and --text
  proc = _run(_fill_cmd(memorised, "--top_k=1", "--text=the [MASK] sat on the [MASK].",
                        "the dog ran in the park .\tthe river [MASK] to the sea ."))
  lines = proc.stdout.splitlines()
  expected = ["the [MASK] sat on the [MASK].", r"  \[MASK\] 1: cat [01]\.\d{4}",
              r"  \[MASK\] 2: mat [01]\.\d{4}",
              "the dog ran in the park .\tthe river [MASK] to the sea .",
              r"  \[MASK\] 1: flows [01]\.\d{4}"]
  assert len(lines) == len(expected), proc.stdout
  assert lines[0] == expected[0] and lines[3] == expected[3], proc.stdout
  for i in (1, 2, 4):
    assert re.fullmatch(expected[i], lines[i]), proc.stdout
