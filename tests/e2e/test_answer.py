"""answer.py end to end: a SQuAD 2.0 model trained by run_squad.py answers its own dev
questions as its predictions.json does.

The module trains the tiny config a few steps on real SQuAD 2.0 text (the shipped sample,
split by article with `python -m bert_tf.squad.articles`: 4 paragraphs of Normans to
train, 4 of Sky_(United_Kingdom) to predict, one with a double space), with
max_seq_length 64 / doc_stride 24 so every context is cut into several windows, and lets
run_squad.py predict.  answer.py must then give, for the same questions and contexts, the
answers of predictions.json, the null decision and null_score_diff of null_odds.json and
offsets with context[start:end] == answer; the SQuAD 1.1 reading of the same model
(--version_2_with_negative=false) equals the post-processing of run_squad's logits.npz.
Then --question/--context, stdin, --output_file, and the one-line errors (bad lines, a
missing checkpoint, conflicting flags), each leaving output_dir and --output_file alone.
"""

import json
import os
import re
import subprocess
import sys

import pytest

from e2e_testing import CKPT, CONFIG, VOCAB, error_line, run_script, snapshot
from helpers import ROOT

from bert_tf import tokenization
from bert_tf.squad import features_fast, postprocess
from bert_tf.squad.examples import read_squad_examples

SAMPLE = os.path.join(ROOT, "data", "squad", "squad_v2.0_dev_first5articles.json")
SIZES = {"max_seq_length": 64, "doc_stride": 24, "max_query_length": 16}
_SQUAD_SPACE = re.compile("[ \t\r\n\u202f]+")


def answer_cmd(**flags):
  return [sys.executable, os.path.join(ROOT, "answer.py")] + [
      "--%s=%s" % (k, v) for k, v in flags.items() if v is not None]


def _article(tmp, title, name, paragraphs, first_answer_only):
  """`title` of the sample, split out by bert_tf.squad.articles, cut to `paragraphs`."""
  path = os.path.join(tmp, name)
  cmd = [sys.executable, "-m", "bert_tf.squad.articles", "--input_file=" + SAMPLE,
         "--articles=" + title, "--output_file=" + path]
  proc = subprocess.run(cmd + (["--first_answer_only"] if first_answer_only else []),
                        capture_output=True, text=True, cwd=ROOT)
  assert proc.returncode == 0, proc.stderr
  with open(path, encoding="utf-8") as f:
    document = json.load(f)
  document["data"][0]["paragraphs"] = document["data"][0]["paragraphs"][paragraphs]
  with open(path, "w", encoding="utf-8") as f:
    json.dump(document, f)
  return path, document


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  tmp = str(tmp_path_factory.mktemp("answer"))
  train_file, _ = _article(tmp, "Normans", "train.json", slice(0, 4), True)
  predict_file, document = _article(tmp, "Sky_(United_Kingdom)", "dev.json", slice(13, 17),
                                    False)
  out = os.path.join(tmp, "out")
  cmd = [sys.executable, os.path.join(ROOT, "run_squad.py")] + [
      "--%s=%s" % kv for kv in dict(
          vocab_file=VOCAB, bert_config_file=CONFIG, init_checkpoint=CKPT, output_dir=out,
          do_train="true", do_predict="true", train_file=train_file, predict_file=predict_file,
          version_2_with_negative="true", train_batch_size=8, num_train_epochs=1.0,
          learning_rate=1e-3, seed=1234, **SIZES).items()]
  proc = run_script(cmd)
  assert proc.returncode == 0, proc.stderr[-3000:]
  questions = os.path.join(tmp, "questions.jsonl")
  contexts = {}
  with open(questions, "w", encoding="utf-8") as f:
    for paragraph in document["data"][0]["paragraphs"]:
      for qa in paragraph["qas"]:
        contexts[qa["id"]] = paragraph["context"]
        f.write(json.dumps({"id": qa["id"], "question": qa["question"],
                            "context": paragraph["context"]}) + "\n")
  return {"tmp": tmp, "out": out, "questions": questions, "contexts": contexts,
          "predict_file": predict_file}


def _json(path):
  with open(path, encoding="utf-8") as f:
    return json.load(f)


def _records(text):
  return [json.loads(line) for line in text.splitlines()]


def _check_offsets(record, context):
  if record["answer"]:
    assert context[record["start"]:record["end"]] == record["answer"]
  else:
    assert (record["start"], record["end"]) == (-1, -1)


@pytest.fixture(scope="module")
def answered(trained):
  """answer.py on the run's output_dir and the predicted questions (JSON lines in a file):
  (the process, its records, output_dir's snapshot before it ran)."""
  before = snapshot(trained["out"])
  proc = run_script(answer_cmd(output_dir=trained["out"], input_file=trained["questions"]))
  assert proc.returncode == 0, proc.stderr[-3000:]
  return proc, _records(proc.stdout), before


def test_answers_equal_run_squads_predictions(trained, answered):
  out = trained["out"]
  proc, records, before = answered
  predictions = _json(os.path.join(out, "predictions.json"))
  null_odds = _json(os.path.join(out, "null_odds.json"))
  assert [r["id"] for r in records] == list(predictions)
  assert len(records) == 38 and len(set(trained["contexts"].values())) == 4
  for r in records:
    context = trained["contexts"][r["id"]]
    # predictions.json joins the words with one space; the answer keeps the context's.
    assert _SQUAD_SPACE.sub(" ", r["answer"]) == predictions[r["id"]], r
    _check_offsets(r, context)
    assert r["has_answer"] == (predictions[r["id"]] != "")
    assert r["null_score_diff"] == pytest.approx(null_odds[r["id"]], abs=1e-5)
    assert list(r) == ["id", "answer", "start", "end", "score", "null_score_diff",
                       "has_answer"]
  # Both decisions occur, and a context of several windows gave an answer.
  assert {r["has_answer"] for r in records} == {True, False}
  assert snapshot(out) == before  # answer.py writes nothing into the run's output_dir
  assert "Answering with %s/model.ckpt-" % out in proc.stderr
  assert "*** Example ***" not in proc.stderr


def test_v1_reading_stdin_and_output_file(trained):
  """--version_2_with_negative=false on the 2.0 run: run_squad's logits post-processed as
  SQuAD 1.1; questions on stdin, answers in --output_file (nothing on stdout)."""
  out, tmp = trained["out"], trained["tmp"]
  output_file = os.path.join(tmp, "answers_v1.jsonl")
  with open(trained["questions"], encoding="utf-8") as f:
    text = f.read()
  proc = run_script(answer_cmd(output_dir=out, version_2_with_negative="false",
                               output_file=output_file), input=text)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert proc.stdout == ""
  with open(output_file, encoding="utf-8") as f:
    records = _records(f.read())
  # The oracle: run_squad's own logits.npz through the 1.1 post-processing.
  tokenizer = tokenization.FullTokenizer(VOCAB, do_lower_case=True)
  examples = read_squad_examples(trained["predict_file"], is_training=False)
  features = features_fast.convert_examples_to_features(
      examples, tokenizer, SIZES["max_seq_length"], SIZES["doc_stride"],
      SIZES["max_query_length"], False)
  results = postprocess.read_logits(os.path.join(out, "logits.npz"))
  predictions, _, _ = postprocess.compute_predictions(examples, features, results, 20, 30, True)
  assert [r["id"] for r in records] == list(predictions)
  for r in records:
    assert list(r) == ["id", "answer", "start", "end", "score"]
    if predictions[r["id"]] != "empty":  # the original's nonce for "no valid span": ""
      assert _SQUAD_SPACE.sub(" ", r["answer"]) == predictions[r["id"]], r
    _check_offsets(r, trained["contexts"][r["id"]])
  assert "--version_2_with_negative=False, the run in %s used True" % out in proc.stderr


def test_one_question_from_flags_and_an_explicit_checkpoint(trained, answered, tmp_path):
  """--question/--context on a checkpoint copied away from its run (settings as flags):
  the same record as the JSON-lines run for that question, without an id."""
  out = trained["out"]
  prefix = os.path.join(out, "model.ckpt-3")
  for suffix in (".index", ".data-00000-of-00001"):
    os.link(prefix + suffix, str(tmp_path / ("model.ckpt-3" + suffix)))
  with open(trained["questions"], encoding="utf-8") as f:
    lines = [json.loads(line) for line in f]
  by_id = {r["id"]: r for r in answered[1]}
  q = next(line for line in lines if by_id[line["id"]]["has_answer"])
  proc = run_script(answer_cmd(
      init_checkpoint=str(tmp_path / "model.ckpt-3"), bert_config_file=CONFIG,
      vocab_file=VOCAB, version_2_with_negative="true", question=q["question"],
      context=q["context"], **SIZES))
  assert proc.returncode == 0, proc.stderr[-3000:]
  (record,) = _records(proc.stdout)
  want = dict(by_id[q["id"]])
  del want["id"]
  assert list(record) == list(want)
  assert {k: v for k, v in record.items() if k not in ("score", "null_score_diff")} == {
      k: v for k, v in want.items() if k not in ("score", "null_score_diff")}
  assert record["score"] == pytest.approx(want["score"], abs=1e-5)


# ------------------------------------------------------------------------ one-line errors


@pytest.mark.parametrize("line,message", [
    ('{"question": "Who?", "context": "Sky."', ':2: not JSON ('),
    ('{"question": "Who?", "context": 3}', ':2: "context" is a number, not a string; '),
])
def test_bad_lines_fail_in_one_line(trained, tmp_path, line, message):
  out = trained["out"]
  path = str(tmp_path / "q.jsonl")
  with open(path, "w") as f:
    f.write('{"question": "What is Sky?", "context": "Sky is a broadcaster."}\n' + line + "\n")
  output_file = str(tmp_path / "a.jsonl")
  before = snapshot(out)
  proc = run_script(answer_cmd(output_dir=out, input_file=path, output_file=output_file))
  assert proc.returncode == 1
  assert error_line(proc, "answer.py").startswith(path + message)
  assert proc.stdout == ""
  assert not os.path.exists(output_file)
  assert snapshot(out) == before


def test_bad_stdin_line_names_stdin(trained):
  proc = run_script(answer_cmd(output_dir=trained["out"]), input="\n[1, 2]\n")
  assert proc.returncode == 1
  assert error_line(proc, "answer.py") == (
      '<stdin>:2: a list, not a JSON object; each line is one JSON object {"question": ..., '
      '"context": ...} (optional "id")')


def test_output_dir_without_checkpoint(tmp_path):
  empty = str(tmp_path / "empty")
  os.makedirs(empty)
  proc = run_script(answer_cmd(output_dir=empty, question="Who?", context="Me."))
  assert proc.returncode == 1
  assert error_line(proc, "answer.py") == (
      "%s: no checkpoint (model.ckpt-N) in this directory; fine-tune first with run_squad.py "
      "--do_train --output_dir=%s, or pass --init_checkpoint" % (empty, empty))
  assert os.listdir(empty) == []


def test_conflicting_flags(trained, tmp_path):
  out = trained["out"]
  before = snapshot(out)
  other = str(tmp_path / "bert_config.json")
  config = _json(CONFIG)
  config["intermediate_size"] = 128
  with open(other, "w") as f:
    json.dump(config, f)
  proc = run_script(answer_cmd(output_dir=out, bert_config_file=other, question="Who?",
                               context="Me."))
  assert proc.returncode == 1
  assert error_line(proc, "answer.py") == (
      "%s/model.ckpt-3 was fine-tuned with other settings than the flags give (then -> now: "
      "bert_config.intermediate_size 64 -> 128; recorded in %s/run_config.json); leave out "
      "--bert_config_file / --vocab_file / --do_lower_case to use the recorded ones" % (out, out))
  proc = run_script(answer_cmd(saved_model_dir=str(tmp_path), output_dir=out, question="Who?",
                               context="Me."))
  assert proc.returncode == 1
  assert error_line(proc, "answer.py") == (
      "--saved_model_dir replaces --output_dir: the SavedModel holds the model and the "
      "settings it was exported with (squad_settings.json); leave out --output_dir, or pass "
      "the run_squad.py --output_dir instead of --saved_model_dir")
  proc = run_script(answer_cmd(output_dir=out, question="Who?", context="Me.",
                               input_file=trained["questions"]))
  assert proc.returncode == 1
  assert error_line(proc, "answer.py") == (
      "--question/--context give one question, --input_file JSON lines; pass one or the other")
  proc = run_script(answer_cmd(output_dir=out, question="Who?"))
  assert proc.returncode == 1
  assert error_line(proc, "answer.py") == (
      "--context is missing; pass both --question and --context (or JSON lines on stdin / "
      "--input_file)")
  assert snapshot(out) == before


# ------------------------------------------------------------------------ serving export


def test_saved_model_answers_equal_the_checkpoints(trained, tmp_path):
  """The serving export of the trained run answers (in a fresh process) as the checkpoint."""
  out = trained["out"]
  export = str(tmp_path / "export")
  cmd = [sys.executable, os.path.join(ROOT, "run_squad.py")] + [
      "--%s=%s" % kv for kv in dict(vocab_file=VOCAB, bert_config_file=CONFIG, output_dir=out,
                                    export_dir=export, version_2_with_negative="true",
                                    **SIZES).items()]
  proc = run_script(cmd)
  assert proc.returncode == 0, proc.stderr[-3000:]
  want = run_script(answer_cmd(output_dir=out, input_file=trained["questions"]))
  got = run_script(answer_cmd(saved_model_dir=export, input_file=trained["questions"]))
  assert want.returncode == 0 and got.returncode == 0, got.stderr[-3000:]
  for a, b in zip(_records(got.stdout), _records(want.stdout)):
    assert (a["id"], a["answer"], a["start"], a["end"], a["has_answer"]) == (
        b["id"], b["answer"], b["start"], b["end"], b["has_answer"])
    assert a["score"] == pytest.approx(b["score"], abs=1e-4)
    assert a["null_score_diff"] == pytest.approx(b["null_score_diff"], abs=1e-4)
