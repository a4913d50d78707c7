"""bert_tf.inference.answer: answers on new text, in-process.

The oracle's full tiny SQuAD model (tiny_uncased's bert/* + squad_head_ckpt's cls/squad/*)
answers the questions of the SQuAD fixtures through SquadAnswerer; the answers must be
those of the ORIGINAL run_squad.py's predictions.json (and null_odds.json for 2.0) for
that model (tests/fixtures/squad/v*/predict_model_logits), with character offsets into
each context.  Then: the offsets when the context's whitespace is not single spaces, the
JSON-lines reader and its one-line errors, the settings taken from a run's
run_config.json (and flags that contradict it), and the SavedModel path through a
hand-made SavedModel with the serving signature.  The script itself is tested end to end
in tests/e2e/test_answer.py.
"""

import gzip
import io
import json
import os
import re

import pytest
import tensorflow as tf

from helpers import FIXTURES, TINY
from bert_tf import checkpoints, output_dir
from bert_tf.errors import CheckpointError, InputError
from bert_tf.inference import answer
from bert_tf.squad import postprocess
from bert_tf.squad.examples import split_paragraph

SQUAD = os.path.join(FIXTURES, "squad")
CONFIG = os.path.join(TINY, "bert_config.json")
VOCAB = os.path.join(TINY, "vocab.txt")
SIZES = dict(max_seq_length=64, doc_stride=16, max_query_length=16)
_SQUAD_SPACE = re.compile("[ \t\r\n\u202f]+")


def _fixture_json(*parts):
  path = os.path.join(SQUAD, *parts)
  opener = gzip.open if path.endswith(".gz") else open
  with opener(path, "rt", encoding="utf-8") as f:
    return json.load(f)


def _questions(name):
  """Questions (with ids) of a SQuAD fixture file, in file order."""
  out = []
  for article in _fixture_json(name)["data"]:
    for paragraph in article["paragraphs"]:
      for qa in paragraph["qas"]:
        out.append(answer.Question(qa["question"], paragraph["context"], qa["id"], True))
  return out


@pytest.fixture(scope="module")
def squad_checkpoint(tmp_path_factory):
  """The oracle's full tiny SQuAD model as one checkpoint in a run-like directory."""
  tensors = {}
  for path in (os.path.join(TINY, "bert_model.ckpt"),
               os.path.join(SQUAD, "squad_head_ckpt", "model.ckpt")):
    reader = tf.train.load_checkpoint(path)
    for name in reader.get_variable_to_shape_map():
      tensors[name] = reader.get_tensor(name)
  directory = str(tmp_path_factory.mktemp("squad_model"))
  prefix = os.path.join(directory, "model.ckpt-7")
  checkpoints.write_bundle(prefix, tensors)
  checkpoints.write_state_file(directory, [prefix])
  return directory, prefix


def _check_against_original(records, questions, version):
  oracle = os.path.join("v%d" % version, "predict_model_logits")
  predictions = _fixture_json(oracle, "predictions.json.gz")
  null_odds = _fixture_json(oracle, "null_odds.json.gz") if version == 2 else {}
  assert [r["id"] for r in records] == list(predictions)
  for r, q in zip(records, questions):
    want = predictions[q.id]
    assert _SQUAD_SPACE.sub(" ", r["answer"]) == want, q.id
    if r["answer"]:
      assert q.context[r["start"]:r["end"]] == r["answer"]
    else:
      assert (r["start"], r["end"]) == (-1, -1)
    if version == 2:
      assert r["null_score_diff"] == pytest.approx(null_odds[q.id], abs=1e-5)
      assert r["has_answer"] == (want != "")
      assert list(r) == ["id", "answer", "start", "end", "score", "null_score_diff",
                         "has_answer"]
    else:
      assert list(r) == ["id", "answer", "start", "end", "score"]


def test_answers_equal_the_original_predictions_v2(squad_checkpoint):
  _, prefix = squad_checkpoint
  model = answer.load_answerer(init_checkpoint=prefix, bert_config_file=CONFIG,
                               vocab_file=VOCAB, version_2_with_negative=True, **SIZES)
  questions = _questions("input_v2_dev.json")
  records = model.answer(questions)
  _check_against_original(records, questions, 2)
  # score: the best non-null span's start + end logit, also when the null answer wins.
  nbest = _fixture_json("v2", "predict_model_logits", "nbest_predictions.json.gz")
  for r, q in zip(records, questions):
    best = next(e for e in nbest[q.id] if e["text"])
    assert r["score"] == pytest.approx(best["start_logit"] + best["end_logit"], abs=1e-5)
  # The same model answers a batch of one, or in another batch size, the same.
  again = model.answer(questions[3:4])
  assert again[0]["answer"] == records[3]["answer"]
  assert again[0]["score"] == pytest.approx(records[3]["score"], abs=1e-5)


def test_answers_equal_the_original_predictions_v1(squad_checkpoint):
  _, prefix = squad_checkpoint
  model = answer.load_answerer(init_checkpoint=prefix, bert_config_file=CONFIG,
                               vocab_file=VOCAB, batch_size=3, **SIZES)
  questions = _questions("input_v1_dev.json")
  records = model.answer(questions)
  _check_against_original(records, questions, 1)
  assert all(r["answer"] for r in records)


def test_offsets_follow_the_contexts_own_whitespace():
  context = "  New  York\tCity\n\nis   big."
  words, offsets = split_paragraph(context)
  assert words == ["New", "York", "City", "is", "big."]
  starts = answer._word_starts(context, len(words), offsets)
  assert starts == [2, 7, 12, 18, 23]
  # " ".join(words[0:3]) = "New York City"; "York City" is [4, 13) there.
  start, end = answer.char_span(context, words, starts, 0, 2, 4, 13)
  assert context[start:end] == "York\tCity"
  start, end = answer.char_span(context, words, starts, 4, 4, 0, 3)
  assert context[start:end] == "big"


def test_final_text_span_is_where_get_final_text_answers():
  for case in _fixture_json("get_final_text_cases.json"):
    pred_text, orig_text = case["pred_text"], case["orig_text"]
    start, end = postprocess.final_text_span(pred_text, orig_text, case["do_lower_case"])
    assert orig_text[start:end] == case["output"]  # the original get_final_text's


# ------------------------------------------------------------------------- the input lines


def test_question_lines_pass_ids_through_and_skip_blank_lines():
  lines = ['{"question": "Who?", "context": "Me.", "id": 7}', "", "  ",
           '{"context": "Ctx", "question": "Q"}', '{"question": "A", "context": "B", "id": null}']
  got = answer.parse_question_lines(lines, "q.jsonl")
  assert [(q.question, q.context, q.id, q.has_id, q.line) for q in got] == [
      ("Who?", "Me.", 7, True, "q.jsonl:1"), ("Q", "Ctx", None, False, "q.jsonl:4"),
      ("A", "B", None, True, "q.jsonl:5")]


@pytest.mark.parametrize("line,problem", [
    ('{"question": "Who?", "context": "x"', "not JSON ("),
    ('["Who?", "x"]', "a list, not a JSON object"),
    ('{"context": "x"}', 'no "question"'),
    ('{"question": "Who?"}', 'no "context"'),
    ('{"question": 3, "context": "x"}', '"question" is a number, not a string'),
    ('{"question": "Who?", "context": null}', '"context" is null, not a string'),
    ('{"question": " ", "context": "x"}', '"question" is empty'),
    ('{"question": "Who?", "context": ""}', '"context" is empty'),
])
def test_bad_question_lines_name_file_and_line(line, problem):
  with pytest.raises(InputError) as e:
    answer.parse_question_lines(['{"question": "a", "context": "b"}', line], "q.jsonl")
  message = str(e.value)
  assert message.startswith("q.jsonl:2: " + problem), message
  assert message.endswith('each line is one JSON object {"question": ..., "context": ...} '
                          '(optional "id")')
  assert "\n" not in message


def test_read_questions_from_files_and_stdin(tmp_path):
  path = tmp_path / "q.jsonl"
  path.write_text('{"question": "Où?", "context": "À Paris."}\r\n', encoding="utf-8")
  assert answer.read_questions(str(path))[0].context == "À Paris."
  stdin = io.TextIOWrapper(io.BytesIO('{"question": "q", "context": "c"}\n'.encode()))
  assert answer.read_questions(None, stdin=stdin)[0].line == "<stdin>:1"
  with pytest.raises(InputError, match=r"^<stdin>: empty input, no question to answer"):
    answer.read_questions(None, stdin=io.TextIOWrapper(io.BytesIO(b"\n\n")))
  with pytest.raises(InputError, match=r"missing\.jsonl: input file not found"):
    answer.read_questions(str(tmp_path / "missing.jsonl"))
  (tmp_path / "latin1.jsonl").write_bytes(b'{"question": "\xe9", "context": "c"}\n')
  with pytest.raises(InputError, match=r"latin1\.jsonl: not UTF-8 text \(byte 14\)"):
    answer.read_questions(str(tmp_path / "latin1.jsonl"))
  with pytest.raises(InputError, match=r"--context is missing; pass both --question and "):
    answer.one_question("Who?", None)
  with pytest.raises(InputError, match=r"--question is empty"):
    answer.one_question("", "text")


def test_output_file_is_replaced_whole(tmp_path):
  path = str(tmp_path / "a.jsonl")
  answer.write_lines(["1", "2"], path)
  answer.write_lines(["3"], path)
  with open(path) as f:
    assert f.read() == "3\n"
  assert os.listdir(str(tmp_path)) == ["a.jsonl"]
  with pytest.raises(InputError, match=r"is a directory; --output_file must name a file"):
    answer.check_output_file(str(tmp_path))
  with pytest.raises(InputError, match=r"no such directory for --output_file"):
    answer.check_output_file(str(tmp_path / "nope" / "a.jsonl"))


# ----------------------------------------------------------------------- model and settings


def _record(directory, **changes):
  record = {"script": "run_squad.py", "bert_config_file": CONFIG, "vocab_file": VOCAB,
            "bert_config": json.load(open(CONFIG)), "vocab_sha256": output_dir.file_sha256(VOCAB),
            "do_lower_case": True, "max_seq_length": 64, "doc_stride": 16,
            "max_query_length": 16, "version_2_with_negative": True}
  record.update(changes)
  output_dir.write_record(directory, record)


def test_settings_come_from_the_runs_record(squad_checkpoint):
  directory, prefix = squad_checkpoint
  _record(directory)
  s = answer.resolve_settings(directory)
  assert s.checkpoint == prefix
  assert (s.bert_config_file, s.vocab_file, s.do_lower_case, s.max_seq_length, s.doc_stride,
          s.max_query_length, s.version_2_with_negative) == (CONFIG, VOCAB, True, 64, 16, 16, True)
  # Window settings and the SQuAD version may differ from the run's (logged), as for a
  # run_squad.py --do_predict into the same output_dir.
  s = answer.resolve_settings(directory, doc_stride=32, version_2_with_negative=False)
  assert (s.doc_stride, s.version_2_with_negative, s.max_seq_length) == (32, False, 64)
  # A model flag that contradicts the record would give wrong answers: one line.
  with pytest.raises(InputError) as e:
    answer.resolve_settings(directory, do_lower_case=False)
  assert str(e.value) == (
      "%s was fine-tuned with other settings than the flags give (then -> now: do_lower_case "
      "true -> false; recorded in %s/run_config.json); leave out --bert_config_file / "
      "--vocab_file / --do_lower_case to use the recorded ones" % (prefix, directory))
  # The same flags as the record are fine.
  answer.resolve_settings(directory, bert_config_file=CONFIG, vocab_file=VOCAB)


def test_records_of_other_scripts_and_missing_settings(squad_checkpoint, tmp_path):
  directory, prefix = squad_checkpoint
  _record(directory, script="run_classifier.py")
  with pytest.raises(InputError, match=r"run_config\.json: written by run_classifier\.py, not "
                     r"run_squad\.py; pass the --output_dir of a run_squad\.py run$"):
    answer.resolve_settings(directory)
  os.remove(os.path.join(directory, "run_config.json"))
  with pytest.raises(InputError, match=r"^--bert_config_file is required: .* has no "
                     r"run_config\.json of a run_squad\.py --do_train run to read it from$"):
    answer.resolve_settings(directory)
  with pytest.raises(InputError, match=r"no checkpoint \(model\.ckpt-N\) in this directory; "
                     r"fine-tune first with run_squad\.py --do_train"):
    answer.resolve_settings(str(tmp_path))
  with pytest.raises(InputError, match=r"--output_dir does not exist"):
    answer.resolve_settings(str(tmp_path / "nope"))
  with pytest.raises(InputError, match=r"^no model: pass --output_dir"):
    answer.resolve_settings()


def test_checkpoint_without_squad_head_and_bad_settings(squad_checkpoint):
  _, prefix = squad_checkpoint
  with pytest.raises(CheckpointError, match=r"checkpoint has no SQuAD span head \(cls/squad/\*\)"):
    answer.load_answerer(init_checkpoint=os.path.join(TINY, "bert_model.ckpt"),
                         bert_config_file=CONFIG, vocab_file=VOCAB, **SIZES)
  with pytest.raises(ValueError, match=r"^The max_seq_length \(64\) must be greater than "
                     r"max_query_length \(61\) \+ 3$"):
    answer.load_answerer(init_checkpoint=prefix, bert_config_file=CONFIG, vocab_file=VOCAB,
                         max_seq_length=64, max_query_length=61)
  with pytest.raises(ValueError, match=r"^--doc_stride=0: must be >= 1"):
    answer.load_answerer(init_checkpoint=prefix, bert_config_file=CONFIG, vocab_file=VOCAB,
                         max_seq_length=64, doc_stride=0)
  with pytest.raises(InputError, match=r"Cannot use sequence length 384 because the BERT model "
                     r"was only trained up to sequence length 64"):
    answer.load_answerer(init_checkpoint=prefix, bert_config_file=CONFIG, vocab_file=VOCAB)


# ----------------------------------------------------------------------- SavedModel


class _FirstWord(tf.Module):
  """The serving signature's shape: the answer is the context's first word."""

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="question"),
                                tf.TensorSpec([None], tf.string, name="context")])
  def serve(self, question, context):
    word = tf.strings.regex_replace(context, r"\s.*", "")
    length = tf.strings.length(word, unit="UTF8_CHAR")
    n = tf.shape(question)[0]
    return {"answer": word, "start": tf.zeros_like(length), "end": length,
            "score": tf.cast(length, tf.float32), "null_score_diff": -tf.ones([n]),
            "has_answer": tf.strings.length(question) > 3}


@pytest.mark.parametrize("version_2", [True, False])
def test_saved_model_answers_through_its_signature(tmp_path, version_2):
  module = _FirstWord()
  path = str(tmp_path / "export")
  tf.saved_model.save(module, path, signatures={"serving_default": module.serve})
  with open(os.path.join(path, answer.SQUAD_SETTINGS_FILE), "w") as f:
    json.dump({"version_2_with_negative": version_2, "max_seq_length": 64}, f)
  model = answer.SavedModelAnswerer(path, batch_size=2)
  questions = [answer.Question("Who is?", "Émile went home.", "a", True),
               answer.Question("Why", "Because.", None, False),
               answer.Question("Where is it?", "Here it is.")]
  records = model.answer(questions)
  assert [r["answer"] for r in records] == ["Émile", "Because.", "Here"]
  assert [(r["start"], r["end"]) for r in records] == [(0, 5), (0, 8), (0, 4)]
  assert "id" in records[0] and "id" not in records[1]
  if version_2:
    assert [r["has_answer"] for r in records] == [True, False, True]
    assert records[0]["null_score_diff"] == -1.0
  else:
    assert list(records[0]) == ["id", "answer", "start", "end", "score"]


def test_saved_model_errors(tmp_path):
  with pytest.raises(InputError, match=r"not a SavedModel directory \(no saved_model\.pb\)"):
    answer.SavedModelAnswerer(str(tmp_path))

  class Other(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text_a")])
    def serve(self, text_a):
      return {"probabilities": tf.zeros([tf.shape(text_a)[0], 2])}

  module = Other()
  path = str(tmp_path / "classifier")
  tf.saved_model.save(module, path, signatures={"serving_default": module.serve})
  with pytest.raises(InputError, match=r"serving_default takes text_a and returns "
                     r"probabilities; answer\.py needs a question-answering export"):
    answer.SavedModelAnswerer(path)


def test_long_inputs_log_progress_with_an_estimate(squad_checkpoint, monkeypatch, caplog):
  _, prefix = squad_checkpoint
  model = answer.load_answerer(init_checkpoint=prefix, bert_config_file=CONFIG,
                               vocab_file=VOCAB, **SIZES)
  questions = _questions("input_v1_dev.json")[:5]
  whole = model.answer(questions)
  monkeypatch.setattr(answer, "CHUNK_QUESTIONS", 2)
  caplog.set_level("INFO", logger="absl")
  chunked = model.answer(questions)
  # Chunks change nothing but the log.
  assert [(r["answer"], r["start"], r["end"]) for r in chunked] == [
      (r["answer"], r["start"], r["end"]) for r in whole]
  progress = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Answered")]
  assert len(progress) == 3
  assert re.match(r"^Answered 2 of 5 questions \([\d.]+ questions/s, about \d+s left\)$",
                  progress[0]), progress
  assert progress[-1].startswith("Answered 5 of 5 questions")


def test_answers_keep_the_contexts_whitespace(squad_checkpoint):
  """An answer across words separated by tabs, newlines and runs of spaces is the context's
  own text there (predictions.json would join the words with single spaces)."""
  _, prefix = squad_checkpoint
  model = answer.load_answerer(init_checkpoint=prefix, bert_config_file=CONFIG,
                               vocab_file=VOCAB, **SIZES)
  context = ("Émile  Zola\twrote  many\n\nbooks in   Paris (France), and    Steve Smith's   "
             "cafe.")
  records = model.answer([answer.Question(q, context) for q in
                          ("Where?", "What cafe?", "Which city is it in the text given here?")])
  assert [r["answer"] for r in records] == [
      "cafe", "wrote  many\n\nbooks in", "Zola\twrote  many\n\nbooks in   Paris (France),"]
  for r in records:
    assert context[r["start"]:r["end"]] == r["answer"]
