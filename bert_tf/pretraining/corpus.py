"""The input text as documents: lists of tokenized sentences, in file order.

The original's rules: the files are one stream of lines; a line is what
`tf.gfile.GFile.readline` returns (split at "\\n", every "\\r" removed),
decoded as UTF-8 and `strip()`ped; a blank line starts a new document; a line
that tokenizes to nothing is dropped.  Empty documents are kept here (the
algorithm removes them).

Two readers give the same documents:

* `read_documents` (the reference path): `tf.io.gfile.GFile` lines and
  `FullTokenizer.tokenize_exact`, token strings, one line at a time;
* `read_documents_as_ids` (the fast path): the files are cut into blocks of
  whole lines (`read_blocks`) that a pool of worker processes tokenizes to ids
  (`tokenize_block`; tokenization does not touch the rng, so it can run in
  parallel); results are consumed in input order.

tests/pretraining/test_corpus.py checks that both readers agree on awkward
input (CR/LF, BOM, Unicode, control characters, block boundaries, several
files) and on invalid UTF-8.
"""

import array
import multiprocessing
import signal

from bert_tf import tokenization
from bert_tf.data.tfrecord import open_binary
from bert_tf.pretraining.inputs import InputError

# Input is handed to tokenizer workers in blocks of about this many bytes.
BLOCK_BYTES = 1 << 18
# Per line, the token count; BLANK_LINE marks a blank line (a document break).
BLANK_LINE = -1


def _utf8_error(path, line_number, reason):
  return InputError("%s:%d: not valid UTF-8 (%s)" % (path, line_number, reason))


# --------------------------------------------------------------------------
# The reference reader.
# --------------------------------------------------------------------------


def read_lines_with_gfile(input_file):
  """Yields the lines of one file exactly as the original reads them (TF GFile)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  line_number = 0
  with tf.io.gfile.GFile(input_file, "r") as reader:
    while True:
      line_number += 1
      try:
        line = reader.readline()
      except UnicodeDecodeError as e:
        raise _utf8_error(input_file, line_number, e.reason)
      if not line:
        return
      yield tokenization.convert_to_unicode(line)


def read_documents(input_files, tokenizer):
  """Documents (lists of tokenized sentences) in file order, as the original.

  Uses `tokenizer.tokenize_exact` (the step-by-step original tokenizer) and
  GFile line reading.  Empty documents are kept; the caller removes them.
  """
  all_documents = [[]]
  for input_file in input_files:
    for line in read_lines_with_gfile(input_file):
      line = line.strip()
      if not line:
        all_documents.append([])
      tokens = tokenizer.tokenize_exact(line)
      if tokens:
        all_documents[-1].append(tokens)
  return all_documents


# --------------------------------------------------------------------------
# The fast reader: blocks of lines tokenized to ids by worker processes.
# --------------------------------------------------------------------------


def read_blocks(input_file, block_bytes=BLOCK_BYTES):
  """Yields (first_line_number, bytes) blocks of whole lines from one file.

  Every block but the last ends with "\\n"; the last may hold an unterminated
  final line.  Lines are not decoded here (workers do it).
  """
  line_number = 1
  carry = b""
  try:
    with open_binary(input_file, "rb") as f:
      while True:
        data = f.read(block_bytes)
        if not data:
          break
        data = carry + data
        cut = data.rfind(b"\n") + 1
        if cut == 0:
          carry = data
          continue
        block, carry = data[:cut], data[cut:]
        yield line_number, block
        line_number += block.count(b"\n")
  except IsADirectoryError:
    raise InputError("input %s is a directory" % input_file)
  if carry:
    yield line_number, carry


_worker_tokenizer = None


def _init_tokenizer_worker(tokenizer):
  global _worker_tokenizer
  _worker_tokenizer = tokenizer
  # Ctrl-C is handled by the parent, which terminates the pool.
  signal.signal(signal.SIGINT, signal.SIG_IGN)


def tokenize_block(tokenizer, block):
  """Tokenizes a block of lines to ids, with the original's line handling.

  Returns (ids, counts) as bytes of array("i"): the concatenated ids of all
  lines, and one count per line (BLANK_LINE for a blank line, 0 for a line that
  tokenizes to nothing).  On bad UTF-8 returns (None, (line_offset, reason)).
  """
  data = block.replace(b"\r", b"")
  try:
    text = data.decode("utf-8")
  except UnicodeDecodeError as e:
    return None, (data[:e.start].count(b"\n"), e.reason)
  lines = text.split("\n")
  if not lines[-1]:
    # Text after the last "\n" (or nothing): readline() reports end of file.
    lines.pop()
  tokenize = tokenizer.tokenize
  tokens = []
  counts = array.array("i")
  for line in lines:
    line = line.strip()
    if not line:
      counts.append(BLANK_LINE)
      continue
    line_tokens = tokenize(line)
    counts.append(len(line_tokens))
    tokens += line_tokens
  ids = array.array("i", map(tokenizer.vocab.__getitem__, tokens))
  return ids.tobytes(), counts.tobytes()


def _tokenize_task(task):
  return tokenize_block(_worker_tokenizer, task)


def _block_tasks(input_files, sources, block_bytes):
  """Yields the blocks of all files in order; records (file, first line) in `sources`."""
  for input_file in input_files:
    for first_line, block in read_blocks(input_file, block_bytes):
      sources.append((input_file, first_line))
      yield block


def make_worker_pool(tokenizer, num_workers):
  """A process pool whose workers hold `tokenizer` (forked where possible).

  The fast path forks it before TensorFlow is imported; the workers run pure
  Python (tokenization, then record encoding: records.encode_and_frame).
  """
  methods = multiprocessing.get_all_start_methods()
  context = multiprocessing.get_context("fork" if "fork" in methods else None)
  return context.Pool(num_workers, _init_tokenizer_worker, (tokenizer,))


def read_documents_as_ids(input_files, tokenizer, num_workers=1,
                          block_bytes=BLOCK_BYTES, pool=None):
  """Documents as lists of id lists (empty documents kept), tokenized in parallel.

  Same documents as `read_documents` (mapped to ids).  Blocks of about
  `block_bytes` are tokenized by `pool` (a pool made by `make_worker_pool`),
  or by a new pool of `num_workers` processes if num_workers > 1, or here;
  results are consumed in input order.
  """
  if pool is None and num_workers > 1:
    with make_worker_pool(tokenizer, num_workers) as own_pool:
      return read_documents_as_ids(input_files, tokenizer, pool=own_pool,
                                   block_bytes=block_bytes)
  sources = []
  tasks = _block_tasks(input_files, sources, block_bytes)
  all_documents = [[]]
  if pool is not None:
    results = pool.imap(_tokenize_task, tasks)
  else:
    results = (tokenize_block(tokenizer, block) for block in tasks)
  for index, result in enumerate(results):
    _append_block(all_documents, result, sources[index])
  return all_documents


def _append_block(all_documents, result, source):
  """Adds one tokenized block's lines to the document list."""
  ids_bytes, counts_bytes = result
  if ids_bytes is None:
    line_offset, reason = counts_bytes
    raise _utf8_error(source[0], source[1] + line_offset, reason)
  ids = array.array("i")
  ids.frombytes(ids_bytes)
  ids = ids.tolist()
  counts = array.array("i")
  counts.frombytes(counts_bytes)
  position = 0
  current = all_documents[-1]
  for count in counts:
    if count > 0:
      current.append(ids[position:position + count])
      position += count
    elif count == BLANK_LINE:
      current = []
      all_documents.append(current)
