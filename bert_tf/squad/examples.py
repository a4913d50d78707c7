"""SQuAD examples: one question over one paragraph, read from SQuAD JSON.

`read_squad_examples` is google-research/bert's `read_squad_examples` (SQuAD
1.1 and 2.0), with the same results on every well-formed file:

* A paragraph is split into `doc_tokens`, the maximal runs of characters that
  are not whitespace, where whitespace is ONLY " ", "\\t", "\\r", "\\n" and
  U+202F (the original's `is_whitespace`).  U+00A0, U+3000 and the other
  Unicode spaces stay inside a word.  `char_to_word_offset[i]` is the index of
  the word holding character i (for a whitespace character: the word before
  it, -1 before the first word).
* Training: a question needs exactly one answer unless it is impossible.  Its
  start/end words come from `answer_start` and `answer_start + len(text) - 1`.
  The example is dropped with the warning "Could not find answer: '%s' vs.
  '%s'" when the space-joined words of that span do not contain the answer
  split on Python whitespace and re-joined with spaces.  With
  `version_2_with_negative`, `is_impossible` is read from every question;
  an impossible one gets positions -1 and the answer "".
* Prediction: answers are not read; positions and answer are None and
  `is_impossible` is always False (as the original, even for SQuAD 2.0).

Where the original raised a bare KeyError / IndexError / ValueError on bad
input (no JSON, no "data"/"paragraphs"/"qas"/"context", an `answer_start`
outside the context, a SQuAD 1.1 file read with `version_2_with_negative`,
several answers to a training question), `SquadInputError` (a ValueError)
says in one line which file, which question and what to do.  A negative
`answer_start` is also refused (the original silently indexed from the end).
"""

import json
import re

from absl import logging

from bert_tf import tokenization
from bert_tf.errors import SquadInputError  # noqa: F401  (raised here)


class SquadExample(object):
  """One SQuAD question with its paragraph's words (and, in training, its answer).

  Questions of the same paragraph share one `doc_tokens` list, as in the
  original (the fast feature path uses that to tokenize a paragraph once).
  """

  def __init__(self, qas_id, question_text, doc_tokens, orig_answer_text=None,
               start_position=None, end_position=None, is_impossible=False):
    self.qas_id = qas_id
    self.question_text = question_text
    self.doc_tokens = doc_tokens
    self.orig_answer_text = orig_answer_text
    self.start_position = start_position
    self.end_position = end_position
    self.is_impossible = is_impossible

  def __str__(self):
    return self.__repr__()

  def __repr__(self):
    # The original tests `if self.start_position:` so a start at word 0 prints
    # nothing; kept as is (cosmetic).
    s = "qas_id: %s" % tokenization.printable_text(self.qas_id)
    s += ", question_text: %s" % tokenization.printable_text(self.question_text)
    s += ", doc_tokens: [%s]" % " ".join(self.doc_tokens)
    if self.start_position:
      s += ", start_position: %d" % self.start_position
      s += ", end_position: %d" % self.end_position
      s += ", is_impossible: %r" % self.is_impossible
    return s


def is_whitespace(c):
  """The original read_squad_examples' whitespace: 4 ASCII chars and U+202F."""
  return c == " " or c == "\t" or c == "\r" or c == "\n" or ord(c) == 0x202F


_WORD = re.compile("[^ \t\r\n\u202f]+")


def split_paragraph(paragraph_text):
  """(doc_tokens, char_to_word_offset) of a context, as the original.

  Words are the runs of non-whitespace (is_whitespace above); every
  character maps to the last word that started at or before it.  Equal to
  split_paragraph_reference, the original's character loop.
  """
  doc_tokens = []
  char_to_word_offset = []
  previous_start = 0
  for match in _WORD.finditer(paragraph_text):
    start = match.start()
    char_to_word_offset.extend([len(doc_tokens) - 1] * (start - previous_start))
    doc_tokens.append(match.group())
    previous_start = start
  char_to_word_offset.extend(
      [len(doc_tokens) - 1] * (len(paragraph_text) - previous_start))
  return doc_tokens, char_to_word_offset


def split_paragraph_reference(paragraph_text):
  """The original read_squad_examples' character loop (the reference for tests)."""
  doc_tokens = []
  char_to_word_offset = []
  prev_is_whitespace = True
  for c in paragraph_text:
    if is_whitespace(c):
      prev_is_whitespace = True
    else:
      if prev_is_whitespace:
        doc_tokens.append(c)
      else:
        doc_tokens[-1] += c
      prev_is_whitespace = False
    char_to_word_offset.append(len(doc_tokens) - 1)
  return doc_tokens, char_to_word_offset


_SHAPE = ('a SQuAD file looks like {"version": ..., "data": [{"title": ..., '
          '"paragraphs": [{"context": ..., "qas": [{"id": ..., "question": ..., '
          '"answers": [{"text": ..., "answer_start": ...}]}]}]}]}')


def load_squad_json(input_file):
  """The "data" list of a SQuAD JSON file (SquadInputError if it is not one)."""
  try:
    with open(input_file, "r", encoding="utf-8") as reader:
      document = json.load(reader)
  except FileNotFoundError:
    raise SquadInputError("%s: file not found; pass an existing SQuAD .json file"
                          % input_file) from None
  except IsADirectoryError:
    raise SquadInputError("%s: is a directory; pass a SQuAD .json file"
                          % input_file) from None
  except UnicodeDecodeError as e:
    raise SquadInputError("%s: not UTF-8 text (byte %d); SQuAD files are UTF-8 JSON"
                          % (input_file, e.start)) from None
  except json.JSONDecodeError as e:
    raise SquadInputError("%s: not JSON (%s); %s" % (input_file, e, _SHAPE)) from None
  if not isinstance(document, dict) or not isinstance(document.get("data"), list):
    raise SquadInputError('%s: no "data" list at the top level; %s' % (input_file, _SHAPE))
  return document["data"]


def _where(article_index, paragraph_index=None, question_index=None):
  s = "article %d" % article_index
  if paragraph_index is not None:
    s += " paragraph %d" % paragraph_index
  if question_index is not None:
    s += " question %d" % question_index
  return s


def _paragraphs(input_file, input_data):
  """Yields (context, qas list) per paragraph, checking the file's structure."""
  for a, entry in enumerate(input_data):
    if not isinstance(entry, dict) or not isinstance(entry.get("paragraphs"), list):
      raise SquadInputError('%s: %s has no "paragraphs" list; %s'
                            % (input_file, _where(a), _SHAPE))
    for p, paragraph in enumerate(entry["paragraphs"]):
      if not isinstance(paragraph, dict) or not isinstance(paragraph.get("context"), str):
        raise SquadInputError('%s: %s has no "context" string; every paragraph needs '
                              '"context" (its text) and "qas" (its questions)'
                              % (input_file, _where(a, p)))
      if not isinstance(paragraph.get("qas"), list):
        raise SquadInputError('%s: %s has no "qas" list; every paragraph needs '
                              '"context" (its text) and "qas" (its questions)'
                              % (input_file, _where(a, p)))
      for q, qa in enumerate(paragraph["qas"]):
        if not isinstance(qa, dict) or "id" not in qa or "question" not in qa:
          raise SquadInputError('%s: %s has no "id" or no "question"; every question '
                                'needs both' % (input_file, _where(a, p, q)))
        # The original would fail later, in the tokenizer ("Unsupported string type")
        # or in the predictions dict (an unhashable id), without naming the question.
        if not isinstance(qa["question"], str):
          raise SquadInputError('%s: %s (id %r): "question" is %s, not a string'
                                % (input_file, _where(a, p, q), qa["id"],
                                   type(qa["question"]).__name__))
        if isinstance(qa["id"], bool) or not isinstance(qa["id"], (str, int)):
          raise SquadInputError('%s: %s: "id" is %s, not a string or an integer'
                                % (input_file, _where(a, p, q), json.dumps(qa["id"])[:60]))
      yield paragraph["context"], paragraph["qas"]


def _training_answer(input_file, qa, context, char_to_word_offset):
  """(answer text, start word, end word) of a training question."""
  qas_id = qa["id"]
  answers = qa.get("answers")
  if not isinstance(answers, list):
    raise SquadInputError('%s: question %s has no "answers" list; a training question '
                          'needs exactly one answer {"text", "answer_start"}'
                          % (input_file, qas_id))
  if len(answers) != 1:
    raise SquadInputError(
        "%s: question %s has %d answers; for training, each question should have "
        "exactly 1 answer: keep only the first one (dev files list several, train "
        "files one)" % (input_file, qas_id, len(answers)))
  answer = answers[0]
  if (not isinstance(answer, dict) or not isinstance(answer.get("text"), str) or
      not isinstance(answer.get("answer_start"), int) or
      isinstance(answer.get("answer_start"), bool)):
    raise SquadInputError('%s: question %s: the answer needs a "text" string and an '
                          'integer "answer_start"' % (input_file, qas_id))
  orig_answer_text = answer["text"]
  answer_offset = answer["answer_start"]
  answer_length = len(orig_answer_text)
  last = answer_offset + answer_length - 1
  if answer_offset < 0 or answer_offset >= len(context) or last >= len(context):
    raise SquadInputError(
        "%s: question %s: answer_start %d (answer of %d chars) lies outside its "
        "context of %d chars; fix answer_start (a character offset into the context)"
        % (input_file, qas_id, answer_offset, answer_length, len(context)))
  return (orig_answer_text, char_to_word_offset[answer_offset],
          char_to_word_offset[last])


def read_squad_examples(input_file, is_training, version_2_with_negative=False):
  """Reads a SQuAD JSON file into a list of SquadExample, as the original.

  Args:
    input_file: path of a SQuAD 1.1 / 2.0 JSON file.
    is_training: read answers (positions, "Could not find answer" drops).
    version_2_with_negative: SQuAD 2.0 (training reads `is_impossible`).

  Raises:
    SquadInputError: the file is not SQuAD JSON, or (training) a question has
      not exactly one answer, an answer lies outside its context, or
      `is_impossible` is missing with version_2_with_negative.
  """
  input_data = load_squad_json(input_file)
  examples = []
  for paragraph_text, qas in _paragraphs(input_file, input_data):
    doc_tokens, char_to_word_offset = split_paragraph(paragraph_text)
    for qa in qas:
      qas_id = qa["id"]
      question_text = qa["question"]
      start_position = None
      end_position = None
      orig_answer_text = None
      is_impossible = False
      if is_training:
        if version_2_with_negative:
          if "is_impossible" not in qa:
            raise SquadInputError(
                '%s: question %s has no "is_impossible" field, which SQuAD 2.0 '
                "training (version_2_with_negative) needs; this looks like a SQuAD "
                "1.1 file: train without version_2_with_negative, or use a SQuAD 2.0 "
                "file" % (input_file, qas_id))
          is_impossible = qa["is_impossible"]
        if not is_impossible:
          orig_answer_text, start_position, end_position = _training_answer(
              input_file, qa, paragraph_text, char_to_word_offset)
          # Keep only answers that can be recovered exactly from the words
          # (weird Unicode otherwise); such examples are dropped.
          actual_text = " ".join(doc_tokens[start_position:(end_position + 1)])
          cleaned_answer_text = " ".join(
              tokenization.whitespace_tokenize(orig_answer_text))
          if actual_text.find(cleaned_answer_text) == -1:
            logging.warning("Could not find answer: '%s' vs. '%s'",
                            actual_text, cleaned_answer_text)
            continue
        else:
          start_position = -1
          end_position = -1
          orig_answer_text = ""
      examples.append(SquadExample(
          qas_id=qas_id,
          question_text=question_text,
          doc_tokens=doc_tokens,
          orig_answer_text=orig_answer_text,
          start_position=start_position,
          end_position=end_position,
          is_impossible=is_impossible))
  return examples

