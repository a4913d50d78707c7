"""write_predictions: byte parity with the original's files, get_final_text, crash cases, logits.npz."""
import gzip
import json
import logging
import os

import numpy as np
import pytest

from squad_testing import (DOC_STRIDE, MAX_QUERY_LENGTH, MAX_SEQ_LENGTH, absl_messages,
                           read_json, squad_path)

from bert_tf.squad import features_fast
from bert_tf.squad import postprocess
from bert_tf.squad.examples import SquadExample, SquadInputError, read_squad_examples

OUTPUTS = ("predictions.json", "nbest_predictions.json", "null_odds.json")


def _eval_set(version, tokenizer):
  examples = read_squad_examples(squad_path("input_%s_dev.json" % version), False,
                                 version == "v2")
  features = features_fast.convert_examples_to_features(
      examples, tokenizer, MAX_SEQ_LENGTH, DOC_STRIDE, MAX_QUERY_LENGTH, False)
  return examples, features


@pytest.mark.parametrize("version,directory,logits,threshold", [
    ("v1", "predict_v1", "raw_results.npz", 0.0),
    ("v1", "predict_model_logits", "model_logits.npz", 0.0),
    ("v2", "predict_v2_thr0", "raw_results.npz", 0.0),
    ("v2", "predict_v2_thr2.5", "raw_results.npz", 2.5),
    ("v2", "predict_model_logits", "model_logits.npz", 0.0),
])
def test_prediction_files_match_original_bytes(version, directory, logits, threshold,
                                               tokenizer, tmp_path, caplog):
  caplog.set_level(logging.INFO, logger="absl")
  examples, features = _eval_set(version, tokenizer)
  logits_file = squad_path(version, logits)
  results = postprocess.read_logits(logits_file)
  postprocess.check_logits_match(logits_file, results, features)
  out = {name: str(tmp_path / name) for name in OUTPUTS}
  caplog.clear()
  postprocess.write_predictions(
      examples, features, results, 20, 30, True, out["predictions.json"],
      out["nbest_predictions.json"], out["null_odds.json"],
      version_2_with_negative=version == "v2", null_score_diff_threshold=threshold,
      verbose_logging=True)
  for name in OUTPUTS:
    fixture = squad_path(version, directory, name + ".gz")
    if not os.path.exists(fixture):
      assert name == "null_odds.json" and not os.path.exists(out[name])
      continue
    with gzip.open(fixture, "rb") as f:
      want = f.read()
    with open(out[name], "rb") as f:
      assert f.read() == want, name
  # The oracle's write_predictions.log (verbose_logging) is empty.
  assert absl_messages(caplog) == ["Writing predictions to: %s" % out["predictions.json"],
                                   "Writing nbest to: %s" % out["nbest_predictions.json"]]


def test_get_final_text_cases(caplog):
  for case in read_json("get_final_text_cases.json"):
    caplog.set_level(logging.INFO, logger="absl")
    caplog.clear()
    got = postprocess.get_final_text(case["pred_text"], case["orig_text"],
                                     case["do_lower_case"], verbose_logging=True)
    assert got == case["output"]
    assert absl_messages(caplog) == case["log"]


def test_get_final_text_fallbacks(caplog):
  caplog.set_level(logging.INFO, logger="absl")
  cases = [
      ("zz", "a b", "Unable to find text: 'zz' in 'a b'"),
      # A character BasicTokenizer deletes (U+200B is Cf) makes the lengths differ.
      ("ab", "a\u200bb", "Length not equal after stripping spaces: 'a\u200bb' vs 'ab'"),
      (" b", "a-b", "Couldn't map start position"),
      ("a ", "a-b", "Couldn't map end position"),
  ]
  for pred, orig, message in cases:
    caplog.clear()
    assert postprocess.get_final_text(pred, orig, True, True) == orig
    assert absl_messages(caplog) == [message]
  caplog.clear()
  assert postprocess.get_final_text("x", "y", True, False) == "y"
  assert absl_messages(caplog) == []


def test_softmax_and_best_indexes_as_the_original():
  assert postprocess._get_best_indexes([1.0, 3.0, 3.0, 2.0], 3) == [1, 2, 3]
  probs = postprocess._compute_softmax([1.0, 2.0])
  assert probs == [1.0 / (1.0 + np.exp(1.0)), np.exp(1.0) / (1.0 + np.exp(1.0))] or \
      abs(sum(probs) - 1.0) < 1e-15
  assert postprocess._compute_softmax([]) == []


def _one_feature_case(tokenizer, context, question="what is it?"):
  words = context.split()
  example = SquadExample("q1", question, words)
  features = features_fast.convert_examples_to_features(
      [example], tokenizer, 32, 8, 8, False)
  return example, features


def test_all_null_nbest_gives_empty_answer_not_a_crash(tokenizer, tmp_path, caplog):
  # google-research/bert #476: only the null candidate survives (the best start
  # is a query token), so the original's best_non_null_entry stays None.
  example, features = _one_feature_case(tokenizer, "alpha beta gamma")
  width = len(features[0].input_ids)
  start = [0.0] * width
  end = [0.0] * width
  start[1] = end[1] = 9.0  # the question's first token
  start[0], end[0] = 1.0, 0.5
  result = postprocess.RawResult(features[0].unique_id, start, end)
  caplog.set_level(logging.WARNING, logger="absl")
  preds, nbest, odds = postprocess.compute_predictions(
      [example], features, [result], n_best_size=1, max_answer_length=30,
      do_lower_case=True, version_2_with_negative=True)
  assert preds == {"q1": ""}
  assert [e["text"] for e in nbest["q1"]] == [""]
  assert odds == {"q1": 1.5}
  assert any("no non-null answer" in m for m in absl_messages(caplog))


def test_example_without_features(tokenizer, caplog):
  # google-research/bert #353: an empty context gives no feature; the original
  # raises IndexError in 2.0 and answers "empty" in 1.1.
  empty = SquadExample("empty", "why?", [])
  fine, features = _one_feature_case(tokenizer, "alpha beta gamma")
  width = len(features[0].input_ids)
  results = [postprocess.RawResult(features[0].unique_id, [0.0] * width, [0.0] * width)]
  for f in features:
    f.example_index = 1
  caplog.set_level(logging.WARNING, logger="absl")
  preds, nbest, odds = postprocess.compute_predictions(
      [empty, fine], features, results, 20, 30, True, version_2_with_negative=True)
  assert preds["empty"] == ""
  assert nbest["empty"] == [{"text": "", "probability": 1.0, "start_logit": 0.0,
                             "end_logit": 0.0}]
  assert odds["empty"] == 1000000.0  # the original's starting null score
  assert any("no features" in m for m in absl_messages(caplog))
  preds, nbest, _ = postprocess.compute_predictions(
      [empty, fine], features, results, 20, 30, True, version_2_with_negative=False)
  assert preds["empty"] == "empty"


def test_logits_file_round_trip_and_checks(tokenizer, tmp_path):
  _, features = _eval_set("v2", tokenizer)
  results = postprocess.read_logits(squad_path("v2", "raw_results.npz"))
  path = str(tmp_path / "logits.npz")
  postprocess.write_logits(path, results)
  with np.load(path) as data:
    assert data["unique_ids"].dtype == np.int64 and data["unique_ids"].shape == (126,)
    assert data["start_logits"].dtype == np.float32
    assert data["end_logits"].shape == (126, MAX_SEQ_LENGTH)
  again = postprocess.read_logits(path)
  assert again == results
  postprocess.check_logits_match(path, again, features)

  with pytest.raises(SquadInputError, match="logits for 125 features, but the predict "
                                            "file gives 126 features"):
    postprocess.check_logits_match(path, again[:-1], features)
  narrow = [postprocess.RawResult(r.unique_id, r.start_logits[:32], r.end_logits[:32])
            for r in results]
  with pytest.raises(SquadInputError, match="width 32, but the features have "
                                            "max_seq_length 64"):
    postprocess.check_logits_match(path, narrow, features)
  bad = tmp_path / "bad.npz"
  bad.write_text("no", encoding="utf-8")
  with pytest.raises(SquadInputError, match="bad.npz: not a .npz file"):
    postprocess.read_logits(str(bad))
  single = tmp_path / "single.npy"
  np.save(str(single), np.zeros(3))
  with pytest.raises(SquadInputError, match="single.npy: not a .npz file"):
    postprocess.read_logits(str(single))
  other = tmp_path / "other.npz"
  np.savez(str(other), ids=np.zeros(3))
  with pytest.raises(SquadInputError, match=r"other.npz: no unique_ids array; a logits file holds"):
    postprocess.read_logits(str(other))


def test_best_non_null_answers():
  nbest = {"a": [{"text": ""}, {"text": "x"}], "b": [{"text": ""}], "c": [{"text": "y"}]}
  assert postprocess.best_non_null_answers(nbest) == {"a": "x", "b": "", "c": "y"}


def test_files_are_ascii_indent_4():
  text = postprocess.dumps({"q": "Caf\u00e9", "p": 0.1})
  assert text == json.dumps({"q": "Caf\u00e9", "p": 0.1}, indent=4) + "\n"
  assert "\\u00e9" in text and text.isascii()
