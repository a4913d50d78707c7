"""SQuAD post-processing: answers from start/end logits, and the logits.npz file.

`write_predictions` is google-research/bert's function of that name, with the
same files byte for byte (`json.dumps(obj, indent=4) + "\\n"`, ASCII-escaped,
example order): predictions.json (qas_id -> answer), nbest_predictions.json
(qas_id -> [{text, probability, start_logit, end_logit}]) and, for SQuAD 2.0,
null_odds.json (qas_id -> null score minus best non-null score).  Per example:

* each feature proposes the `n_best_size` best start and end indices (stable
  sort, ties to the lower index); a pair is kept if both are document tokens
  of the feature, the start is max-context there, end >= start and the span
  has at most `max_answer_length` tokens;
* SQuAD 2.0: the null score start[0] + end[0] is tracked as its minimum over
  the features and added as one more candidate;
* candidates sorted by start + end logit; the text of a span is its
  WordPiece text mapped back onto the original words by `get_final_text`
  (case, accents and trailing punctuation restored); duplicates skipped;
* probabilities are a softmax over the n-best scores; the answer is the
  best text (1.1) or "" when null score - best non-null score >
  `null_score_diff_threshold` (2.0).

Two deviations where the original crashes, both logged as warnings: in 2.0
an n-best with no non-null entry (google-research/bert #476) and an example
with no features, e.g. an empty context (#353), give the answer "".  Their
null_odds.json value is the null score itself (a difference against a 0 + 0
non-null score) for #476, and the original's starting null score 1000000.0
for #353 (n-best: one "" entry with logits 0.0).  In 1.1 an example without
features keeps the original's "empty".

`write_logits` / `read_logits` store the model's raw results as logits.npz
(unique_ids int64 [N], start_logits / end_logits float32 [N, S]), so
predictions can be re-made (another threshold) without the model;
`check_logits_match` fails in one line when such a file does not belong to
the features.
"""

import collections
import io
import json
import math

import numpy as np
from absl import logging

from bert_tf import files, tokenization
from bert_tf.squad.examples import SquadInputError

RawResult = collections.namedtuple("RawResult",
                                   ["unique_id", "start_logits", "end_logits"])

_PrelimPrediction = collections.namedtuple(
    "PrelimPrediction",
    ["feature_index", "start_index", "end_index", "start_logit", "end_logit"])

# feature_index, start_index, end_index: the span of a non-null entry (None otherwise),
# reported through compute_predictions' `answer_spans`.
_NbestPrediction = collections.namedtuple(
    "NbestPrediction", ["text", "start_logit", "end_logit", "feature_index", "start_index",
                        "end_index"], defaults=(None, None, None))

# The original's starting value of the minimum null score.
_NO_NULL_SCORE = 1000000


def _get_best_indexes(logits, n_best_size):
  """The indices of the n_best_size largest logits (stable: ties to the lower index)."""
  index_and_score = sorted(enumerate(logits), key=lambda x: x[1], reverse=True)
  return [index for index, _ in index_and_score[:n_best_size]]


def _compute_softmax(scores):
  """Softmax of Python floats, max-subtracted, with math.exp (as the original)."""
  if not scores:
    return []
  max_score = None
  for score in scores:
    if max_score is None or score > max_score:
      max_score = score
  exp_scores = []
  total_sum = 0.0
  for score in scores:
    x = math.exp(score - max_score)
    exp_scores.append(x)
    total_sum += x
  return [score / total_sum for score in exp_scores]


def _strip_spaces(text):
  """text without " " characters, and a map from its indices back to text's."""
  ns_chars = []
  ns_to_s_map = collections.OrderedDict()
  for i, c in enumerate(text):
    if c == " ":
      continue
    ns_to_s_map[len(ns_chars)] = i
    ns_chars.append(c)
  return "".join(ns_chars), ns_to_s_map


def get_final_text(pred_text, orig_text, do_lower_case, verbose_logging=False):
  """Projects the tokenized prediction back onto the original text.

  pred_text is normalized WordPiece text ("steve smith"), orig_text the
  original words it came from ("Steve Smith's").  orig_text is run through
  BasicTokenizer, pred_text is found in that, and the character positions
  are mapped back through the space-free versions of both, giving "Steve
  Smith".  When anything does not line up, orig_text is returned whole
  (logged when verbose_logging).
  """
  start, end = final_text_span(pred_text, orig_text, do_lower_case, verbose_logging)
  return orig_text[start:end]


def final_text_span(pred_text, orig_text, do_lower_case, verbose_logging=False):
  """(start, end) of get_final_text's result in orig_text (end exclusive):
  where the answer lies in the original words, for callers that need its
  character offsets (bert_tf.inference.answer); (0, len(orig_text)) when
  get_final_text returns orig_text whole."""
  whole = (0, len(orig_text))
  tokenizer = tokenization.BasicTokenizer(do_lower_case=do_lower_case)
  tok_text = " ".join(tokenizer.tokenize(orig_text))

  start_position = tok_text.find(pred_text)
  if start_position == -1:
    if verbose_logging:
      logging.info("Unable to find text: '%s' in '%s'" % (pred_text, orig_text))
    return whole
  end_position = start_position + len(pred_text) - 1

  orig_ns_text, orig_ns_to_s_map = _strip_spaces(orig_text)
  tok_ns_text, tok_ns_to_s_map = _strip_spaces(tok_text)

  if len(orig_ns_text) != len(tok_ns_text):
    if verbose_logging:
      logging.info("Length not equal after stripping spaces: '%s' vs '%s'",
                   orig_ns_text, tok_ns_text)
    return whole

  # Character positions of tok_text -> positions in the space-free text.
  tok_s_to_ns_map = {}
  for i, tok_index in tok_ns_to_s_map.items():
    tok_s_to_ns_map[tok_index] = i

  orig_start_position = None
  if start_position in tok_s_to_ns_map:
    ns_start_position = tok_s_to_ns_map[start_position]
    if ns_start_position in orig_ns_to_s_map:
      orig_start_position = orig_ns_to_s_map[ns_start_position]
  if orig_start_position is None:
    if verbose_logging:
      logging.info("Couldn't map start position")
    return whole

  orig_end_position = None
  if end_position in tok_s_to_ns_map:
    ns_end_position = tok_s_to_ns_map[end_position]
    if ns_end_position in orig_ns_to_s_map:
      orig_end_position = orig_ns_to_s_map[ns_end_position]
  if orig_end_position is None:
    if verbose_logging:
      logging.info("Couldn't map end position")
    return whole

  return orig_start_position, orig_end_position + 1


def prediction_span(example, feature, start_index, end_index, do_lower_case,
                    verbose_logging=False):
  """Where the final text of the non-null span start_index..end_index of `feature` lies:
  (first word, last word, start, end), the text being
  " ".join(example.doc_tokens[first:last + 1])[start:end]."""
  tok_tokens = feature.tokens[start_index:(end_index + 1)]
  orig_doc_start = feature.token_to_orig_map[start_index]
  orig_doc_end = feature.token_to_orig_map[end_index]
  orig_tokens = example.doc_tokens[orig_doc_start:(orig_doc_end + 1)]
  tok_text = " ".join(tok_tokens)
  # De-tokenize WordPieces that have been split off.
  tok_text = tok_text.replace(" ##", "")
  tok_text = tok_text.replace("##", "")
  # Clean whitespace.
  tok_text = tok_text.strip()
  tok_text = " ".join(tok_text.split())
  orig_text = " ".join(orig_tokens)
  start, end = final_text_span(tok_text, orig_text, do_lower_case, verbose_logging)
  return orig_doc_start, orig_doc_end, start, end


def _prediction_text(example, feature, pred, do_lower_case, verbose_logging):
  """The final text of a non-null candidate span (get_final_text's)."""
  first, last, start, end = prediction_span(example, feature, pred.start_index,
                                            pred.end_index, do_lower_case, verbose_logging)
  return " ".join(example.doc_tokens[first:(last + 1)])[start:end]


def compute_predictions(all_examples, all_features, all_results, n_best_size,
                        max_answer_length, do_lower_case,
                        version_2_with_negative=False,
                        null_score_diff_threshold=0.0, verbose_logging=False,
                        answer_spans=None):
  """The original write_predictions' computation, without writing files.

  Args:
    all_examples: SquadExamples, in input order.
    all_features: their InputFeatures (example_index into all_examples).
    all_results: RawResults (unique_id, start_logits, end_logits as Python
      floats) covering every feature.
    the rest: as the original flags.
    answer_spans: None, or a dict filled with qas_id -> the n-best entry
      (text, start_logit, end_logit, feature_index, start_index, end_index)
      of the answer's span: the best non-null one in 2.0 (also when the null
      answer wins), the first one in 1.1; None when there is no such span.

  Returns:
    (predictions, nbest, null_odds): OrderedDicts keyed by qas_id in example
    order; null_odds is empty unless version_2_with_negative.
  """
  example_index_to_features = collections.defaultdict(list)
  for feature in all_features:
    example_index_to_features[feature.example_index].append(feature)

  unique_id_to_result = {}
  for result in all_results:
    unique_id_to_result[result.unique_id] = result

  all_predictions = collections.OrderedDict()
  all_nbest_json = collections.OrderedDict()
  scores_diff_json = collections.OrderedDict()

  for example_index, example in enumerate(all_examples):
    features = example_index_to_features[example_index]

    prelim_predictions = []
    # The feature with the smallest null score (2.0).
    score_null = _NO_NULL_SCORE
    min_null_feature_index = 0
    null_start_logit = 0
    null_end_logit = 0
    for feature_index, feature in enumerate(features):
      result = unique_id_to_result[feature.unique_id]
      start_indexes = _get_best_indexes(result.start_logits, n_best_size)
      end_indexes = _get_best_indexes(result.end_logits, n_best_size)
      if version_2_with_negative:
        feature_null_score = result.start_logits[0] + result.end_logits[0]
        if feature_null_score < score_null:
          score_null = feature_null_score
          min_null_feature_index = feature_index
          null_start_logit = result.start_logits[0]
          null_end_logit = result.end_logits[0]
      num_tokens = len(feature.tokens)
      token_to_orig_map = feature.token_to_orig_map
      token_is_max_context = feature.token_is_max_context
      for start_index in start_indexes:
        for end_index in end_indexes:
          # Out of range, not in the document, or not max context: skip.
          if start_index >= num_tokens or end_index >= num_tokens:
            continue
          if start_index not in token_to_orig_map:
            continue
          if end_index not in token_to_orig_map:
            continue
          if not token_is_max_context.get(start_index, False):
            continue
          if end_index < start_index:
            continue
          length = end_index - start_index + 1
          if length > max_answer_length:
            continue
          prelim_predictions.append(_PrelimPrediction(
              feature_index=feature_index,
              start_index=start_index,
              end_index=end_index,
              start_logit=result.start_logits[start_index],
              end_logit=result.end_logits[end_index]))

    if version_2_with_negative and not features:
      # The original's null candidate would point at a feature that does not
      # exist (IndexError, #353).
      logging.warning("Question %s has no features (empty context?): its answer "
                      "is \"\"", example.qas_id)
      nbest_json = [collections.OrderedDict([
          ("text", ""), ("probability", 1.0), ("start_logit", 0.0),
          ("end_logit", 0.0)])]
      all_predictions[example.qas_id] = ""
      scores_diff_json[example.qas_id] = float(score_null)
      all_nbest_json[example.qas_id] = nbest_json
      if answer_spans is not None:
        answer_spans[example.qas_id] = None
      continue

    if version_2_with_negative:
      prelim_predictions.append(_PrelimPrediction(
          feature_index=min_null_feature_index,
          start_index=0,
          end_index=0,
          start_logit=null_start_logit,
          end_logit=null_end_logit))
    prelim_predictions = sorted(
        prelim_predictions,
        key=lambda x: (x.start_logit + x.end_logit),
        reverse=True)

    seen_predictions = {}
    nbest = []
    for pred in prelim_predictions:
      if len(nbest) >= n_best_size:
        break
      feature = features[pred.feature_index]
      if pred.start_index > 0:  # a non-null prediction
        final_text = _prediction_text(example, feature, pred, do_lower_case,
                                      verbose_logging)
        if final_text in seen_predictions:
          continue
        seen_predictions[final_text] = True
      else:
        final_text = ""
        seen_predictions[final_text] = True
      nbest.append(_NbestPrediction(
          text=final_text,
          start_logit=pred.start_logit,
          end_logit=pred.end_logit,
          feature_index=pred.feature_index if final_text else None,
          start_index=pred.start_index if final_text else None,
          end_index=pred.end_index if final_text else None))

    # 2.0: the null answer is always in the n-best.
    if version_2_with_negative and "" not in seen_predictions:
      nbest.append(_NbestPrediction(
          text="", start_logit=null_start_logit, end_logit=null_end_logit))
    # No valid span at all (1.1): a nonce prediction, as the original.
    if not nbest:
      nbest.append(_NbestPrediction(text="empty", start_logit=0.0, end_logit=0.0))

    total_scores = []
    best_non_null_entry = None
    for entry in nbest:
      total_scores.append(entry.start_logit + entry.end_logit)
      if not best_non_null_entry:
        if entry.text:
          best_non_null_entry = entry

    probs = _compute_softmax(total_scores)

    nbest_json = []
    for i, entry in enumerate(nbest):
      output = collections.OrderedDict()
      output["text"] = entry.text
      output["probability"] = probs[i]
      output["start_logit"] = entry.start_logit
      output["end_logit"] = entry.end_logit
      nbest_json.append(output)

    if not version_2_with_negative:
      all_predictions[example.qas_id] = nbest_json[0]["text"]
    elif best_non_null_entry is None:
      # Every n-best entry is null: the original crashes here (#476).
      logging.warning("Question %s has no non-null answer in its n-best list: "
                      "its answer is \"\"", example.qas_id)
      scores_diff_json[example.qas_id] = score_null
      all_predictions[example.qas_id] = ""
    else:
      # "" iff the null score - the score of the best non-null > threshold.
      score_diff = score_null - best_non_null_entry.start_logit - (
          best_non_null_entry.end_logit)
      scores_diff_json[example.qas_id] = score_diff
      if score_diff > null_score_diff_threshold:
        all_predictions[example.qas_id] = ""
      else:
        all_predictions[example.qas_id] = best_non_null_entry.text

    all_nbest_json[example.qas_id] = nbest_json
    if answer_spans is not None:
      chosen = best_non_null_entry if version_2_with_negative else nbest[0]
      answer_spans[example.qas_id] = (
          chosen if chosen is not None and chosen.start_index is not None else None)

  return all_predictions, all_nbest_json, scores_diff_json


def best_non_null_answers(nbest):
  """qas_id -> the first non-empty text of its n-best list ("" if none).

  What the answers would be with an infinite null_score_diff_threshold (for
  evaluate.evaluate_v2's threshold search).
  """
  return collections.OrderedDict(
      (qas_id, next((e["text"] for e in entries if e["text"]), ""))
      for qas_id, entries in nbest.items())


def dumps(obj):
  """The original's file text: json.dumps(obj, indent=4) + newline (ASCII-escaped)."""
  return json.dumps(obj, indent=4) + "\n"


def _write(path, obj):
  # Old file or new, never half of one (the original opened the file and wrote into it).
  files.write_atomically(path, dumps(obj))


def write_predictions(all_examples, all_features, all_results, n_best_size,
                      max_answer_length, do_lower_case, output_prediction_file,
                      output_nbest_file, output_null_log_odds_file,
                      version_2_with_negative=False,
                      null_score_diff_threshold=0.0, verbose_logging=False):
  """Writes predictions.json, nbest_predictions.json (and null_odds.json for 2.0).

  Same arguments as the original plus its three flags as plain arguments;
  returns (predictions, nbest, null_odds) as compute_predictions.
  """
  logging.info("Writing predictions to: %s" % (output_prediction_file))
  logging.info("Writing nbest to: %s" % (output_nbest_file))
  predictions, nbest, null_odds = compute_predictions(
      all_examples, all_features, all_results, n_best_size, max_answer_length,
      do_lower_case, version_2_with_negative, null_score_diff_threshold,
      verbose_logging)
  _write(output_prediction_file, predictions)
  _write(output_nbest_file, nbest)
  if version_2_with_negative:
    _write(output_null_log_odds_file, null_odds)
  return predictions, nbest, null_odds


# ----------------------------------------------------------------------------
# logits.npz
# ----------------------------------------------------------------------------


def write_logits(path, results):
  """Saves RawResults as logits.npz: unique_ids int64 [N], start/end_logits float32 [N, S]."""
  unique_ids = np.array([r.unique_id for r in results], np.int64)
  start = np.array([np.asarray(r.start_logits, np.float32) for r in results], np.float32)
  end = np.array([np.asarray(r.end_logits, np.float32) for r in results], np.float32)
  if not results:
    start = end = np.zeros((0, 0), np.float32)
  buffer = io.BytesIO()
  np.savez(buffer, unique_ids=unique_ids, start_logits=start, end_logits=end)
  files.write_atomically(path, buffer.getvalue())


def results_from_arrays(unique_ids, start_logits, end_logits):
  """RawResults with Python floats of the float32 values, as the original main()."""
  start_logits = np.asarray(start_logits, np.float32).tolist()
  end_logits = np.asarray(end_logits, np.float32).tolist()
  return [RawResult(unique_id=int(u), start_logits=s, end_logits=e)
          for u, s, e in zip(np.asarray(unique_ids).tolist(), start_logits, end_logits)]


def read_logits(path):
  """The RawResults stored in a logits.npz file (SquadInputError if it is not one)."""
  try:
    data = np.load(path)
    if not hasattr(data, "files"):  # a .npy array, not an archive
      raise ValueError("a single array")
    with data:
      missing = [k for k in ("unique_ids", "start_logits", "end_logits") if k not in data]
      if missing:
        raise SquadInputError(
            "%s: no %s array; a logits file holds unique_ids, start_logits and "
            "end_logits (the logits.npz of a predict run)" % (path, missing[0]))
      unique_ids = data["unique_ids"]
      start_logits = data["start_logits"]
      end_logits = data["end_logits"]
  except SquadInputError:
    raise
  except FileNotFoundError:
    raise SquadInputError("%s: file not found; pass the logits.npz written by a "
                          "previous predict run" % path) from None
  except (ValueError, OSError) as e:
    raise SquadInputError("%s: not a .npz file (%s); pass the logits.npz written by "
                          "a previous predict run" % (path, e)) from None
  if (unique_ids.ndim != 1 or start_logits.ndim != 2 or
      start_logits.shape != end_logits.shape or
      start_logits.shape[0] != unique_ids.shape[0]):
    raise SquadInputError(
        "%s: unique_ids %s, start_logits %s and end_logits %s do not fit together; "
        "expected [N], [N, max_seq_length], [N, max_seq_length]"
        % (path, unique_ids.shape, start_logits.shape, end_logits.shape))
  return results_from_arrays(unique_ids, start_logits, end_logits)


def check_logits_match(path, results, features):
  """SquadInputError unless `results` (read from `path`) cover exactly `features`."""
  seq_length = len(features[0].input_ids) if features else None
  ids = [r.unique_id for r in results]
  want = [f.unique_id for f in features]
  widths = {len(r.start_logits) for r in results}
  what_to_do = ("make it with the same predict_file, vocab, do_lower_case, "
                "max_seq_length, doc_stride and max_query_length, or predict "
                "without it")
  if set(ids) != set(want) or len(ids) != len(want):
    missing = sorted(set(want) - set(ids))
    detail = ("feature id %d has no logits" % missing[0]) if missing else (
        "it holds logits for ids the features do not have")
    raise SquadInputError(
        "%s: logits for %d features, but the predict file gives %d features (%s); %s"
        % (path, len(ids), len(want), detail, what_to_do))
  if features and widths != {seq_length}:
    raise SquadInputError(
        "%s: logits of width %s, but the features have max_seq_length %d; %s"
        % (path, "/".join(str(w) for w in sorted(widths)), seq_length, what_to_do))
