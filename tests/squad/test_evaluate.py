"""Official SQuAD metrics: the figures the official scripts give on the oracle's predictions."""
import pytest

from squad_testing import read_json, squad_path

from bert_tf.squad import evaluate

# From the oracle README (evaluate-v1.1.py / evaluate-v2.0.py on these files).
V1 = {
    "predict_v1": (63.1578947368421, 63.63636363636365),
    "predict_model_logits": (0.0, 7.534176349965824),
}
# exact, f1, HasAns exact, HasAns f1, NoAns exact (no --na-prob-file).
V2 = {
    "predict_v2_thr0": (52.38095238095238, 55.01831501831502, 44.44444444444444,
                        50.598290598290596, 58.333333333333336),
    "predict_v2_thr2.5": (23.80952380952381, 26.446886446886452, 44.44444444444444,
                          50.598290598290596, 8.333333333333334),
    "predict_model_logits": (0.0, 5.789871504157219, 0.0, 13.509700176366843, 0.0),
}
# With --na-prob-file null_odds.json (and its default --na-prob-thresh 1.0).
V2_WITH_FILE = {
    "predict_v2_thr0": (52.38095238095238, 55.01831501831502,
                        76.19047619047619, -11.164110004901886, 78.09523809523809, -8.2806755900383),
    "predict_v2_thr2.5": (42.857142857142854, 45.4945054945055,
                          76.19047619047619, -11.164110004901886, 78.09523809523809, -8.2806755900383),
    "predict_model_logits": (0.0, 5.789871504157219,
                             57.142857142857146, 0.0, 57.142857142857146, 0.0),
}


@pytest.mark.parametrize("directory", sorted(V1))
def test_v1_figures(directory):
  dataset = evaluate.load_dataset(squad_path("input_v1_dev.json"))
  predictions = read_json("v1", directory, "predictions.json.gz")
  got = evaluate.evaluate_v1(dataset, predictions)
  assert (got["exact_match"], got["f1"]) == V1[directory]
  assert evaluate.evaluate(dataset, predictions, False) == got


@pytest.mark.parametrize("directory", sorted(V2))
def test_v2_figures(directory):
  dataset = evaluate.load_dataset(squad_path("input_v2_dev.json"))
  predictions = read_json("v2", directory, "predictions.json.gz")
  null_odds = read_json("v2", directory, "null_odds.json.gz")
  got = evaluate.evaluate_v2(dataset, predictions)
  exact, f1, has_exact, has_f1, no_exact = V2[directory]
  assert (got["exact"], got["f1"], got["total"]) == (exact, f1, 21)
  assert (got["HasAns_exact"], got["HasAns_f1"], got["HasAns_total"]) == (has_exact, has_f1, 9)
  assert (got["NoAns_exact"], got["NoAns_total"]) == (no_exact, 12)

  # The official script with --na-prob-file: its 1.0 threshold re-applied, plus best_*.
  official = evaluate.evaluate_v2(dataset, predictions, null_odds, na_prob_thresh=1.0)
  exact, f1, best_exact, exact_thresh, best_f1, f1_thresh = V2_WITH_FILE[directory]
  assert (official["exact"], official["f1"]) == (exact, f1)
  assert (official["best_exact"], official["best_exact_thresh"]) == (best_exact, exact_thresh)
  assert (official["best_f1"], official["best_f1_thresh"]) == (best_f1, f1_thresh)

  # run_squad's convention: the predictions as written, thresholds in logits.
  ours = evaluate.evaluate(dataset, predictions, True, null_odds)
  assert (ours["exact"], ours["f1"]) == (got["exact"], got["f1"])
  assert (ours["best_f1"], ours["best_f1_thresh"]) == (best_f1, f1_thresh)


def test_best_threshold_is_a_null_score_diff_threshold():
  """Re-deciding with the reported threshold gives the reported best score."""
  dataset = evaluate.load_dataset(squad_path("input_v2_dev.json"))
  nbest = read_json("v2", "predict_v2_thr2.5", "nbest_predictions.json.gz")
  null_odds = read_json("v2", "predict_v2_thr2.5", "null_odds.json.gz")
  from bert_tf.squad.postprocess import best_non_null_answers
  answers = best_non_null_answers(nbest)
  got = evaluate.evaluate_v2(dataset, answers, null_odds, search_predictions=answers)
  for key in ("exact", "f1"):
    threshold = got["best_%s_thresh" % key]
    # run_squad's rule: "" when null_odds > null_score_diff_threshold.
    repredicted = {q: ("" if null_odds[q] > threshold else a) for q, a in answers.items()}
    assert evaluate.evaluate_v2(dataset, repredicted)[key] == got["best_%s" % key]


def test_normalization_and_scores():
  assert evaluate.normalize_answer("The  Normans,  of an   Era!") == "normans of era"
  assert evaluate.f1_v1("the cat sat", "a cat sat down") == pytest.approx(0.8)
  assert evaluate.f1_v1("", "") == 0  # v1.1: no tokens, no overlap
  assert evaluate.f1_v2("", "") == 1 and evaluate.f1_v2("x", "") == 0
  assert evaluate.exact_v2("The Cat", "cat") == 1


def test_missing_prediction_scores_zero_in_v1_and_is_left_out_in_v2():
  def qa(qid, answers):
    return {"id": qid, "question": "?", "answers": [{"text": t, "answer_start": 0} for t in answers]}
  v1 = [{"paragraphs": [{"context": "x y", "qas": [qa("a", ["x"]), qa("c", ["y"])]}]}]
  assert evaluate.evaluate_v1(v1, {"a": "x"}) == {"exact_match": 50.0, "f1": 50.0}
  v2 = [{"paragraphs": [{"context": "x", "qas": [qa("a", ["x"]), qa("b", [])]}]}]
  got = evaluate.evaluate_v2(v2, {"a": "x"})
  assert (got["exact"], got["total"], got["HasAns_total"]) == (100.0, 1, 1)
  assert "NoAns_total" not in got


def test_unanswerable_ids_are_what_the_11_metrics_cannot_score():
  dataset = [{"paragraphs": [{"context": "x y", "qas": [
      {"id": "q1", "answers": [{"text": "x", "answer_start": 0}]},
      {"id": "q2", "answers": [], "is_impossible": True},
      {"id": "q3", "answers": [{"text": "y", "answer_start": 2}]}]}]}]
  assert evaluate.unanswerable_ids(dataset) == ["q2"]
  assert evaluate.has_gold_answers(dataset)
  with pytest.raises(ValueError):  # what run_squad.py now avoids (a warning, no eval file)
    evaluate.evaluate_v1(dataset, {"q1": "x", "q2": "", "q3": "y"})
  answerable = [{"paragraphs": [{"context": "x y", "qas": dataset[0]["paragraphs"][0]["qas"][::2]}]}]
  assert evaluate.unanswerable_ids(answerable) == []
  assert evaluate.evaluate_v1(answerable, {"q1": "x", "q3": "y"}) == {"exact_match": 100.0,
                                                                      "f1": 100.0}
