"""Answers to questions about passages the user gives (answer.py's library).

A question and its context become SQuAD examples and features exactly as
run_squad.py's --predict_file would (examples.split_paragraph, the windows of
features_fast.convert_examples_to_features by max_seq_length / doc_stride /
max_query_length), the fine-tuned BertForSquad runs over the windows in
batches (the forward loop), and postprocess.compute_predictions picks the
answer (n_best_size, max_answer_length, null_score_diff_threshold), so the
answer to a SQuAD question is the one of run_squad's predictions.json for the
same model and settings.

One answer record per question (the shared contract of issue 19, the same
keys as the serving SavedModel of run_squad.py --export_dir returns):

  answer           the answer's characters in the user's context ("" if none)
  start, end       its offsets in the context (Python str indices, end
                   exclusive): context[start:end] == answer; -1, -1 for ""
  score            start_logit + end_logit of the answer's span (2.0: of the
                   best non-null span, also when the null answer wins; 0.0
                   when there is no span)
  null_score_diff  2.0 models only: null score - score (null_odds.json's value)
  has_answer       2.0 models only: null_score_diff <= null_score_diff_threshold

predictions.json joins the answer's words with single spaces; `answer` keeps
the context's own whitespace between them (the same text when the context has
single spaces there).

`load_answerer(...)` finds the checkpoint and settings (a run_squad.py
output_dir and its run_config.json, or an explicit checkpoint) and returns a
`SquadAnswerer`, built and restored once; `SavedModelAnswerer` answers
through a serving SavedModel's `serving_default(question, context)`.
`read_questions` / `parse_question_lines` read the JSON lines
{"question": ..., "context": ...} (optional "id"), `answer_lines` formats the
records and `write_lines` writes an output file atomically.
"""

import collections
import contextlib
import json
import logging as std_logging
import os
import sys
import time

import numpy as np
import tensorflow as tf
from absl import logging

from bert_tf import checkpoints, forward, output_dir, restore, tokenization
from bert_tf.data import readers
from bert_tf.inference import model_dir, settings
from bert_tf.inference.settings import InputError
from bert_tf.runtime import check_flag
from bert_tf.squad import features_fast, postprocess
from bert_tf.squad import model as squad_model
from bert_tf.squad.examples import SquadExample, split_paragraph

# run_squad.py's defaults, for the settings neither a flag nor run_config.json gives.
DEFAULTS = {"do_lower_case": True, "max_seq_length": 384, "doc_stride": 128,
            "max_query_length": 64, "version_2_with_negative": False}
# What identifies the fine-tuned model in run_config.json: flags that contradict it would
# give wrong answers without an error (bert_tf.squad.job.USE_KEYS without "script").
MODEL_KEYS = ("bert_config", "vocab_sha256", "do_lower_case")
# Questions converted and run per step of the progress log (bounds the features in memory).
CHUNK_QUESTIONS = 256
_LINE_SHAPE = 'each line is one JSON object {"question": ..., "context": ...} (optional "id")'
_SEQ_SPEC = tf.TensorSpec([None, None], tf.int32)
_FEATURES_SPEC = {"input_ids": _SEQ_SPEC, "input_mask": _SEQ_SPEC, "segment_ids": _SEQ_SPEC}

Question = collections.namedtuple("Question", ["question", "context", "id", "has_id", "line"])
Question.__new__.__defaults__ = (None, False, None)
Question.__doc__ = """One question about one context; `id` is passed through when `has_id`;
`line` is where it was read ("file:line") or None."""


# ----------------------------------------------------------------------------- input


def _bad_line(where, problem):
  return InputError("%s: %s; %s" % (where, problem, _LINE_SHAPE))


def _text_field(obj, key, where):
  if key not in obj:
    raise _bad_line(where, 'no "%s"' % key)
  value = obj[key]
  if not isinstance(value, str):
    raise _bad_line(where, '"%s" is %s, not a string' % (key, _json_type(value)))
  if not value.strip():
    raise _bad_line(where, '"%s" is empty' % key)
  return value


def _json_type(value):
  if value is None:
    return "null"
  if isinstance(value, bool):
    return "a boolean"
  if isinstance(value, (int, float)):
    return "a number"
  if isinstance(value, list):
    return "a list"
  if isinstance(value, dict):
    return "an object"
  return type(value).__name__


def parse_question_lines(lines, source="<stdin>"):
  """JSON lines -> [Question]; blank lines are skipped.

  Raises InputError "<source>:<line>: <problem>; ..." for a line that is not a
  JSON object, or whose "question" / "context" is missing, not a string or
  empty (whitespace only); and for an input without any question.
  """
  out = []
  for number, line in enumerate(lines, 1):
    if not line.strip():
      continue
    where = "%s:%d" % (source, number)
    try:
      obj = json.loads(line)
    except ValueError as e:
      raise _bad_line(where, "not JSON (%s)" % str(e).splitlines()[0]) from None
    if not isinstance(obj, dict):
      raise _bad_line(where, "%s, not a JSON object" % _json_type(obj))
    question = _text_field(obj, "question", where)
    context = _text_field(obj, "context", where)
    out.append(Question(question, context, obj.get("id"), "id" in obj, where))
  if not out:
    raise InputError('%s: empty input, no question to answer; %s' % (source, _LINE_SHAPE))
  return out


def read_questions(input_file=None, stdin=None):
  """The Questions of `input_file` (UTF-8 JSON lines), or of `stdin` (default sys.stdin)
  when input_file is None or "-"."""
  if input_file and input_file != "-":
    readers.check_text_file(input_file, InputError)  # a gzip file: say so, not "not UTF-8"
    try:
      with open(input_file, "rb") as f:
        data = f.read()
    except FileNotFoundError:
      raise InputError("%s: input file not found; pass a file of JSON lines "
                       '{"question": ..., "context": ...}, or leave out --input_file to read '
                       "stdin" % input_file) from None
    except PermissionError:
      raise InputError("%s: cannot read the file (Permission denied)" % input_file) from None
    except IsADirectoryError:
      raise InputError("%s: is a directory, expected a file of JSON lines" % input_file) from None
    source = input_file
  else:
    stdin = sys.stdin if stdin is None else stdin
    data = stdin.buffer.read() if hasattr(stdin, "buffer") else stdin.read()
    source = "<stdin>"
  if isinstance(data, bytes):
    readers.check_text_file(source, InputError, head=data[:readers.TEXT_SNIFF_BYTES])
    try:
      data = data.decode("utf-8")
    except UnicodeDecodeError as e:
      raise InputError("%s: not UTF-8 text (byte %d)" % (source, e.start)) from None
  # JSON strings escape their newlines, so a line ends at "\n" only ("\r\n" is fine too:
  # the "\r" is JSON whitespace).
  return parse_question_lines(data.split("\n"), source)


def one_question(question, context, question_id=None):
  """The Question of --question / --context (both needed, neither empty)."""
  for flag, value in (("question", question), ("context", context)):
    if value is None or not value.strip():
      raise InputError("--%s is %s; pass both --question and --context (or JSON lines on "
                       "stdin / --input_file)" % (flag, "missing" if value is None else "empty"))
  return Question(question, context, question_id, question_id is not None, None)


# ----------------------------------------------------------------------------- the model


_NO_MODEL = ("no model: pass --output_dir (a run_squad.py output directory), --init_checkpoint (a "
             "checkpoint fine-tuned by run_squad.py) or --saved_model_dir (its serving export)")


def check_squad_head(checkpoint):
  """MissingHeadError unless the checkpoint has run_squad's span head (cls/squad/*)."""
  prefix, reader = checkpoints.open_checkpoint(checkpoint)
  if not any(n.startswith(squad_model.HEAD_PREFIX) for n in reader.get_variable_to_shape_map()):
    raise restore.MissingHeadError(
        "%s: checkpoint has no SQuAD span head (%s*); answer.py needs a checkpoint fine-tuned "
        "by run_squad.py --do_train, not a pre-trained or classifier one" %
        (prefix, squad_model.HEAD_PREFIX))
  return prefix


def squad_run_record(run_dir, required=False):
  """(run_config.json of a run_squad.py run in run_dir, its path), or ({}, None) when there is
  none.  required: run_dir was named as a run_squad output_dir, so a record written by
  another script is an InputError."""
  if not run_dir:
    return {}, None
  record = output_dir.read_record(run_dir)
  path = os.path.join(run_dir, output_dir.RUN_RECORD)
  if record is None:
    return {}, None
  if record.get("script") != "run_squad.py":
    if required:
      raise InputError("%s: written by %s, not run_squad.py; pass the --output_dir of a "
                       "run_squad.py run" % (path, record.get("script") or "another script"))
    return {}, None
  return record, path


AnswerSettings = collections.namedtuple(
    "AnswerSettings", ["checkpoint", "bert_config_file", "vocab_file", "do_lower_case",
                       "max_seq_length", "doc_stride", "max_query_length",
                       "version_2_with_negative", "record_path"])


def resolve_settings(output_dir_path=None, init_checkpoint=None, bert_config_file=None,
                     vocab_file=None, do_lower_case=None, max_seq_length=None, doc_stride=None,
                     max_query_length=None, version_2_with_negative=None):
  """The checkpoint and the model / window settings of a fine-tuned SQuAD model.

  Each setting left None is read from the run's run_config.json (output_dir's,
  else the checkpoint directory's, when written by run_squad.py --do_train),
  else run_squad.py's default (bert_config_file and vocab_file are then
  required).  A bert_config_file, vocab_file or do_lower_case that contradicts
  the record of the run that wrote the checkpoint is an InputError (the
  answers would be wrong without one); other window settings or
  version_2_with_negative may differ from the training run's (as for
  run_squad.py --do_predict) and are logged.
  """
  checkpoint = model_dir.find_checkpoint(output_dir_path, init_checkpoint, script="run_squad.py",
                                         no_model=_NO_MODEL)
  run_dir = output_dir_path or os.path.dirname(checkpoint)
  record, record_path = squad_run_record(run_dir, required=bool(output_dir_path))
  given = {"bert_config_file": bert_config_file, "vocab_file": vocab_file,
           "do_lower_case": do_lower_case, "max_seq_length": max_seq_length,
           "doc_stride": doc_stride, "max_query_length": max_query_length,
           "version_2_with_negative": version_2_with_negative}
  values = {}
  for key, value in given.items():
    if value is None:
      value = record.get(key, DEFAULTS.get(key))
    elif key in record and key in DEFAULTS and value != record[key]:
      logging.info("--%s=%s, the run in %s used %s: the windows and answers follow the flag",
                   key, value, run_dir, record[key])
    values[key] = value
  for key in ("bert_config_file", "vocab_file"):
    if not values[key]:
      raise InputError("--%s is required: %s has no run_config.json of a run_squad.py "
                       "--do_train run to read it from" % (key, run_dir))
  own_checkpoint = os.path.abspath(os.path.dirname(checkpoint)) == os.path.abspath(run_dir)
  if record and own_checkpoint and any(given[k] is not None for k in
                                       ("bert_config_file", "vocab_file", "do_lower_case")):
    _check_same_model(record, record_path, values, checkpoint)
  return AnswerSettings(checkpoint=checkpoint, record_path=record_path,
                        **{k: values[k] for k in given})


def _check_same_model(record, record_path, values, checkpoint):
  """InputError when the flags describe another model than the run's record."""
  from bert_tf.configuration import BertConfig  # pylint: disable=g-import-not-at-top
  current = {"bert_config": BertConfig.from_json_file(values["bert_config_file"]).to_dict(),
             "do_lower_case": bool(values["do_lower_case"])}
  try:
    current["vocab_sha256"] = output_dir.file_sha256(values["vocab_file"])
  except OSError:
    pass  # a missing vocab is reported by the tokenizer, with its own message
  differences = output_dir.record_differences(record, current, MODEL_KEYS)
  if differences:
    raise InputError(
        "%s was fine-tuned with other settings than the flags give (then -> now: %s; recorded "
        "in %s); leave out --bert_config_file / --vocab_file / --do_lower_case to use the "
        "recorded ones" % (checkpoint, "; ".join(differences), record_path))


def check_options(max_seq_length, doc_stride, max_query_length, n_best_size, max_answer_length,
                  null_score_diff_threshold, batch_size):
  """The numeric settings' ranges (one line naming the flag), as run_squad.py checks them."""
  check_flag("max_seq_length", max_seq_length, minimum=5,
             why="room for [CLS], a question token, [SEP], a document token and [SEP]")
  check_flag("max_query_length", max_query_length, minimum=1,
             why="the question's tokens kept in each window, e.g. 64")
  check_flag("doc_stride", doc_stride, minimum=1,
             why="how far each window of a long context moves on, e.g. 128")
  if max_seq_length <= max_query_length + 3:
    raise InputError("The max_seq_length (%d) must be greater than max_query_length (%d) + 3"
                     % (max_seq_length, max_query_length))
  check_flag("predict_batch_size", batch_size, minimum=1, why="the windows per model call")
  check_flag("n_best_size", n_best_size, minimum=1,
             why="the best start and end positions considered per window, e.g. 20")
  check_flag("max_answer_length", max_answer_length, minimum=1,
             why="the longest answer in tokens, e.g. 30")
  check_flag("null_score_diff_threshold", null_score_diff_threshold,
             why="the null answer wins when null score - best non-null score is above it")


@contextlib.contextmanager
def _info_logs_off():
  """features_fast logs the windows of the first examples of every conversion, as
  run_squad's "*** Example ***" lines; an answer command converts chunk after chunk and
  keeps its log to progress lines."""
  logger = logging.get_absl_logger()
  level = logger.level
  if logger.getEffectiveLevel() >= std_logging.INFO:  # --verbosity=1 (debug) keeps them
    logger.setLevel(max(logger.getEffectiveLevel(), std_logging.WARNING))
  try:
    yield
  finally:
    logger.setLevel(level)


def _word_starts(context, num_words, char_to_word_offset):
  """The character offset in `context` where each word of split_paragraph begins (the first
  character mapped to it: the whitespace before a word maps to the word before)."""
  starts = [0] * num_words
  seen = -1
  for i, w in enumerate(char_to_word_offset):
    if w > seen:
      starts[w] = i
      seen = w
  return starts


def char_span(context, doc_tokens, word_starts, first, last, start, end):
  """(start, end) in `context` of the text " ".join(doc_tokens[first:last + 1])[start:end]
  (positions on non-space characters of the joined words), end exclusive."""
  def to_context(position):
    offset = 0
    for w in range(first, last + 1):
      length = len(doc_tokens[w])
      if position < offset + length:
        return word_starts[w] + position - offset
      offset += length + 1  # the single space of the joined text
    raise AssertionError("position %d beyond the words %d..%d" % (position, first, last))
  return to_context(start), to_context(end - 1) + 1


def _record(question, answer, start, end, score, null_score_diff=None, has_answer=None,
            version_2=False):
  out = collections.OrderedDict()
  if question.has_id:
    out["id"] = question.id
  out["answer"] = answer
  out["start"] = int(start)
  out["end"] = int(end)
  out["score"] = float(score)
  if version_2:
    out["null_score_diff"] = float(null_score_diff)
    out["has_answer"] = bool(has_answer)
  return out


class _Progress(object):
  """'Answered N of M questions (x/s, about T left)' after each chunk of a long input."""

  def __init__(self, total, every):
    self.total = total
    self.every = every
    self.started = time.time()

  def update(self, done):
    if self.total <= self.every:
      return
    elapsed = max(time.time() - self.started, 1e-9)
    rate = done / elapsed
    left = (self.total - done) / rate if rate > 0 else 0.0
    logging.info("Answered %d of %d questions (%.1f questions/s, about %s left)", done,
                 self.total, rate, _duration(left))


def _duration(seconds):
  seconds = int(round(seconds))
  if seconds < 60:
    return "%ds" % seconds
  if seconds < 3600:
    return "%dm%02ds" % divmod(seconds, 60)
  return "%dh%02dm" % (seconds // 3600, seconds % 3600 // 60)


class SquadAnswerer(object):
  """A model fine-tuned by run_squad.py, built and restored once, that answers Questions.

  settings: AnswerSettings (resolve_settings); n_best_size, max_answer_length,
  null_score_diff_threshold: as run_squad.py's flags; batch_size: windows per
  model call (run_squad's --predict_batch_size).
  """

  def __init__(self, answer_settings, n_best_size=20, max_answer_length=30,
               null_score_diff_threshold=0.0, batch_size=8):
    s = answer_settings
    check_options(s.max_seq_length, s.doc_stride, s.max_query_length, n_best_size,
                  max_answer_length, null_score_diff_threshold, batch_size)
    self.settings = s
    self.config = settings.load_config(
        s.bert_config_file, s.max_seq_length,
        s.record_path if s.record_path else None)
    tokenization.validate_case_matches_checkpoint(s.do_lower_case, s.checkpoint)
    self.tokenizer = settings.load_tokenizer(s.vocab_file, s.do_lower_case, self.config,
                                             s.bert_config_file)
    self.checkpoint = check_squad_head(s.checkpoint)
    self.n_best_size = n_best_size
    self.max_answer_length = max_answer_length
    self.null_score_diff_threshold = null_score_diff_threshold
    self.batch_size = batch_size
    self.version_2_with_negative = bool(s.version_2_with_negative)
    # The model of run_squad's predict (bert_tf.squad.job._build), restored in full.
    self.model = squad_model.BertForSquad(self.config, fused_gelu=True, trim_keys=True)
    self.model.build()
    restore.restore(self.model.original_variables(), self.checkpoint, "SQuAD model")
    model = self.model

    def predict_step(features):
      outputs = model(features, training=False)
      return {"start_logits": outputs["start_logits"], "end_logits": outputs["end_logits"]}

    # Not trimmed: the padded positions' logits take part in the n-best lists, as in run_squad.
    self._forward = forward.Forward(predict_step, input_signature=_FEATURES_SPEC, trim=False)
    logging.info("Answering with %s (max_seq_length %d, doc_stride %d, max_query_length %d, "
                 "SQuAD %s)", self.checkpoint, s.max_seq_length, s.doc_stride,
                 s.max_query_length, "2.0" if self.version_2_with_negative else "1.1")

  def examples(self, questions, first_number=1):
    """SquadExamples as run_squad reads a predict file: the context split into words
    (split_paragraph), one words list shared by the questions of one context.  The
    qas_id (named in postprocess' warnings) is where the question was read, else
    "question N"."""
    split = {}
    examples = []
    seen = set()
    for i, q in enumerate(questions):
      if q.context not in split:
        split[q.context] = split_paragraph(q.context)
      number = "question %d" % (first_number + i)
      qas_id = q.line or number
      if qas_id in seen:  # the records are matched to the questions by qas_id
        qas_id = "%s (%s)" % (qas_id, number)
      seen.add(qas_id)
      examples.append(SquadExample(qas_id=qas_id, question_text=q.question,
                                   doc_tokens=split[q.context][0]))
    return examples, split

  def _answer_chunk(self, questions, first_number):
    s = self.settings
    examples, split = self.examples(questions, first_number)
    with _info_logs_off():
      features = features_fast.convert_examples_to_features(
          examples, self.tokenizer, s.max_seq_length, s.doc_stride, s.max_query_length,
          is_training=False)
    arrays = {k: np.asarray([getattr(f, k) for f in features], np.int32).reshape(
        -1, s.max_seq_length) for k in ("input_ids", "input_mask", "segment_ids")}
    out = self._forward.run(arrays, self.batch_size) if features else {}
    results = postprocess.results_from_arrays(
        [f.unique_id for f in features], out.get("start_logits", []), out.get("end_logits", []))
    spans = {}
    predictions, _, null_odds = postprocess.compute_predictions(
        examples, features, results, self.n_best_size, self.max_answer_length,
        s.do_lower_case, self.version_2_with_negative, self.null_score_diff_threshold,
        answer_spans=spans)
    # An entry's feature_index counts the features of its example, as in compute_predictions.
    features_of = collections.defaultdict(list)
    for f in features:
      features_of[f.example_index].append(f)
    starts = {}
    records = []
    for i, (q, example) in enumerate(zip(questions, examples)):
      entry = spans.get(example.qas_id)
      text = predictions[example.qas_id]
      null_diff = null_odds.get(example.qas_id)
      has_answer = bool(text) and entry is not None
      if entry is None:
        score = 0.0
      else:
        score = entry.start_logit + entry.end_logit
      if not has_answer:
        records.append(_record(q, "", -1, -1, score, null_diff, False,
                               self.version_2_with_negative))
        continue
      feature = features_of[i][entry.feature_index]
      first, last, start, end = postprocess.prediction_span(
          example, feature, entry.start_index, entry.end_index, s.do_lower_case)
      if q.context not in starts:
        words, offsets = split[q.context]
        starts[q.context] = _word_starts(q.context, len(words), offsets)
      start, end = char_span(q.context, example.doc_tokens, starts[q.context], first, last,
                             start, end)
      records.append(_record(q, q.context[start:end], start, end, score, null_diff, True,
                             self.version_2_with_negative))
    return records

  def answer(self, questions):
    """Questions -> one answer record (an OrderedDict, see the module docstring) each."""
    questions = list(questions)
    progress = _Progress(len(questions), CHUNK_QUESTIONS)
    records = []
    for begin in range(0, len(questions), CHUNK_QUESTIONS):
      records.extend(self._answer_chunk(questions[begin:begin + CHUNK_QUESTIONS], begin + 1))
      progress.update(len(records))
    return records


def load_answerer(output_dir_path=None, init_checkpoint=None, bert_config_file=None,
                  vocab_file=None, do_lower_case=None, max_seq_length=None, doc_stride=None,
                  max_query_length=None, version_2_with_negative=None, n_best_size=20,
                  max_answer_length=30, null_score_diff_threshold=0.0, batch_size=8):
  """A SquadAnswerer for a run_squad.py output_dir or checkpoint (see resolve_settings)."""
  answer_settings = resolve_settings(
      output_dir_path, init_checkpoint, bert_config_file, vocab_file, do_lower_case,
      max_seq_length, doc_stride, max_query_length, version_2_with_negative)
  return SquadAnswerer(answer_settings, n_best_size, max_answer_length,
                       null_score_diff_threshold, batch_size)


# ----------------------------------------------------------------------------- SavedModel

SQUAD_SETTINGS_FILE = "squad_settings.json"
SERVING_OUTPUTS = ("answer", "start", "end", "score", "null_score_diff", "has_answer")


class SavedModelAnswerer(object):
  """The same answer records through a serving SavedModel (run_squad.py --export_dir):
  `serving_default(question=tf.string [B], context=tf.string [B])`, which tokenizes, splits
  into windows and picks the answer itself.  null_score_diff and has_answer are reported
  for a 2.0 model (squad_settings.json's version_2_with_negative; all keys when the file is
  absent); the threshold is the one given at export."""

  def __init__(self, saved_model_dir, batch_size=8):
    check_flag("predict_batch_size", batch_size, minimum=1, why="the questions per call")
    if not os.path.isfile(os.path.join(saved_model_dir, "saved_model.pb")):
      raise InputError("%s: not a SavedModel directory (no saved_model.pb); pass the "
                       "--export_dir of run_squad.py" % saved_model_dir)
    self.settings = self._read_settings(saved_model_dir)
    try:
      self._loaded = tf.saved_model.load(saved_model_dir)
    except (tf.errors.OpError, ValueError, OSError) as e:
      msg = str(getattr(e, "message", e)).strip().splitlines()
      raise InputError("%s: cannot load the SavedModel (%s)" %
                       (saved_model_dir, msg[0] if msg else type(e).__name__)) from None
    signature = self._loaded.signatures.get("serving_default")
    if signature is None:
      raise InputError("%s: SavedModel has no serving_default signature" % saved_model_dir)
    inputs = set(signature.structured_input_signature[1])
    missing = [k for k in SERVING_OUTPUTS[:4] if k not in signature.structured_outputs]
    if not {"question", "context"} <= inputs or missing:
      raise InputError(
          "%s: serving_default takes %s and returns %s; answer.py needs a question-answering "
          "export (question, context -> answer, start, end, score) of run_squad.py "
          "--export_dir" % (saved_model_dir, ", ".join(sorted(inputs)),
                            ", ".join(sorted(signature.structured_outputs))))
    self._signature = signature
    self.batch_size = batch_size
    self.version_2_with_negative = bool(self.settings.get(
        "version_2_with_negative", "has_answer" in signature.structured_outputs))
    self.saved_model_dir = saved_model_dir

  @staticmethod
  def _read_settings(saved_model_dir):
    return model_dir.read_json_object(os.path.join(saved_model_dir, SQUAD_SETTINGS_FILE))

  def answer(self, questions):
    questions = list(questions)
    progress = _Progress(len(questions), CHUNK_QUESTIONS)
    records = []
    report_at = CHUNK_QUESTIONS
    for sl in forward.batch_slices(len(questions), self.batch_size):
      batch = questions[sl]
      out = self._signature(question=tf.constant([q.question for q in batch]),
                            context=tf.constant([q.context for q in batch]))
      out = {k: out[k].numpy() for k in SERVING_OUTPUTS if k in out}
      for j, q in enumerate(batch):
        answer = out["answer"][j].decode("utf-8")
        if out["start"][j] >= 0:
          # The signature's `answer` is predictions.json's text (words joined by single
          # spaces); the command prints the context's own characters, as from a checkpoint.
          answer = q.context[int(out["start"][j]):int(out["end"][j])]
        has_answer = bool(out["has_answer"][j]) if "has_answer" in out else bool(answer)
        null_diff = out["null_score_diff"][j] if "null_score_diff" in out else float("nan")
        records.append(_record(q, answer, out["start"][j], out["end"][j], out["score"][j],
                               null_diff, has_answer, self.version_2_with_negative))
      if len(records) >= report_at:
        progress.update(len(records))
        report_at += CHUNK_QUESTIONS
    return records


# ----------------------------------------------------------------------------- output


def answer_lines(records):
  """One JSON line (no newline) per answer record; UTF-8 text kept as it is."""
  return [json.dumps(r, ensure_ascii=False) for r in records]


def write_lines(lines, output_file):
  """Writes the lines to output_file through a temporary file and a rename: a failed run
  leaves an earlier output_file as it was, never half a file."""
  check_output_file(output_file)
  tmp = "%s.tmp-%d" % (output_file, os.getpid())
  try:
    with open(tmp, "w", encoding="utf-8") as f:
      f.write("".join(line + "\n" for line in lines))
    os.replace(tmp, output_file)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)


def check_output_file(output_file):
  """The checks of write_lines, before the model is loaded (a typo fails at once)."""
  if os.path.isdir(output_file):
    raise InputError("%s: is a directory; --output_file must name a file" % output_file)
  directory = os.path.dirname(os.path.abspath(output_file))
  if not os.path.isdir(directory):
    raise InputError("%s: no such directory for --output_file" % directory)
