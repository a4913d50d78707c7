"""convert_examples_to_features: parity with the original's features and log, fast == reference."""
import gzip
import json
import logging
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from squad_testing import (DOC_STRIDE, MAX_QUERY_LENGTH, MAX_SEQ_LENGTH, absl_messages,
                           read_json, read_text, squad_path)

from bert_tf import tokenization
from bert_tf.squad import features as squad_features
from bert_tf.squad import features_fast
from bert_tf.squad.examples import SquadExample, read_squad_examples
from bert_tf.squad.records import shuffle_training_examples

CONVERTERS = {
    "reference": squad_features.convert_examples_to_features_reference,
    "fast": features_fast.convert_examples_to_features,
}


def as_fixture_dict(f):
  """A feature as the oracle's JSON has it (map keys as strings, insertion order kept)."""
  return {"unique_id": f.unique_id, "example_index": f.example_index,
          "doc_span_index": f.doc_span_index, "tokens": f.tokens,
          "token_to_orig_map": {str(k): v for k, v in f.token_to_orig_map.items()},
          "token_is_max_context": {str(k): v for k, v in f.token_is_max_context.items()},
          "input_ids": f.input_ids, "input_mask": f.input_mask,
          "segment_ids": f.segment_ids, "start_position": f.start_position,
          "end_position": f.end_position, "is_impossible": f.is_impossible}


def as_tuple(f):
  return (f.unique_id, f.example_index, f.doc_span_index, f.tokens,
          list(f.token_to_orig_map.items()), list(f.token_is_max_context.items()),
          f.input_ids, f.input_mask, f.segment_ids, f.start_position,
          f.end_position, f.is_impossible)


def _examples(version, mode):
  is_training = mode == "train"
  path = squad_path("input_%s_%s.json" % (version, "train" if is_training else "dev"))
  return read_squad_examples(path, is_training, version == "v2"), is_training


@pytest.mark.parametrize("converter", sorted(CONVERTERS))
@pytest.mark.parametrize("version", ["v1", "v2"])
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_features_and_log_match_original(converter, version, mode, tokenizer, caplog):
  examples, is_training = _examples(version, mode)
  caplog.set_level(logging.INFO, logger="absl")
  features = CONVERTERS[converter](examples, tokenizer, MAX_SEQ_LENGTH, DOC_STRIDE,
                                   MAX_QUERY_LENGTH, is_training)
  want = read_json(version, "features_%s.json.gz" % mode)
  got = [as_fixture_dict(f) for f in features]
  assert len(got) == len(want) == read_json(version, "case_info.json")["n_features_" + mode]
  for g, w in zip(got, want):
    assert g == w
    assert list(g["token_to_orig_map"]) == list(w["token_to_orig_map"])  # insertion order
  want_log = read_text(version, "convert_%s.log.gz" % mode).splitlines()
  assert absl_messages(caplog) == want_log


def test_output_fn_gets_every_feature_in_order(tokenizer):
  examples, _ = _examples("v1", "eval")
  seen = []
  n = features_fast.convert_examples_to_features(examples, tokenizer, MAX_SEQ_LENGTH,
                                                  DOC_STRIDE, MAX_QUERY_LENGTH, False,
                                                  output_fn=seen.append)
  assert n == len(seen) == 158
  assert [f.unique_id for f in seen] == list(range(1000000000, 1000000158))


def _real_sample(tmp_path, training):
  with gzip.open(squad_path("squad_v2.0_dev_first5articles.json.gz"), "rt", encoding="utf-8") as f:
    data = json.load(f)
  if training:  # train style: the first answer only
    for article in data["data"]:
      for paragraph in article["paragraphs"]:
        for qa in paragraph["qas"]:
          qa["answers"] = qa["answers"][:1]
  path = tmp_path / "sample.json"
  path.write_text(json.dumps(data), encoding="utf-8")
  examples = read_squad_examples(str(path), training, True)
  if training:
    shuffle_training_examples(examples)
  return examples


@pytest.mark.parametrize("training", [False, True], ids=["predict", "train"])
@pytest.mark.parametrize("sizes", [(384, 128, 64), (64, 16, 16)], ids=["default", "small"])
def test_fast_equals_reference_on_real_squad(training, sizes, tmp_path, tokenizer):
  examples = _real_sample(tmp_path, training)
  assert len(examples) == 1407
  reference = squad_features.convert_examples_to_features_reference(
      examples, tokenizer, *sizes, training)
  fast = features_fast.convert_examples_to_features(examples, tokenizer, *sizes, training)
  assert len(fast) == len(reference)
  for f, r in zip(fast, reference):
    assert as_tuple(f) == as_tuple(r)


# ----------------------------------------------------------------------------
# Generated text
# ----------------------------------------------------------------------------

_ALPHABET = st.sampled_from(
    list("abcXYZ019.,;'\"-()") + ["##", "the", "ing", "\u00e9", "e\u0301", "\u00a0",
                                  "\u3000", "\u202f", "\u200b", "\u4e2d", "\u00df",
                                  "\ufffd", "\x00", "\x07", "\u0130", "qu\u00e9bec", "w" * 90])
_WORD = st.lists(_ALPHABET, min_size=1, max_size=6).map("".join)


@st.composite
def _squad_case(draw):
  n_paragraphs = draw(st.integers(1, 3))
  examples = []
  for _ in range(n_paragraphs):
    context = " ".join(draw(st.lists(_WORD, min_size=0, max_size=40)))
    words = [w for w in context.replace("\u202f", " ").split(" ") if w]
    doc_tokens = list(words)
    for _ in range(draw(st.integers(1, 3))):
      question = " ".join(draw(st.lists(_WORD, min_size=0, max_size=12)))
      impossible = draw(st.booleans()) or not doc_tokens
      if impossible:
        examples.append(SquadExample("q%d" % len(examples), question, doc_tokens, "", -1, -1, True))
      else:
        start = draw(st.integers(0, len(doc_tokens) - 1))
        end = draw(st.integers(start, min(len(doc_tokens) - 1, start + 5)))
        answer = " ".join(doc_tokens[start:end + 1])
        if draw(st.booleans()):
          answer = answer[draw(st.integers(0, max(0, len(answer) - 1))):]
        examples.append(SquadExample("q%d" % len(examples), question, doc_tokens, answer,
                                     start, end, False))
  if draw(st.booleans()):
    random.Random(draw(st.integers(0, 99))).shuffle(examples)
  max_query_length = draw(st.integers(1, 12))
  max_seq_length = draw(st.integers(max_query_length + 4, 40))
  doc_stride = draw(st.integers(1, 20))
  return examples, max_seq_length, doc_stride, max_query_length, draw(st.booleans())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=_squad_case())
def test_fast_equals_reference_on_generated_text(case, tokenizer):
  examples, max_seq_length, doc_stride, max_query_length, training = case
  absl_logger = logging.getLogger("absl")
  level = absl_logger.level
  absl_logger.setLevel(logging.WARNING)  # no "*** Example ***" blocks for 150 cases
  try:
    reference = squad_features.convert_examples_to_features_reference(
        examples, tokenizer, max_seq_length, doc_stride, max_query_length, training)
    fast = features_fast.convert_examples_to_features(
        examples, tokenizer, max_seq_length, doc_stride, max_query_length, training)
  finally:
    absl_logger.setLevel(level)
  assert [as_tuple(f) for f in fast] == [as_tuple(r) for r in reference]


def test_a_vocab_without_unk_fails_where_the_original_does(tmp_path):
  vocab = tmp_path / "vocab.txt"
  vocab.write_text("\n".join(["[PAD]", "[CLS]", "[SEP]", "a", "b", "##b", "?"]) + "\n",
                   encoding="utf-8")
  tok = tokenization.FullTokenizer(str(vocab), do_lower_case=True)
  good = SquadExample("ok", "a?", ["a", "bb"])
  bad_doc = SquadExample("bad", "a", ["a", "zz"])
  long_query = SquadExample("cut", "a b zz", ["a"])  # "zz" is cut by max_query_length=2
  for converter in CONVERTERS.values():
    features = converter([good, long_query], tok, 16, 4, 2, False)
    assert [f.input_ids[:4] for f in features] == [[1, 3, 6, 2], [1, 3, 4, 2]]
    with pytest.raises(KeyError):
      converter([good, bad_doc], tok, 16, 4, 2, False)


def test_impossible_sizes_raise_instead_of_looping(tokenizer):
  example = SquadExample("q", "one two three", ["some", "words"])
  for converter in CONVERTERS.values():
    with pytest.raises(ValueError, match="max_query_length"):
      converter([example], tokenizer, 6, 2, 3, False)
    with pytest.raises(ValueError, match="doc_stride"):
      converter([example], tokenizer, 64, 0, 16, False)


def test_fast_path_is_used_for_a_full_tokenizer(tokenizer, monkeypatch):
  called = []
  monkeypatch.setattr(squad_features, "iter_features_reference",
                      lambda *a, **k: called.append(1) or iter(()))
  examples, _ = _examples("v1", "eval")
  features_fast.convert_examples_to_features(examples, tokenizer, MAX_SEQ_LENGTH,
                                              DOC_STRIDE, MAX_QUERY_LENGTH, False)
  assert not called


def test_fast_path_cache_eviction_and_unshared_paragraphs(tokenizer, monkeypatch):
  """Small chunks and a tiny paragraph cache (revisits after eviction), and
  examples that each carry their own copy of the paragraph words."""
  examples, _ = _examples("v2", "train")
  shuffle_training_examples(examples)
  reference = squad_features.convert_examples_to_features_reference(
      examples, tokenizer, MAX_SEQ_LENGTH, DOC_STRIDE, MAX_QUERY_LENGTH, True)
  monkeypatch.setattr(features_fast, "_PARAGRAPH_CACHE_SIZE", 2)
  monkeypatch.setattr(features_fast, "_QUESTION_BATCH", 3)
  fast = features_fast.convert_examples_to_features(
      examples, tokenizer, MAX_SEQ_LENGTH, DOC_STRIDE, MAX_QUERY_LENGTH, True)
  assert [as_tuple(f) for f in fast] == [as_tuple(r) for r in reference]
  copies = [SquadExample(e.qas_id, e.question_text, list(e.doc_tokens), e.orig_answer_text,
                         e.start_position, e.end_position, e.is_impossible) for e in examples]
  fast = features_fast.convert_examples_to_features(
      copies, tokenizer, MAX_SEQ_LENGTH, DOC_STRIDE, MAX_QUERY_LENGTH, True)
  assert [as_tuple(f) for f in fast] == [as_tuple(r) for r in reference]
