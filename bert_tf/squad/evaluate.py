"""The official SQuAD metrics (evaluate-v1.1 and evaluate-v2.0), computed in process.

Written from the published definition of the two official scripts:

* Answers are normalized: lower-cased, every ASCII punctuation character
  (string.punctuation) removed, the words "a", "an", "the" removed, runs of
  whitespace squeezed to one space.
* Exact match: the normalized prediction equals a normalized gold answer.
  F1: over the normalized words, 2PR/(P+R) of the multiset overlap.  A
  question scores its best gold answer.
* SQuAD 1.1 (`evaluate_v1`): exact_match and f1 in percent over all
  questions of the file (a question without a prediction scores 0).
* SQuAD 2.0 (`evaluate_v2`): gold answers that normalize to "" are dropped
  and an unanswerable question's gold is "" (an empty prediction and an empty
  gold make F1 1, otherwise an empty side makes it 0).  exact / f1 / total
  over the questions that have a prediction, the same per HasAns_* and
  NoAns_* subset, and with `na_probs` the best_exact / best_f1 reachable by
  answering "" to every question whose na_prob is above a threshold, with
  that threshold.

Threshold convention (what `--null_score_diff_threshold` needs):
run_squad's null_odds.json holds, per question, null score - best non-null
score in LOGITS, and run_squad answers "" when that difference is greater
than `null_score_diff_threshold`.  Passed as `na_probs`, these differences
make best_exact_thresh / best_f1_thresh logit differences with the same
rule, so the reported thresholds are directly usable as
`--null_score_diff_threshold`.  The figures equal the official
evaluate-v2.0.py run with `--na-prob-file null_odds.json`.

The official script's trap: with `--na-prob-file` it ALSO applies its own
`--na-prob-thresh` (default 1.0) to those logit differences before exact /
f1, as if they were probabilities, which changes the scores whenever
run_squad ran with a threshold above 1.0.  By default (`na_prob_thresh=None`)
exact / f1 / HasAns / NoAns here are those of the predictions as written,
i.e. the official script without `--na-prob-file`; pass a number to
reproduce the script with `--na-prob-file --na-prob-thresh` exactly.

Deviation: the official v2.0 script raises KeyError for HasAns/NoAns when a
question has no prediction; here such questions are left out of those
subsets as they are out of `total`.
"""

import collections
import re
import string

from bert_tf.squad.examples import load_squad_json

_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)


def normalize_answer(s):
  """Lower case, no punctuation, no articles a/an/the, single spaces."""
  s = s.lower()
  s = "".join(ch for ch in s if ch not in _PUNCTUATION)
  s = _ARTICLES.sub(" ", s)
  return " ".join(s.split())


def _overlap_f1(prediction_tokens, gold_tokens):
  common = collections.Counter(prediction_tokens) & collections.Counter(gold_tokens)
  num_same = sum(common.values())
  if num_same == 0:
    return 0
  precision = 1.0 * num_same / len(prediction_tokens)
  recall = 1.0 * num_same / len(gold_tokens)
  return (2 * precision * recall) / (precision + recall)


# ----------------------------------------------------------------------------
# SQuAD 1.1
# ----------------------------------------------------------------------------


def f1_v1(prediction, ground_truth):
  return _overlap_f1(normalize_answer(prediction).split(),
                     normalize_answer(ground_truth).split())


def exact_match_v1(prediction, ground_truth):
  return normalize_answer(prediction) == normalize_answer(ground_truth)


def evaluate_v1(dataset, predictions):
  """{"exact_match", "f1"} in percent, as evaluate-v1.1.py.

  dataset: the file's "data" list; predictions: qas_id -> answer text.
  """
  exact_match = f1 = total = 0
  for article in dataset:
    for paragraph in article["paragraphs"]:
      for qa in paragraph["qas"]:
        total += 1
        if qa["id"] not in predictions:
          continue  # scores 0
        golds = [answer["text"] for answer in qa["answers"]]
        prediction = predictions[qa["id"]]
        exact_match += max(exact_match_v1(prediction, g) for g in golds)
        f1 += max(f1_v1(prediction, g) for g in golds)
  return {"exact_match": 100.0 * exact_match / total, "f1": 100.0 * f1 / total}


# ----------------------------------------------------------------------------
# SQuAD 2.0
# ----------------------------------------------------------------------------


def _tokens_v2(s):
  return normalize_answer(s).split() if s else []


def exact_v2(gold, prediction):
  return int(normalize_answer(gold) == normalize_answer(prediction))


def f1_v2(gold, prediction):
  gold_tokens = _tokens_v2(gold)
  prediction_tokens = _tokens_v2(prediction)
  if not gold_tokens or not prediction_tokens:
    return int(gold_tokens == prediction_tokens)
  return _overlap_f1(prediction_tokens, gold_tokens)


def _has_answer(dataset):
  """qas_id -> whether it has gold answers, in file order."""
  return collections.OrderedDict(
      (qa["id"], bool(qa["answers"]))
      for article in dataset for paragraph in article["paragraphs"]
      for qa in paragraph["qas"])


def _raw_scores(dataset, predictions):
  exact, f1 = collections.OrderedDict(), collections.OrderedDict()
  for article in dataset:
    for paragraph in article["paragraphs"]:
      for qa in paragraph["qas"]:
        qid = qa["id"]
        if qid not in predictions:
          continue
        golds = [a["text"] for a in qa["answers"] if normalize_answer(a["text"])]
        if not golds:  # unanswerable: the only right answer is ""
          golds = [""]
        prediction = predictions[qid]
        exact[qid] = max(exact_v2(g, prediction) for g in golds)
        f1[qid] = max(f1_v2(g, prediction) for g in golds)
  return exact, f1


def _apply_threshold(scores, na_probs, has_answer, threshold):
  out = collections.OrderedDict()
  for qid, score in scores.items():
    if na_probs[qid] > threshold:  # answered "" by the threshold
      out[qid] = float(not has_answer[qid])
    else:
      out[qid] = score
  return out


def _summary(exact, f1, qids=None):
  if not qids:
    total = len(exact)
    return collections.OrderedDict([
        ("exact", 100.0 * sum(exact.values()) / total),
        ("f1", 100.0 * sum(f1.values()) / total),
        ("total", total)])
  total = len(qids)
  return collections.OrderedDict([
      ("exact", 100.0 * sum(exact[k] for k in qids) / total),
      ("f1", 100.0 * sum(f1[k] for k in qids) / total),
      ("total", total)])


def _best_threshold(predictions, scores, na_probs, has_answer):
  """(best score in percent, its threshold): answer "" above the threshold.

  Walks the questions by increasing na_prob, starting from "everything is
  null" (all unanswerable questions right), adding one answered question at
  a time.
  """
  score = best_score = sum(1 for v in has_answer.values() if not v)
  best_threshold = 0.0
  for qid in sorted(na_probs, key=lambda k: na_probs[k]):
    if qid not in scores:
      continue
    if has_answer[qid]:
      score += scores[qid]
    elif predictions[qid]:
      score -= 1
    if score > best_score:
      best_score = score
      best_threshold = na_probs[qid]
  return 100.0 * best_score / len(scores), best_threshold


def evaluate_v2(dataset, predictions, na_probs=None, na_prob_thresh=None,
                search_predictions=None):
  """The evaluate-v2.0.py figures as an OrderedDict.

  Args:
    dataset: the file's "data" list.
    predictions: qas_id -> answer text ("" = no answer).
    na_probs: qas_id -> null score difference (run_squad's null_odds.json);
      adds best_exact / best_exact_thresh / best_f1 / best_f1_thresh in
      those units.
    na_prob_thresh: None: exact/f1 of `predictions` as they are.  A number:
      also answer "" where na_probs > na_prob_thresh first, as the official
      script with --na-prob-file does (its default is 1.0).
    search_predictions: the answers the threshold search scores (default:
      `predictions`, as the official script).  Predictions made with a
      threshold already hold "" above it, so the official search cannot see
      what a higher threshold would answer; passing every question's best
      non-null answer (postprocess.best_non_null_answers of the n-best) makes
      the best_* figures exactly what re-predicting at best_*_thresh gives.

  Returns:
    exact, f1, total, HasAns_exact/f1/total, NoAns_exact/f1/total (when the
    file has such questions) and the best_* entries with na_probs.
  """
  has_answer = _has_answer(dataset)
  exact_raw, f1_raw = _raw_scores(dataset, predictions)
  exact, f1 = exact_raw, f1_raw
  if na_probs is not None and na_prob_thresh is not None:
    exact = _apply_threshold(exact_raw, na_probs, has_answer, na_prob_thresh)
    f1 = _apply_threshold(f1_raw, na_probs, has_answer, na_prob_thresh)
  out = _summary(exact, f1)
  for prefix, wanted in (("HasAns", True), ("NoAns", False)):
    qids = [k for k, v in has_answer.items() if v == wanted and k in exact]
    if qids:
      for key, value in _summary(exact, f1, qids).items():
        out["%s_%s" % (prefix, key)] = value
  if na_probs is not None:
    if search_predictions is not None:
      predictions = search_predictions
      exact_raw, f1_raw = _raw_scores(dataset, predictions)
    best_exact, exact_thresh = _best_threshold(predictions, exact_raw, na_probs, has_answer)
    best_f1, f1_thresh = _best_threshold(predictions, f1_raw, na_probs, has_answer)
    out["best_exact"] = best_exact
    out["best_exact_thresh"] = exact_thresh
    out["best_f1"] = best_f1
    out["best_f1_thresh"] = f1_thresh
  return out


def evaluate(dataset, predictions, version_2_with_negative, null_odds=None):
  """run_squad's built-in evaluation: v1.1 or v2.0 figures (see the module doc).

  For 2.0 with null_odds the best_*_thresh are logit differences, usable as
  --null_score_diff_threshold.
  """
  if version_2_with_negative:
    return evaluate_v2(dataset, predictions, na_probs=null_odds)
  return evaluate_v1(dataset, predictions)


def has_gold_answers(dataset):
  """Whether a predict file carries answers to evaluate against (any question has one)."""
  return any(qa.get("answers") for article in dataset
             for paragraph in article["paragraphs"] for qa in paragraph["qas"])


def unanswerable_ids(dataset):
  """The ids of questions without any answer (SQuAD 2.0's unanswerable ones): the 1.1
  metrics cannot score them (evaluate-v1.1.py fails on them with max() of nothing)."""
  return [qa["id"] for article in dataset for paragraph in article["paragraphs"]
          for qa in paragraph["qas"] if not qa.get("answers")]


def load_dataset(path):
  """The "data" list of a SQuAD file (SquadInputError when it is not one)."""
  return load_squad_json(path)
