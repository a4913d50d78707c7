"""run_squad.py --export_dir end to end: the serving SavedModel answers as predictions.json.

A tiny SQuAD 2.0 model is trained a few steps on real SQuAD text (a cut of
data/squad: Normans for training, another article for prediction) with small
windows (max_seq_length 64, doc_stride 24) so that every context splits into
several windows.  Two predict runs export it, as a 2.0 model (with a threshold
in the middle of the run's null score differences, so both decisions happen)
and as a 1.1 model.  A FRESH Python process that imports only TensorFlow (bert_tf
is made unimportable) loads each export with tf.saved_model.load and answers
every predict question: answers equal predictions.json, the null decision and
null_score_diff equal null_odds.json against the threshold, and the offsets
point at the answer in the context.
"""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from e2e_testing import CKPT, CONFIG, VOCAB, copy_run, error_line, run_script, snapshot
from helpers import ROOT

from bert_tf import checkpoints

DATA = os.path.join(ROOT, "data", "squad", "squad_v2.0_dev_first5articles.json")
SIZES = {"max_seq_length": 64, "doc_stride": 24, "max_query_length": 16}


def squad_cmd(output_dir, **flags):
  args = dict(vocab_file=VOCAB, bert_config_file=CONFIG, output_dir=output_dir, **SIZES)
  args.update(flags)
  return [sys.executable, os.path.join(ROOT, "run_squad.py")] + [
      "--%s=%s" % (k, v) for k, v in args.items() if v is not None]


def _cut(data, title, paragraphs, first_answer_only=False):
  article = next(a for a in data if a["title"] == title)
  paras = article["paragraphs"][:paragraphs]
  if first_answer_only:
    for p in paras:
      for qa in p["qas"]:
        qa["answers"] = qa["answers"][:1]
  return {"version": "v2.0", "data": [{"title": title, "paragraphs": paras}]}


def _write(path, obj):
  with open(path, "w", encoding="utf-8") as f:
    json.dump(obj, f)
  return path


def _read(path):
  with open(path, encoding="utf-8") as f:
    return json.load(f)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
  tmp = tmp_path_factory.mktemp("squad_export")
  with open(DATA, encoding="utf-8") as f:
    data = json.load(f)["data"]
  train = _write(str(tmp / "train.json"), _cut(data, "Normans", 4, first_answer_only=True))
  predict = _write(str(tmp / "predict.json"), _cut(data, data[1]["title"], 4))
  # The 1.1 form of the same paragraphs (a 1.1 evaluation needs answers to every question).
  cut = _cut(data, data[1]["title"], 4)
  for p in cut["data"][0]["paragraphs"]:
    p["qas"] = [qa for qa in p["qas"] if not qa.get("is_impossible")]
  predict_v1 = _write(str(tmp / "predict_v1.json"), cut)
  trained = str(tmp / "trained")
  proc = run_script(squad_cmd(
      trained, init_checkpoint=CKPT, do_train="true", train_file=train, train_batch_size=8,
      num_train_epochs=1.0, learning_rate=1e-3, seed=1234, do_predict="true",
      predict_file=predict, version_2_with_negative="true"))
  assert proc.returncode == 0, proc.stderr[-3000:]
  odds = _read(os.path.join(trained, "null_odds.json"))
  threshold = float(np.median(list(odds.values())))
  out = {"predict": predict, "predict_v1": predict_v1, "threshold": threshold}
  for name, v2, predict in (("v2", "true", predict), ("v1", "false", predict_v1)):
    run = str(tmp / name)
    copy_run(trained, run)
    export = str(tmp / ("export_" + name))
    proc = run_script(squad_cmd(
        run, do_predict="true", predict_file=predict, version_2_with_negative=v2,
        null_score_diff_threshold=threshold, export_dir=export))
    assert proc.returncode == 0, proc.stderr[-3000:]
    out[name] = (run, export, proc.stderr)
  return out


ANSWER_ALL = textwrap.dedent("""
    import json, sys
    sys.modules["bert_tf"] = None  # importing bert_tf would fail here
    import tensorflow as tf
    data = json.load(open(sys.argv[2], encoding="utf-8"))["data"]
    f = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
    out = {}
    for article in data:
      for p in article["paragraphs"]:
        qas = p["qas"]
        r = f(question=tf.constant([qa["question"] for qa in qas]),
              context=tf.constant([p["context"]] * len(qas)))
        for i, qa in enumerate(qas):
          out[qa["id"]] = {"answer": r["answer"][i].numpy().decode("utf-8"),
                           "start": int(r["start"][i]), "end": int(r["end"][i]),
                           "score": float(r["score"][i]),
                           "null_score_diff": float(r["null_score_diff"][i]),
                           "has_answer": bool(r["has_answer"][i]),
                           "windows": int(r["window_mask"][i].numpy().sum()),
                           "context": p["context"]}
    print("RESULT" + json.dumps(out))
""")


def _answer_all(export, predict, tmp_path):
  script = tmp_path / "answer_all.py"
  script.write_text(ANSWER_ALL)
  r = subprocess.run([sys.executable, str(script), export, predict], cwd=str(tmp_path),
                     capture_output=True, text=True, timeout=600)
  assert r.returncode == 0, r.stderr[-3000:]
  return json.loads(r.stdout.split("RESULT", 1)[1])


def _check_offsets(got):
  context = got["context"]
  if got["answer"] == "":
    assert (got["start"], got["end"]) == (-1, -1)
    return
  span = context[got["start"]:got["end"]]
  assert span == got["answer"] or " ".join(span.split()) == got["answer"], (span, got)


def test_the_export_is_published_with_the_run_settings(runs):
  run, export, log = runs["v2"]
  assert os.path.exists(os.path.join(export, "saved_model.pb"))
  assert os.path.exists(os.path.join(export, "assets", "vocab.txt"))
  marker = _read(os.path.join(export, checkpoints.EXPORT_MARKER))
  assert marker["format"] == "squad" and marker["source"].endswith("model.ckpt-3")
  assert _read(os.path.join(export, "squad_settings.json")) == dict(
      SIZES, do_lower_case=True, version_2_with_negative=True,
      null_score_diff_threshold=runs["threshold"], n_best_size=20, max_answer_length=30)
  assert "Exported the SQuAD model (global_step 3) as a SavedModel to %s" % export in log


def test_fresh_process_answers_equal_predictions_json_v2(runs, tmp_path):
  run, export, _ = runs["v2"]
  predictions = _read(os.path.join(run, "predictions.json"))
  odds = _read(os.path.join(run, "null_odds.json"))
  got = _answer_all(export, runs["predict"], tmp_path)
  assert sorted(got) == sorted(predictions)
  for qid, g in got.items():
    assert g["answer"] == predictions[qid], qid
    assert g["has_answer"] is (odds[qid] <= runs["threshold"]), qid
    np.testing.assert_allclose(g["null_score_diff"], odds[qid], rtol=1e-5, atol=1e-4)
    _check_offsets(g)
  # The threshold decides both ways, and contexts really split into several windows.
  assert {g["has_answer"] for g in got.values()} == {True, False}
  assert max(g["windows"] for g in got.values()) >= 3


def test_fresh_process_answers_equal_predictions_json_v1(runs, tmp_path):
  run, export, _ = runs["v1"]
  predictions = _read(os.path.join(run, "predictions.json"))
  nbest = _read(os.path.join(run, "nbest_predictions.json"))
  got = _answer_all(export, runs["predict_v1"], tmp_path)
  assert sorted(got) == sorted(predictions)
  for qid, g in got.items():
    assert g["answer"] == predictions[qid] and g["has_answer"], qid
    best = nbest[qid][0]
    np.testing.assert_allclose(g["score"], best["start_logit"] + best["end_logit"],
                               rtol=1e-5, atol=1e-4)
    _check_offsets(g)


def test_export_dir_over_the_run_s_own_files_is_refused(runs, tmp_path):
  run, _, _ = runs["v1"]
  before = snapshot(run)
  proc = run_script(squad_cmd(run, do_predict="true", predict_file=runs["predict_v1"],
                              export_dir=run))
  assert proc.returncode == 1
  assert error_line(proc, "run_squad.py") == (
      "%s: --export_dir is the --output_dir; exporting there would delete it. Pass a new "
      "--export_dir outside it" % run)
  assert snapshot(run) == before
  # A directory that is not an export of ours is never replaced.
  other = tmp_path / "notes"
  other.mkdir()
  (other / "mine.txt").write_text("keep")
  proc = run_script(squad_cmd(run, do_predict="true", predict_file=runs["predict_v1"],
                              export_dir=str(other)))
  assert proc.returncode == 1
  assert error_line(proc, "run_squad.py") == (
      "%s: --export_dir already exists and holds files that are not a bert_tf export "
      "(mine.txt); exporting would delete them. Pass a new or empty --export_dir" % other)
  assert snapshot(run) == before
  assert sorted(os.listdir(other)) == ["mine.txt"]
