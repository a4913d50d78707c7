"""read_squad_examples: parity with the original's examples, its whitespace rule, bad input."""
import json
import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from squad_testing import absl_messages, read_json, squad_path

from bert_tf.squad import examples as squad_examples
from bert_tf.squad.examples import SquadInputError, read_squad_examples


def _as_dict(e):
  return {"qas_id": e.qas_id, "question_text": e.question_text,
          "doc_tokens": e.doc_tokens, "orig_answer_text": e.orig_answer_text,
          "start_position": e.start_position, "end_position": e.end_position,
          "is_impossible": e.is_impossible}


@pytest.mark.parametrize("version", ["v1", "v2"])
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_examples_match_original(version, mode, caplog):
  caplog.set_level(logging.WARNING, logger="absl")
  is_training = mode == "train"
  path = squad_path("input_%s_%s.json" % (version, "train" if is_training else "dev"))
  got = read_squad_examples(path, is_training, version == "v2")
  assert [_as_dict(e) for e in got] == read_json(version, "examples_%s.json.gz" % mode)
  assert absl_messages(caplog) == []  # the oracle's read_squad_examples.log is empty


def _write_squad(tmp_path, context, qas, name="in.json"):
  path = tmp_path / name
  path.write_text(json.dumps({"version": "x", "data": [
      {"title": "t", "paragraphs": [{"context": context, "qas": qas}]}]}), encoding="utf-8")
  return str(path)


def _qa(qid, text=None, start=None, impossible=None):
  qa = {"id": qid, "question": "what?", "answers": []}
  if text is not None:
    qa["answers"] = [{"text": text, "answer_start": start}]
  if impossible is not None:
    qa["is_impossible"] = impossible
  return qa


def test_whitespace_rule_is_the_originals():
  # U+202F splits words; U+00A0 and U+3000 stay inside a word.
  context = "a\u202fb c\u00a0d e\u3000f\tg\r\nh  i"
  tokens, offsets = squad_examples.split_paragraph(context)
  assert tokens == ["a", "b", "c\u00a0d", "e\u3000f", "g", "h", "i"]
  assert len(offsets) == len(context)
  assert offsets[1] == 0 and offsets[2] == 1  # the U+202F belongs to the word before
  assert squad_examples.split_paragraph("  x")[1] == [-1, -1, 0]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab \t\r\n\u202f\u00a0\u3000\u2028\x0b.")),
               max_size=30))
def test_fast_split_equals_the_original_loop(text):
  assert squad_examples.split_paragraph(text) == squad_examples.split_paragraph_reference(text)


def test_training_positions_and_drop(tmp_path, caplog):
  caplog.set_level(logging.WARNING, logger="absl")
  context = "The cat\u00a0sat on the mat."
  path = _write_squad(tmp_path, context, [
      _qa("ok", "the mat", context.index("the mat")),
      # The answer's NBSP is whitespace for str.split, so "cat sat" is not in "cat\xa0sat": dropped.
      _qa("nbsp", "cat\u00a0sat", context.index("cat")),
  ])
  examples = read_squad_examples(path, True)
  assert [e.qas_id for e in examples] == ["ok"]
  assert (examples[0].start_position, examples[0].end_position) == (3, 4)
  assert absl_messages(caplog) == ["Could not find answer: 'cat\u00a0sat' vs. 'cat sat'"]


def test_v2_impossible_and_eval_mode(tmp_path):
  context = "Alpha beta gamma."
  qas = [_qa("imp", impossible=True), _qa("pos", "beta", 6, impossible=False)]
  path = _write_squad(tmp_path, context, qas)
  imp, pos = read_squad_examples(path, True, True)
  assert (imp.start_position, imp.end_position, imp.orig_answer_text, imp.is_impossible) == (-1, -1, "", True)
  assert (pos.start_position, pos.end_position, pos.orig_answer_text) == (1, 1, "beta")
  for e in read_squad_examples(path, False, True):  # eval mode: no answers, never impossible
    assert (e.start_position, e.end_position, e.orig_answer_text, e.is_impossible) == (None, None, None, False)


def test_examples_share_their_paragraph_tokens(tmp_path):
  path = _write_squad(tmp_path, "one two", [_qa("a"), _qa("b")])
  a, b = read_squad_examples(path, False)
  assert a.doc_tokens is b.doc_tokens


def test_repr_keeps_the_original_start_position_quirk(tmp_path):
  path = _write_squad(tmp_path, "one two", [_qa("a", "one", 0), _qa("b", "two", 4)])
  a, b = read_squad_examples(path, True)
  assert repr(a) == "qas_id: a, question_text: what?, doc_tokens: [one two]"
  assert repr(b).endswith(", start_position: 1, end_position: 1, is_impossible: False")


def _error(path, *args):
  with pytest.raises(SquadInputError) as info:
    read_squad_examples(path, *args)
  message = str(info.value)
  assert "\n" not in message and message.startswith(path + ": ")
  return message


def test_bad_input_messages(tmp_path):
  assert issubclass(SquadInputError, ValueError)
  not_json = tmp_path / "bad.json"
  not_json.write_text("{oops", encoding="utf-8")
  assert "not JSON" in _error(str(not_json), False)
  missing = tmp_path / "missing.json"
  assert "not found" in _error(str(missing), False)

  no_data = tmp_path / "nodata.json"
  no_data.write_text('{"version": "1.1"}', encoding="utf-8")
  assert 'no "data" list' in _error(str(no_data), False)

  no_paragraphs = tmp_path / "nopar.json"
  no_paragraphs.write_text('{"data": [{"title": "x"}]}', encoding="utf-8")
  assert 'article 0 has no "paragraphs"' in _error(str(no_paragraphs), False)

  no_context = tmp_path / "noctx.json"
  no_context.write_text('{"data": [{"paragraphs": [{"qas": []}]}]}', encoding="utf-8")
  assert 'article 0 paragraph 0 has no "context"' in _error(str(no_context), False)

  no_qas = tmp_path / "noqas.json"
  no_qas.write_text('{"data": [{"paragraphs": [{"context": "x"}]}]}', encoding="utf-8")
  assert 'has no "qas"' in _error(str(no_qas), False)

  # Wrong types are named where they are, not left to fail in the tokenizer.
  null_question = tmp_path / "nullq.json"
  null_question.write_text('{"data": [{"paragraphs": [{"context": "x", "qas": '
                           '[{"id": "q7", "question": null}]}]}]}', encoding="utf-8")
  message = _error(str(null_question), False)
  assert 'article 0 paragraph 0 question 0 (id \'q7\'): "question" is NoneType' in message
  list_id = tmp_path / "listid.json"
  list_id.write_text('{"data": [{"paragraphs": [{"context": "x", "qas": '
                     '[{"id": [1], "question": "why?"}]}]}]}', encoding="utf-8")
  assert '"id" is [1], not a string' in _error(str(list_id), False)
  int_id = tmp_path / "intid.json"  # the original accepts an integer id; so do we
  int_id.write_text('{"data": [{"paragraphs": [{"context": "x", "qas": '
                    '[{"id": 7, "question": "why?"}]}]}]}', encoding="utf-8")
  assert read_squad_examples(str(int_id), False)[0].qas_id == 7


def test_bad_answers_name_the_question(tmp_path):
  outside = _write_squad(tmp_path, "short", [_qa("q-out", "short text", 3)], "outside.json")
  message = _error(outside, True)
  assert "question q-out" in message and "outside its context" in message
  negative = _write_squad(tmp_path, "short", [_qa("q-neg", "s", -2)], "neg.json")
  assert "question q-neg" in _error(negative, True)

  several = _write_squad(tmp_path, "one two", [
      {"id": "q-many", "question": "?", "answers": [{"text": "one", "answer_start": 0},
                                                    {"text": "two", "answer_start": 4}]}],
      "several.json")
  message = _error(several, True)
  assert "question q-many has 2 answers" in message and "exactly 1 answer" in message
  # Eval mode does not read answers, as the original.
  assert len(read_squad_examples(several, False)) == 1

  v1_file = squad_path("input_v1_train.json")
  message = _error(v1_file, True, True)
  assert 'no "is_impossible" field' in message and "SQuAD 1.1" in message
  assert "question 56ddde6b9a695914005b9628" in message
