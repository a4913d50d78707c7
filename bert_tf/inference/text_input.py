"""Text input lines -> the texts (one, or a sentence pair) the inference tools run on.

Two line formats, each kept exactly as its tool has always read it:

* predict.py / fill_mask.py (`parse_lines`, `read_input_lines`, `as_inputs`):
  one text, or two texts separated by one tab (text_a, text_b); blank lines are
  skipped; UTF-8 from a file or stdin -> [TextInput(text_a, text_b, line)].
* extract_features.py (`read_examples`): google-research/bert's format, one
  example per line, `text_a ||| text_b` (the regex `^(.*) \\|\\|\\| (.*)$` on the
  stripped line) makes a pair; every line counts (unique_id = the 0-based line
  number); read through tf.io.gfile (gs:// paths) -> [InputExample].
"""

import collections
import json
import re
import sys

import tensorflow as tf

from bert_tf import tokenization
from bert_tf.data import readers
from bert_tf.inference.settings import InputError

TextInput = collections.namedtuple("TextInput", ["text_a", "text_b", "line"])


def parse_lines(lines, source="<stdin>"):
  """Text lines -> [TextInput(text_a, text_b or None, line number)].

  A line is one text, or two texts separated by one tab; a trailing "\\n" or
  "\\r\\n" is dropped, blank lines are skipped, and an empty second text
  ("a<TAB>") means a single text (as the original's `if example.text_b`).

  Raises:
    InputError: a line with more than one tab, or no text at all.
  """
  out = []
  for number, line in enumerate(lines, 1):
    line = line.rstrip("\n").rstrip("\r")
    if not line.strip():
      continue
    parts = line.split("\t")
    if len(parts) > 2:
      raise InputError(
          "%s line %d: %d tabs; a line is one text, or two texts (a sentence pair) separated "
          "by one tab" % (source, number, len(parts) - 1))
    text_b = parts[1] if len(parts) == 2 and parts[1] else None
    out.append(TextInput(parts[0], text_b, number))
  if not out:
    raise InputError("%s: empty input, no text to process" % source)
  return out


def read_input_lines(input_file=None, stdin=None):
  """TextInputs of `input_file` ("-" or None: `stdin`, default sys.stdin)."""
  if input_file and input_file != "-":
    readers.check_text_file(input_file, InputError)  # a gzip file: say so, not "not UTF-8"
    try:
      with open(input_file, "r", encoding="utf-8", newline="") as f:
        lines = f.read().split("\n")
    except FileNotFoundError:
      raise InputError("%s: input file not found; pass a UTF-8 text file with one text per "
                       "line, or leave out --input_file to read stdin" % input_file)
    except PermissionError:
      raise InputError("%s: cannot read the file (Permission denied)" % input_file)
    except IsADirectoryError:
      raise InputError("%s: is a directory, expected a text file" % input_file)
    except UnicodeDecodeError as e:
      raise InputError("%s: not UTF-8 text (byte %d)" % (input_file, e.start))
    return parse_lines(lines, input_file)
  if stdin is None:
    stdin = sys.stdin
  data = stdin.buffer.read() if hasattr(stdin, "buffer") else stdin.read()
  if isinstance(data, bytes):
    readers.check_text_file("<stdin>", InputError, head=data[:readers.TEXT_SNIFF_BYTES])
    try:
      data = data.decode("utf-8")
    except UnicodeDecodeError as e:
      raise InputError("<stdin>: not UTF-8 text (byte %d)" % e.start)
  return parse_lines(data.replace("\r\n", "\n").split("\n"), "<stdin>")


def as_inputs(texts, source="text"):
  """Strings (a tab separating a pair), (a, b) tuples or TextInputs -> [TextInput]."""
  if isinstance(texts, (str, TextInput)):
    texts = [texts]
  lines, out = [], []
  for text in texts:
    if isinstance(text, TextInput):
      out.append(text)
    elif isinstance(text, (tuple, list)):
      a, b = (list(text) + [None])[:2]
      out.append(TextInput(a, b or None, len(out) + 1))
    else:
      lines.append(text)
  if lines:
    if out:
      raise InputError("give texts as strings or as (text_a, text_b) pairs, not both")
    return parse_lines(lines, source)
  if not out:
    raise InputError("%s: empty input, no text to process" % source)
  return out


def where(text_input):
  """'line N ("start of the text...")' for error messages."""
  text = text_input.text_a if text_input.text_b is None else \
      text_input.text_a + "\t" + text_input.text_b
  return "line %d (%s)" % (text_input.line, json.dumps(text if len(text) <= 40 else
                                                       text[:37] + "...", ensure_ascii=False))


# ----------------------------------------------------------------------------
# extract_features.py's `text_a ||| text_b` lines
# ----------------------------------------------------------------------------

_PAIR_RE = re.compile(r"^(.*) \|\|\| (.*)$")


class InputExample(object):

  def __init__(self, unique_id, text_a, text_b):
    self.unique_id = unique_id
    self.text_a = text_a
    self.text_b = text_b


def read_examples(input_file):
  """Lines of `input_file` -> [InputExample]; lines end at "\\n" only (as tf.gfile)."""
  examples = []
  what = ("; pass --input_file with one text per line (`text_a ||| text_b` for a pair)")
  try:
    if tf.io.gfile.isdir(input_file):
      raise ValueError("%s: is a directory, expected a text file%s" % (input_file, what))
    with tf.io.gfile.GFile(input_file, "rb") as f:
      data = f.read()
  except tf.errors.NotFoundError:
    raise ValueError("%s: input file not found%s" % (input_file, what))
  except tf.errors.PermissionDeniedError:
    raise ValueError("%s: cannot read the file (Permission denied)" % input_file)
  if not data.strip():
    raise ValueError("%s: file is empty, no text to extract features for%s" % (input_file, what))
  readers.check_text_file(input_file, ValueError, head=data[:readers.TEXT_SNIFF_BYTES])
  lines = data.split(b"\n")
  if lines and lines[-1] == b"":
    lines.pop()  # the text after the last "\n" is not a line when empty
  for unique_id, raw in enumerate(lines):
    line = tokenization.convert_to_unicode(raw).strip()
    m = _PAIR_RE.match(line)
    if m is None:
      examples.append(InputExample(unique_id, line, None))
    else:
      examples.append(InputExample(unique_id, m.group(1), m.group(2)))
  return examples
