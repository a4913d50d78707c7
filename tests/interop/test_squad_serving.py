"""The SQuAD serving graph (bert_tf.interop.squad_serving) against run_squad's Python path.

One tiny SQuAD model (the tiny checkpoint + a random span head, so the spans are odd
and exercise get_final_text's corners) answers adversarial question/context pairs
in the graph; the Python reference is run_squad's own path on the same model:
examples.split_paragraph -> features_fast.convert_examples_to_features -> the
model -> postprocess.compute_predictions.  Answers, null decisions and scores
must be equal; the offsets must point at the answer in the context.
"""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from helpers import ROOT

from bert_tf import checkpoints, tokenization
from bert_tf.configuration import BertConfig
from bert_tf.interop import squad_serving
from bert_tf.squad import features_fast, postprocess
from bert_tf.squad import model as squad_model
from bert_tf.squad.examples import SquadExample, split_paragraph

TINY = os.path.join(ROOT, "tests", "fixtures", "tiny_uncased")
VOCAB = os.path.join(TINY, "vocab.txt")
PY = sys.executable
SETTINGS = dict(max_seq_length=32, doc_stride=5, max_query_length=8, n_best_size=20,
                max_answer_length=30)

QUESTIONS_AND_CONTEXTS = [
    ("who was the king?", "The  Normans (Norman: Nourmands; French: Normands) were the people "
     "who in the 10th and 11th centuries gave their name to Normandy, a region in France."),
    ("what is café?", "Un café\tau lait,\t\tcoûte 3,50\u202f€ à Paris!!! L'été  dernier..."),
    ("naïve?", "ÀÉÎÕÜ naïve Straße ﬁnance İstanbul ΣΑΣ ὈΔΥΣΣΕΎΣ résumé's"),
    ("中文是什么", "中文和日本語の文字: 東京タワー は 333 メートル。 한국어 텍스트 도 있다"),
    ("long words", "x" * 250 + " supercalifragilisticexpialidocious " + "y" * 201 +
     " pneumonoultramicroscopicsilicovolcanoconiosis end"),
    ("punctuation", "(1895–1943). \"Quoted,\" he said—twice... [a]{b}<c> #hash @at $5.00"),
    ("spaces", "   leading and trailing   \n\n\r\n  spaces\u00a0nbsp\u3000ideographic   "),
    ("empty", ""),
    ("only spaces", " \t \u202f "),
    ("controls", "zero\u200bwidth soft\u00adhyphen ctrl\x01x nul\x00x replacement\ufffdchar"),
    ("", "a question with no tokens still has a context to answer from"),
    ("one", "word"),
    ("which of these numbers, counted from zero and written in digits, comes right after "
     "the one that follows seven?", " ".join(str(i) for i in range(60))),  # cut to 8 tokens
    ("Greek", "ΟΔΥΣΣΕΥΣ Σ ΑΣ. σίσυφος ΣΊΣΥΦΟΣ"),
]


def _model(seed):
  config = BertConfig.from_json_file(os.path.join(TINY, "bert_config.json"))
  model = squad_model.BertForSquad(config)
  model.build()
  checkpoints.init_from_checkpoint(model.bert.original_variables(),
                                   os.path.join(TINY, "bert_model.ckpt"), log=False)
  rng = np.random.default_rng(seed)
  # Large head weights: well-separated logits, spans all over the windows.
  model.head.output_weights.assign(rng.normal(0, 2.0, (2, config.hidden_size)))
  model.head.output_bias.assign(rng.normal(0, 0.5, (2,)))
  return model


def reference(model, pairs, do_lower_case=True, version_2_with_negative=False,
              null_score_diff_threshold=0.0, **settings):
  """run_squad's Python path on (question, context) pairs: (predictions, null_odds, logits)."""
  settings = dict(SETTINGS, **settings)
  tokenizer = tokenization.FullTokenizer(VOCAB, do_lower_case)
  examples = []
  for i, (q, c) in enumerate(pairs):
    words, _ = split_paragraph(c)
    examples.append(SquadExample(qas_id=str(i), question_text=q, doc_tokens=words))
  features = features_fast.convert_examples_to_features(
      examples, tokenizer, settings["max_seq_length"], settings["doc_stride"],
      settings["max_query_length"], False)
  results = []
  if features:
    out = model({k: tf.constant([getattr(f, k) for f in features], tf.int32)
                 for k in ("input_ids", "input_mask", "segment_ids")}, training=False)
    results = postprocess.results_from_arrays([f.unique_id for f in features],
                                              out["start_logits"], out["end_logits"])
  predictions, nbest, null_odds = postprocess.compute_predictions(
      examples, features, results, settings["n_best_size"], settings["max_answer_length"],
      do_lower_case, version_2_with_negative, null_score_diff_threshold)
  logits = {}
  for f, r in zip(features, results):
    logits.setdefault(f.example_index, []).append((r.start_logits, r.end_logits))
  return predictions, nbest, null_odds, logits


def check_record(context, got, want_text, want_nbest, version_2, diff=None):
  """One answer record against the Python reference's predictions / nbest."""
  answer, start, end = got["answer"], got["start"], got["end"]
  if want_text == "empty" and want_nbest[0]["start_logit"] == 0.0 and not version_2:
    want_text = ""  # no valid span: the original's placeholder; the export says "" / -1
  assert answer == want_text
  if answer == "":
    assert (start, end) == (-1, -1)
  else:
    assert 0 <= start < end <= len(context)
    # The answer's words are joined by one space where the context may have a run.
    span = context[start:end]
    squeezed = " ".join(w for w in split_paragraph(span)[0])
    assert squeezed == answer, (span, answer)
  if diff is not None:
    np.testing.assert_allclose(got["null_score_diff"], diff, rtol=1e-5, atol=1e-4)


def _records(out):
  n = len(out["answer"])
  return [{"answer": out["answer"][i].decode("utf-8"), "start": int(out["start"][i]),
           "end": int(out["end"][i]), "score": float(out["score"][i]),
           "null_score_diff": float(out["null_score_diff"][i]),
           "has_answer": bool(out["has_answer"][i])} for i in range(n)]


@pytest.fixture(scope="module")
def model():
  return _model(0)


@pytest.fixture(scope="module")
def answerer(model):
  return squad_serving.SquadAnswerer(model, VOCAB, True, **SETTINGS)


def _serve(answerer, pairs):
  out = answerer.serve(tf.constant([q for q, _ in pairs]), tf.constant([c for _, c in pairs]))
  return {k: v.numpy() for k, v in out.items()}


def test_adversarial_contexts_equal_run_squad(model, answerer):
  pairs = QUESTIONS_AND_CONTEXTS
  out = _serve(answerer, pairs)
  predictions, nbest, _, logits = reference(model, pairs)
  for i, (got, (_, context)) in enumerate(zip(_records(out), pairs)):
    check_record(context, got, predictions[str(i)], nbest[str(i)], False)
    assert got["has_answer"] is (got["answer"] != "")
    windows = logits.get(i, [])
    assert out["window_mask"][i].sum() == len(windows)
    for w, (s, e) in enumerate(windows):
      np.testing.assert_allclose(out["start_logits"][i, w], s, atol=1e-4)
      np.testing.assert_allclose(out["end_logits"][i, w], e, atol=1e-4)
    if windows:
      best = nbest[str(i)][0]
      np.testing.assert_allclose(got["score"], best["start_logit"] + best["end_logit"],
                                 atol=1e-4)
  # Several windows really happened, and the padded ones are masked with zero logits.
  assert out["window_mask"].sum(axis=1).max() > 5
  assert not out["start_logits"][~out["window_mask"]].any()


def test_one_at_a_time_equals_the_batch(answerer):
  pairs = QUESTIONS_AND_CONTEXTS[:4] + QUESTIONS_AND_CONTEXTS[7:8]
  batch = _records(_serve(answerer, pairs))
  for pair, want in zip(pairs, batch):
    got = _records(_serve(answerer, [pair]))[0]
    assert (got["answer"], got["start"], got["end"]) == (want["answer"], want["start"],
                                                         want["end"])


def test_version_2_null_decision(model):
  pairs = QUESTIONS_AND_CONTEXTS
  # A threshold in the middle of the null score differences: both decisions happen.
  _, _, odds, _ = reference(model, pairs, version_2_with_negative=True)
  threshold = float(np.median(list(odds.values())))
  answerer = squad_serving.SquadAnswerer(model, VOCAB, True, version_2_with_negative=True,
                                         null_score_diff_threshold=threshold, **SETTINGS)
  out = _serve(answerer, pairs)
  predictions, nbest, null_odds, _ = reference(model, pairs, version_2_with_negative=True,
                                               null_score_diff_threshold=threshold)
  decided = []
  for i, (got, (_, context)) in enumerate(zip(_records(out), pairs)):
    check_record(context, got, predictions[str(i)], nbest[str(i)], True,
                 diff=null_odds[str(i)])
    assert got["has_answer"] is (got["answer"] != "")
    if context.strip():
      decided.append(got["has_answer"])
  assert set(decided) == {True, False}  # the threshold decides both ways
  assert _records(out)[7]["null_score_diff"] == 1000000.0  # empty context: the original's start


def test_cased_model_and_other_windows(model):
  pairs = QUESTIONS_AND_CONTEXTS
  settings = dict(SETTINGS, max_seq_length=24, doc_stride=3, max_query_length=4,
                  n_best_size=5, max_answer_length=4)
  answerer = squad_serving.SquadAnswerer(model, VOCAB, False, **settings)
  out = _serve(answerer, pairs)
  predictions, nbest, _, _ = reference(model, pairs, do_lower_case=False, **settings)
  for i, (got, (_, context)) in enumerate(zip(_records(out), pairs)):
    check_record(context, got, predictions[str(i)], nbest[str(i)], False)


def test_export_loads_in_a_fresh_process_without_bert_tf(model, tmp_path):
  export = str(tmp_path / "export")
  squad_serving.export_squad(model, VOCAB, export, do_lower_case=True, **SETTINGS)
  assert json.loads((tmp_path / "export" / "squad_settings.json").read_text()) == dict(
      SETTINGS, do_lower_case=True, version_2_with_negative=False,
      null_score_diff_threshold=0.0)
  assert os.path.exists(os.path.join(export, "assets", "vocab.txt"))
  assert os.path.exists(os.path.join(export, checkpoints.EXPORT_MARKER))
  pairs = QUESTIONS_AND_CONTEXTS
  (tmp_path / "request.json").write_text(json.dumps(pairs))
  script = textwrap.dedent("""
      import json, sys
      sys.modules["bert_tf"] = None  # importing bert_tf would fail here
      import tensorflow as tf
      pairs = json.load(open(sys.argv[2]))
      f = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
      out = f(question=tf.constant([q for q, _ in pairs]),
              context=tf.constant([c for _, c in pairs]))
      print("RESULT" + json.dumps({
          "keys": sorted(out), "answer": [a.decode() for a in out["answer"].numpy()],
          "start": out["start"].numpy().tolist(), "end": out["end"].numpy().tolist(),
          "modules": sorted(k for k in sys.modules if k.startswith("tensorflow_text"))}))
  """)
  (tmp_path / "serve.py").write_text(script)
  r = subprocess.run([PY, str(tmp_path / "serve.py"), export, str(tmp_path / "request.json")],
                     cwd=str(tmp_path), capture_output=True, text=True, timeout=300)
  assert r.returncode == 0, r.stderr[-3000:]
  got = json.loads(r.stdout.split("RESULT", 1)[1])
  assert got["keys"] == ["answer", "end", "end_logits", "has_answer", "null_score_diff",
                         "score", "start", "start_logits", "window_mask"]
  assert got["modules"] == []
  want = _records(_serve(squad_serving.SquadAnswerer(model, VOCAB, True, **SETTINGS), pairs))
  assert got["answer"] == [w["answer"] for w in want]
  assert got["start"] == [w["start"] for w in want]
  assert got["end"] == [w["end"] for w in want]
  # The TF1-style loader of saved_model_cli (as TF Serving's) runs it too.
  r = subprocess.run([os.path.join(os.path.dirname(PY), "saved_model_cli"), "run", "--dir",
                      export, "--tag_set", "serve", "--signature_def", "serving_default",
                      "--input_exprs", "question=['%s'];context=['%s']" % pairs[12]],
                     capture_output=True, text=True, timeout=300,
                     env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
  assert r.returncode == 0, r.stderr[-3000:]
  assert repr(want[12]["answer"].encode()) in r.stdout, r.stdout[-2000:]


def test_export_rejects_settings_the_run_would_refuse(model, tmp_path):
  with pytest.raises(ValueError, match="must be greater than max_query_length"):
    squad_serving.export_squad(model, VOCAB, str(tmp_path / "x"), do_lower_case=True,
                               **dict(SETTINGS, max_query_length=29))
  with pytest.raises(ValueError, match="doc_stride must be at least 1"):
    squad_serving.export_squad(model, VOCAB, str(tmp_path / "x"), do_lower_case=True,
                               **dict(SETTINGS, doc_stride=0))
  assert not os.path.exists(str(tmp_path / "x"))
