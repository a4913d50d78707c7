"""Masked-LM / next-sentence pre-training data, as google-research/bert makes it.

`run()` is the body of `create_pretraining_data.py`.  For the same input files,
flags and seed it writes the same instances, in the same order, as the original
script; only the byte order of the map entries inside each serialized
`tf.train.Example` may differ (protobuf maps have no defined order, and the
original's own output varies from run to run in the same way).

The algorithm (kept step for step, including every `random.Random` call):

  1. Read the input files in glob order as one stream of lines.  A line is what
     `tf.gfile.GFile.readline` returns (split at "\\n", every "\\r" removed),
     decoded as UTF-8 and `strip()`ped.  A blank line starts a new document; a
     line that tokenizes to nothing is dropped.  Empty documents are removed,
     then `rng.shuffle(documents)`.
  2. `dupe_factor` times, for every document in order: pick a target length
     (`rng.random() < short_seq_prob` -> `rng.randint(2, max_seq_length - 3)`),
     gather sentences into chunks, split each chunk into A and B (B from a
     random other document half of the time, putting unused sentences back),
     trim the pair with random front/back deletions, and mask it.
  3. `rng.shuffle(instances)`, then write them round-robin to the output files.

Two implementations of that algorithm live here:

* the reference path (`num_workers=1`): a plain re-statement of the original -
  `FullTokenizer.tokenize_exact` per line read through `tf.io.gfile.GFile`,
  `TrainingInstance` objects holding token strings, one `tf.train.Example` per
  instance written with `tf.io.TFRecordWriter`;
* the fast path (`num_workers >= 2`): lines are tokenized to ids by a pool of
  worker processes (tokenization does not touch the rng, so it can run in
  parallel; results come back in input order), the rng pass works on id lists
  with the same sequence of rng calls, and records are serialized straight to
  protobuf wire format and framed as TFRecords (CRC32C computed with numpy) by
  the same workers while the rng pass runs, so the fast path never imports
  TensorFlow (6 s here) unless a path is remote (`gs://...`) or a pattern has
  wildcards in a directory name; `tf.io.gfile.glob` is re-stated for the
  common cases.

Both paths write every output under a temporary name and rename it when all
records are written, so an interrupted run never leaves a truncated file under
the final name.
"""

import array
import collections
import ctypes
import ctypes.util
import multiprocessing
import os
import random
import signal
import struct

import numpy as np
from absl import logging

from bert_tf import tokenization

NUM_LOGGED_EXAMPLES = 20
# Tries at drawing a random document different from the current one.
RANDOM_DOCUMENT_TRIES = 10
# Input is handed to tokenizer workers in blocks of about this many bytes.
BLOCK_BYTES = 1 << 18
_WILDCARD_CHARS = "*?[\\"
_SPECIAL_TOKENS = ("[CLS]", "[SEP]", "[MASK]")


class InputError(ValueError):
  """Unusable input or output; the message is one line naming the file or pattern."""


class TrainingInstance(object):
  """A single training instance (sentence pair), as in the original."""

  def __init__(self, tokens, segment_ids, masked_lm_positions, masked_lm_labels,
               is_random_next):
    self.tokens = tokens
    self.segment_ids = segment_ids
    self.is_random_next = is_random_next
    self.masked_lm_positions = masked_lm_positions
    self.masked_lm_labels = masked_lm_labels

  def __str__(self):
    lines = [
        "tokens: %s" % " ".join(self.tokens),
        "segment_ids: %s" % " ".join(str(x) for x in self.segment_ids),
        "is_random_next: %s" % self.is_random_next,
        "masked_lm_positions: %s" % " ".join(
            str(x) for x in self.masked_lm_positions),
        "masked_lm_labels: %s" % " ".join(self.masked_lm_labels),
    ]
    return "\n".join(lines) + "\n\n"

  __repr__ = __str__


# --------------------------------------------------------------------------
# Files: glob, GFile-compatible line reading, atomic outputs.
# --------------------------------------------------------------------------


def _is_remote(path):
  return "://" in path


_FNM_PATHNAME = 1
_fnmatch_cache = []


def _load_libc_fnmatch():
  """libc's fnmatch(3), the matcher TensorFlow's local glob uses; None if absent."""
  try:
    function = ctypes.CDLL(None).fnmatch
  except (OSError, AttributeError):
    try:
      function = ctypes.CDLL(ctypes.util.find_library("c")).fnmatch
    except (OSError, AttributeError, TypeError):
      return None
  function.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int)
  function.restype = ctypes.c_int
  return function


def _libc_fnmatch():
  if not _fnmatch_cache:
    _fnmatch_cache.append(_load_libc_fnmatch())
  return _fnmatch_cache[0]


def _glob(pattern):
  """`tf.io.gfile.glob(pattern)`, without importing TensorFlow in common cases.

  A pattern without wildcards, or with wildcards only in its last component, is
  resolved here exactly as TensorFlow resolves it; anything else (remote paths,
  wildcards in directory names, a trailing "/") is passed to TensorFlow.
  """
  if not pattern:
    return []
  has_wildcard = any(c in pattern for c in _WILDCARD_CHARS)
  if not has_wildcard and not _is_remote(pattern):
    # Without wildcards TF returns the pattern itself if it exists.
    return [pattern] if os.path.exists(pattern) else []
  directory = os.path.dirname(pattern)
  if (_is_remote(pattern) or _libc_fnmatch() is None or pattern.endswith("/") or
      any(c in directory for c in _WILDCARD_CHARS)):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    return list(tf.io.gfile.glob(pattern))
  return _glob_last_component(pattern)


def _glob_last_component(pattern):
  """TensorFlow's local glob for wildcards in the last path component, re-stated.

  The directory is listed in directory-listing order (not sorted) and a child
  is kept when fnmatch(3) with FNM_PATHNAME accepts "directory/child" (hidden
  files included).  A pattern without a directory is matched as "./pattern",
  so its results start with "./", as TensorFlow's do.
  """
  directory = os.path.dirname(pattern)
  if not directory:
    directory = "."
    pattern = os.path.join(directory, pattern)
  try:
    children = os.listdir(directory)
  except OSError:
    return []
  encoded_pattern = os.fsencode(pattern)
  fnmatch = _libc_fnmatch()
  results = []
  for child in children:
    path = os.path.join(directory, child)
    if fnmatch(encoded_pattern, os.fsencode(path), _FNM_PATHNAME) == 0:
      results.append(path)
  return results


def expand_input_patterns(input_file):
  """Splits the comma list of `--input_file` and globs each item, in order.

  Unlike the original (which silently skips it), a pattern that matches no file
  raises InputError naming it.
  """
  input_files = []
  for pattern in input_file.split(","):
    matches = _glob(pattern)
    if not matches:
      raise InputError("--input_file pattern %r matches no file" % pattern)
    for path in matches:
      if not _is_remote(path) and os.path.isdir(path):
        raise InputError("--input_file pattern %r matches the directory %s" %
                         (pattern, path))
    input_files.extend(matches)
  return input_files


def split_output_files(output_file):
  """Splits the comma list of `--output_file`; checks local directories exist."""
  output_files = output_file.split(",")
  for path in output_files:
    if not path:
      raise InputError("--output_file %r has an empty item" % output_file)
    if _is_remote(path):
      continue
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
      raise InputError("output directory %s (for %s) does not exist" %
                       (directory, path))
    if os.path.isdir(path):
      raise InputError("output file %s is a directory" % path)
  return output_files


def _temporary_name(path):
  return "%s.tmp-%d" % (path, os.getpid())


def _remove_quietly(path):
  try:
    if _is_remote(path):
      import tensorflow as tf  # pylint: disable=g-import-not-at-top
      tf.io.gfile.remove(path)
    else:
      os.remove(path)
  except Exception:  # pylint: disable=broad-except
    pass


def _publish(temporary, final):
  if _is_remote(final):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    tf.io.gfile.rename(temporary, final, overwrite=True)
  else:
    os.replace(temporary, final)


class AtomicOutputs(object):
  """Temporary names for the output files, renamed to the final names on success.

  Use as a context manager: `with AtomicOutputs(paths) as temporary_paths:`.
  If the block raises (including KeyboardInterrupt) the temporary files are
  deleted and no final file is touched.
  """

  def __init__(self, paths):
    self.paths = list(paths)
    self.temporary_paths = [_temporary_name(p) for p in self.paths]

  def __enter__(self):
    return self.temporary_paths

  def __exit__(self, exc_type, exc, tb):
    if exc_type is not None:
      for path in self.temporary_paths:
        _remove_quietly(path)
      return False
    for temporary, final in zip(self.temporary_paths, self.paths):
      _publish(temporary, final)
    return False


def _open_binary(path, mode):
  if _is_remote(path):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    return tf.io.gfile.GFile(path, mode)
  return open(path, mode)


def _utf8_error(path, line_number, reason):
  return InputError("%s:%d: not valid UTF-8 (%s)" % (path, line_number, reason))


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


def read_blocks(input_file, block_bytes=BLOCK_BYTES):
  """Yields (first_line_number, bytes) blocks of whole lines from one file.

  Every block but the last ends with "\\n"; the last may hold an unterminated
  final line.  Lines are not decoded here (workers do it).
  """
  line_number = 1
  carry = b""
  try:
    with _open_binary(input_file, "rb") as f:
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


# --------------------------------------------------------------------------
# Reference path: the original algorithm on token strings.
# --------------------------------------------------------------------------


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


def create_training_instances(all_documents, vocab_words, max_seq_length,
                              dupe_factor, short_seq_prob, masked_lm_prob,
                              max_predictions_per_seq, rng,
                              do_whole_word_mask=False):
  """All `TrainingInstance`s from tokenized documents (which are then shuffled).

  `all_documents` is what `read_documents` returns; empty documents are removed
  here before the shuffle, as in the original.
  """
  all_documents = [x for x in all_documents if x]
  rng.shuffle(all_documents)
  instances = []
  for _ in range(dupe_factor):
    for document_index in range(len(all_documents)):
      instances.extend(
          create_instances_from_document(
              all_documents, document_index, max_seq_length, short_seq_prob,
              masked_lm_prob, max_predictions_per_seq, vocab_words, rng,
              do_whole_word_mask))
  rng.shuffle(instances)
  return instances


def create_instances_from_document(all_documents, document_index,
                                   max_seq_length, short_seq_prob,
                                   masked_lm_prob, max_predictions_per_seq,
                                   vocab_words, rng, do_whole_word_mask=False):
  """The `TrainingInstance`s of one document (sentence pairs, then masked)."""
  document = all_documents[document_index]
  # Room for [CLS], [SEP], [SEP].
  max_num_tokens = max_seq_length - 3
  # The target is a soft length chosen once per document; max_num_tokens is hard.
  target_seq_length = max_num_tokens
  if rng.random() < short_seq_prob:
    target_seq_length = rng.randint(2, max_num_tokens)

  instances = []
  current_chunk = []
  current_length = 0
  i = 0
  while i < len(document):
    segment = document[i]
    current_chunk.append(segment)
    current_length += len(segment)
    if i == len(document) - 1 or current_length >= target_seq_length:
      if current_chunk:
        # The first `a_end` sentences of the chunk form segment A.
        a_end = 1
        if len(current_chunk) >= 2:
          a_end = rng.randint(1, len(current_chunk) - 1)
        tokens_a = []
        for j in range(a_end):
          tokens_a.extend(current_chunk[j])

        tokens_b = []
        if len(current_chunk) == 1 or rng.random() < 0.5:
          is_random_next = True
          target_b_length = target_seq_length - len(tokens_a)
          for _ in range(RANDOM_DOCUMENT_TRIES):
            random_document_index = rng.randint(0, len(all_documents) - 1)
            if random_document_index != document_index:
              break
          random_document = all_documents[random_document_index]
          random_start = rng.randint(0, len(random_document) - 1)
          for j in range(random_start, len(random_document)):
            tokens_b.extend(random_document[j])
            if len(tokens_b) >= target_b_length:
              break
          # The chunk's sentences after A were not used: revisit them.
          num_unused_segments = len(current_chunk) - a_end
          i -= num_unused_segments
        else:
          is_random_next = False
          for j in range(a_end, len(current_chunk)):
            tokens_b.extend(current_chunk[j])
        truncate_seq_pair(tokens_a, tokens_b, max_num_tokens, rng)
        assert len(tokens_a) >= 1
        assert len(tokens_b) >= 1

        tokens = ["[CLS]"] + tokens_a + ["[SEP]"] + tokens_b + ["[SEP]"]
        segment_ids = [0] * (len(tokens_a) + 2) + [1] * (len(tokens_b) + 1)
        tokens, masked_lm_positions, masked_lm_labels = (
            create_masked_lm_predictions(tokens, masked_lm_prob,
                                         max_predictions_per_seq, vocab_words,
                                         rng, do_whole_word_mask))
        instances.append(
            TrainingInstance(
                tokens=tokens,
                segment_ids=segment_ids,
                is_random_next=is_random_next,
                masked_lm_positions=masked_lm_positions,
                masked_lm_labels=masked_lm_labels))
      current_chunk = []
      current_length = 0
    i += 1
  return instances


def num_masked_positions(num_tokens, masked_lm_prob, max_predictions_per_seq):
  """How many positions to mask: Python 3 round() (half to even), at least 1."""
  return min(max_predictions_per_seq,
             max(1, int(round(num_tokens * masked_lm_prob))))


def create_masked_lm_predictions(tokens, masked_lm_prob,
                                 max_predictions_per_seq, vocab_words, rng,
                                 do_whole_word_mask=False):
  """Masks tokens; returns (output_tokens, sorted positions, original labels).

  Candidates are all positions but [CLS]/[SEP]; with whole-word masking a
  "##" piece joins the candidate group before it (even across [SEP], as in the
  original).  Each chosen position becomes [MASK] (80%), itself (10%) or a
  random vocabulary entry (10%).
  """
  cand_indexes = []
  for i, token in enumerate(tokens):
    if token == "[CLS]" or token == "[SEP]":
      continue
    if do_whole_word_mask and cand_indexes and token.startswith("##"):
      cand_indexes[-1].append(i)
    else:
      cand_indexes.append([i])
  rng.shuffle(cand_indexes)

  output_tokens = list(tokens)
  num_to_predict = num_masked_positions(len(tokens), masked_lm_prob,
                                        max_predictions_per_seq)
  masked_lms = []
  covered_indexes = set()
  for index_set in cand_indexes:
    if len(masked_lms) >= num_to_predict:
      break
    # A whole word that would overshoot the budget is skipped.
    if len(masked_lms) + len(index_set) > num_to_predict:
      continue
    if any(index in covered_indexes for index in index_set):
      continue
    for index in index_set:
      covered_indexes.add(index)
      if rng.random() < 0.8:
        masked_token = "[MASK]"
      elif rng.random() < 0.5:
        masked_token = tokens[index]
      else:
        masked_token = vocab_words[rng.randint(0, len(vocab_words) - 1)]
      output_tokens[index] = masked_token
      masked_lms.append((index, tokens[index]))
  assert len(masked_lms) <= num_to_predict
  masked_lms.sort(key=lambda x: x[0])
  masked_lm_positions = [index for index, _ in masked_lms]
  masked_lm_labels = [label for _, label in masked_lms]
  return output_tokens, masked_lm_positions, masked_lm_labels


def truncate_seq_pair(tokens_a, tokens_b, max_num_tokens, rng):
  """Trims the longer list (B on a tie) one token at a time, front or back at random."""
  while len(tokens_a) + len(tokens_b) > max_num_tokens:
    trunc_tokens = tokens_a if len(tokens_a) > len(tokens_b) else tokens_b
    assert len(trunc_tokens) >= 1
    if rng.random() < 0.5:
      del trunc_tokens[0]
    else:
      trunc_tokens.pop()


def instance_to_features(instance, tokenizer, max_seq_length,
                         max_predictions_per_seq):
  """The padded feature lists of one instance, in the original's order."""
  input_ids = tokenizer.convert_tokens_to_ids(instance.tokens)
  input_mask = [1] * len(input_ids)
  segment_ids = list(instance.segment_ids)
  assert len(input_ids) <= max_seq_length
  while len(input_ids) < max_seq_length:
    input_ids.append(0)
    input_mask.append(0)
    segment_ids.append(0)

  masked_lm_positions = list(instance.masked_lm_positions)
  masked_lm_ids = tokenizer.convert_tokens_to_ids(instance.masked_lm_labels)
  masked_lm_weights = [1.0] * len(masked_lm_ids)
  while len(masked_lm_positions) < max_predictions_per_seq:
    masked_lm_positions.append(0)
    masked_lm_ids.append(0)
    masked_lm_weights.append(0.0)

  features = collections.OrderedDict()
  features["input_ids"] = input_ids
  features["input_mask"] = input_mask
  features["segment_ids"] = segment_ids
  features["masked_lm_positions"] = masked_lm_positions
  features["masked_lm_ids"] = masked_lm_ids
  features["masked_lm_weights"] = masked_lm_weights
  features["next_sentence_labels"] = [1 if instance.is_random_next else 0]
  return features


def features_to_example(features):
  """A `tf.train.Example` (int64 lists, float list for masked_lm_weights)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  feature = collections.OrderedDict()
  for name, values in features.items():
    if name == "masked_lm_weights":
      feature[name] = tf.train.Feature(
          float_list=tf.train.FloatList(value=list(values)))
    else:
      feature[name] = tf.train.Feature(
          int64_list=tf.train.Int64List(value=list(values)))
  return tf.train.Example(features=tf.train.Features(feature=feature))


def log_example(tokens, features):
  """The original's "*** Example ***" block for one written instance."""
  logging.info("*** Example ***")
  logging.info("tokens: %s" % " ".join(tokens))
  for name, values in features.items():
    logging.info("%s: %s" % (name, " ".join(str(x) for x in values)))


def write_instance_to_example_files(instances, tokenizer, max_seq_length,
                                    max_predictions_per_seq, output_files):
  """Writes `TrainingInstance`s round-robin, one tf.train.Example each."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  total_written = 0
  with AtomicOutputs(output_files) as temporary_files:
    writers = [tf.io.TFRecordWriter(path) for path in temporary_files]
    try:
      writer_index = 0
      for inst_index, instance in enumerate(instances):
        features = instance_to_features(instance, tokenizer, max_seq_length,
                                        max_predictions_per_seq)
        example = features_to_example(features)
        writers[writer_index].write(example.SerializeToString())
        writer_index = (writer_index + 1) % len(writers)
        total_written += 1
        if inst_index < NUM_LOGGED_EXAMPLES:
          log_example(instance.tokens, features)
    finally:
      for writer in writers:
        writer.close()
  logging.info("Wrote %d total instances", total_written)
  return total_written


# --------------------------------------------------------------------------
# Fast path, part 1: parallel tokenization to ids.
# --------------------------------------------------------------------------

# Per line, the token count; BLANK_LINE marks a blank line (a document break).
BLANK_LINE = -1
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
  Python (tokenization, then record encoding).
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


# --------------------------------------------------------------------------
# Fast path, part 2: the rng pass on ids.
# --------------------------------------------------------------------------


class FastRandom(object):
  """The rng calls of the algorithm with less Python overhead, same draws.

  `shuffle` and `randint` re-state CPython's `random.Random.shuffle` and
  `randint` (rejection sampling with `getrandbits(n.bit_length())`) without
  the per-draw method calls.  The constructor checks on copies of the
  generator that they reproduce the library's results and final state
  exactly; if not (another Python, a subclass), the library methods are used.
  """

  _CACHED_STEPS = 4096

  def __init__(self, rng):
    self.random = rng.random
    self.getrandbits = rng.getrandbits
    self._steps = {}
    if not self._matches_library(rng):
      self.shuffle = rng.shuffle
      self.randint = rng.randint

  def _matches_library(self, rng):
    if type(rng) is not random.Random:  # pylint: disable=unidiomatic-typecheck
      return False
    probe, expected = random.Random(), random.Random()
    probe.setstate(rng.getstate())
    expected.setstate(rng.getstate())
    mine = FastRandom.__new__(FastRandom)
    mine.getrandbits = probe.getrandbits
    mine._steps = {}  # pylint: disable=protected-access
    for n in (0, 1, 2, 3, 5, 64, 65, 129, 1000, 5000):
      a, b = list(range(n)), list(range(n))
      mine.shuffle(a)
      expected.shuffle(b)
      if a != b:
        return False
    for low, high in ((0, 0), (1, 1), (1, 7), (2, 125), (0, 30521), (0, 2**40)):
      if mine.randint(low, high) != expected.randint(low, high):
        return False
    return probe.getstate() == expected.getstate()

  def randint(self, a, b):
    """A random int in [a, b], drawn as random.Random.randint draws it."""
    n = b - a + 1
    if n <= 0:
      raise ValueError("empty range for randint(%d, %d)" % (a, b))
    getrandbits = self.getrandbits
    k = n.bit_length()
    r = getrandbits(k)
    while r >= n:
      r = getrandbits(k)
    return a + r

  def _shuffle_steps(self, n):
    """[(i, bits), ...] for i = n-1 .. 1: swap x[i] with x[getrandbits(bits) <= i]."""
    steps = self._steps.get(n)
    if steps is None:
      steps = [(i, (i + 1).bit_length()) for i in range(n - 1, 0, -1)]
      if n <= self._CACHED_STEPS:
        self._steps[n] = steps
    return steps

  def shuffle(self, x):
    """Shuffles list x in place, drawing as random.Random.shuffle draws."""
    getrandbits = self.getrandbits
    for i, k in self._shuffle_steps(len(x)):
      j = getrandbits(k)
      while j > i:
        j = getrandbits(k)
      x[i], x[j] = x[j], x[i]


class IdVocabulary(object):
  """What the rng pass needs to know about the vocabulary, as ids."""

  def __init__(self, vocab):
    missing = [t for t in _SPECIAL_TOKENS if t not in vocab]
    if missing:
      raise InputError("vocab file has no %s token" % " / ".join(missing))
    self.cls_id = vocab["[CLS]"]
    self.sep_id = vocab["[SEP]"]
    self.mask_id = vocab["[MASK]"]
    # vocab_words[k] of the original, as an id (a duplicated token keeps its last id).
    self.word_ids = [vocab[w] for w in vocab]
    self.size = max(vocab.values()) + 1
    self.is_continuation = [False] * self.size
    for token, token_id in vocab.items():
      self.is_continuation[token_id] = token.startswith("##")


class FastInstanceMaker(object):
  """The original per-document algorithm on id lists, with the same rng calls.

  An instance is a tuple (input_ids, len_a, len_b, masked_lm_positions,
  masked_lm_ids, is_random_next); input_ids is [CLS] A [SEP] B [SEP] after
  masking, unpadded.  Differences from the reference code are only in how
  things are computed: truncation cuts once after drawing every front/back
  decision, the candidate list is built from the segment layout when no text
  token is [CLS]/[SEP] (always, with the WordPiece tokenizer), and a whole-word
  group is never checked against covered positions (groups are disjoint).
  """

  def __init__(self, vocabulary, max_seq_length, short_seq_prob, masked_lm_prob,
               max_predictions_per_seq, rng, do_whole_word_mask=False):
    self.vocabulary = vocabulary
    self.max_num_tokens = max_seq_length - 3
    self.short_seq_prob = short_seq_prob
    self.max_predictions_per_seq = max_predictions_per_seq
    self.rng = FastRandom(rng)
    self.do_whole_word_mask = do_whole_word_mask
    self._num_to_predict = [
        num_masked_positions(n, masked_lm_prob, max_predictions_per_seq)
        for n in range(max_seq_length + 1)
    ]
    self._text_has_specials = True

  def create_instances(self, all_documents, dupe_factor):
    """Every instance, after the final shuffle (create_training_instances)."""
    instances = list(self.iter_instances(all_documents, dupe_factor))
    self.rng.shuffle(instances)
    return instances

  def iter_instances(self, all_documents, dupe_factor):
    """Instances in creation order, before the final shuffle.

    Removes empty documents and shuffles the rest first.  The final
    `rng.shuffle(instances)` is the caller's: shuffling any list of the same
    length (e.g. indexes) draws the same numbers.
    """
    all_documents = [x for x in all_documents if x]
    specials = (self.vocabulary.cls_id, self.vocabulary.sep_id)
    self._text_has_specials = any(
        s in segment for document in all_documents for segment in document
        for s in specials)
    self.rng.shuffle(all_documents)
    instances = []
    for _ in range(dupe_factor):
      for document_index in range(len(all_documents)):
        self.add_document_instances(all_documents, document_index, instances)
        yield from instances
        instances.clear()

  def add_document_instances(self, all_documents, document_index, instances):
    """Appends the instances of one document (see create_instances_from_document)."""
    rng = self.rng
    random_, randint = rng.random, rng.randint
    document = all_documents[document_index]
    max_num_tokens = self.max_num_tokens
    target_seq_length = max_num_tokens
    if random_() < self.short_seq_prob:
      target_seq_length = randint(2, max_num_tokens)
    num_segments = len(document)
    current_chunk = []
    current_length = 0
    i = 0
    while i < num_segments:
      segment = document[i]
      current_chunk.append(segment)
      current_length += len(segment)
      if i == num_segments - 1 or current_length >= target_seq_length:
        chunk_size = len(current_chunk)
        a_end = 1
        if chunk_size >= 2:
          a_end = randint(1, chunk_size - 1)
        tokens_a = []
        for j in range(a_end):
          tokens_a += current_chunk[j]
        tokens_b = []
        if chunk_size == 1 or random_() < 0.5:
          is_random_next = True
          target_b_length = target_seq_length - len(tokens_a)
          for _ in range(RANDOM_DOCUMENT_TRIES):
            random_document_index = randint(0, len(all_documents) - 1)
            if random_document_index != document_index:
              break
          random_document = all_documents[random_document_index]
          for j in range(randint(0, len(random_document) - 1),
                         len(random_document)):
            tokens_b += random_document[j]
            if len(tokens_b) >= target_b_length:
              break
          i -= chunk_size - a_end
        else:
          is_random_next = False
          for j in range(a_end, chunk_size):
            tokens_b += current_chunk[j]
        if len(tokens_a) + len(tokens_b) > max_num_tokens:
          tokens_a, tokens_b = self.truncate_pair(tokens_a, tokens_b)
        instances.append(self.masked_instance(tokens_a, tokens_b, is_random_next))
        current_chunk = []
        current_length = 0
      i += 1

  def truncate_pair(self, tokens_a, tokens_b):
    """truncate_seq_pair: same draws, but cut once at the end instead of per token."""
    len_a, len_b = len(tokens_a), len(tokens_b)
    random_ = self.rng.random
    max_num_tokens = self.max_num_tokens
    front_a = back_a = front_b = back_b = 0
    while len_a + len_b > max_num_tokens:
      if len_a > len_b:
        len_a -= 1
        if random_() < 0.5:
          front_a += 1
        else:
          back_a += 1
      else:
        assert len_b >= 1
        len_b -= 1
        if random_() < 0.5:
          front_b += 1
        else:
          back_b += 1
    assert len_a >= 1 and len_b >= 1
    return (tokens_a[front_a:front_a + len_a], tokens_b[front_b:front_b + len_b])

  def candidates(self, tokens, len_a):
    """Shuffle candidates: positions, or lists of positions with whole-word masking."""
    cls_id, sep_id = self.vocabulary.cls_id, self.vocabulary.sep_id
    if self.do_whole_word_mask:
      is_continuation = self.vocabulary.is_continuation
      groups = []
      for i, t in enumerate(tokens):
        if t == cls_id or t == sep_id:
          continue
        if groups and is_continuation[t]:
          groups[-1].append(i)
        else:
          groups.append([i])
      return groups
    if self._text_has_specials:
      return [i for i, t in enumerate(tokens) if t != cls_id and t != sep_id]
    cand = list(range(1, len_a + 1))
    cand += range(len_a + 2, len(tokens) - 1)
    return cand

  def masked_instance(self, tokens_a, tokens_b, is_random_next):
    """Builds [CLS] A [SEP] B [SEP] and masks it (create_masked_lm_predictions)."""
    vocabulary = self.vocabulary
    rng = self.rng
    sep_id = vocabulary.sep_id
    len_a = len(tokens_a)
    tokens = [vocabulary.cls_id]
    tokens += tokens_a
    tokens.append(sep_id)
    tokens += tokens_b
    tokens.append(sep_id)
    cand = self.candidates(tokens, len_a)
    rng.shuffle(cand)
    num_to_predict = self._num_to_predict[len(tokens)]
    if self.do_whole_word_mask:
      positions = []
      for group in cand:
        if len(positions) >= num_to_predict:
          break
        if len(positions) + len(group) > num_to_predict:
          continue
        positions += group
    else:
      positions = cand[:num_to_predict]

    output = tokens[:]
    random_, getrandbits = rng.random, rng.getrandbits
    mask_id = vocabulary.mask_id
    word_ids = vocabulary.word_ids
    num_words = len(word_ids)
    word_bits = num_words.bit_length()
    for index in positions:
      if random_() < 0.8:
        output[index] = mask_id
      elif random_() >= 0.5:
        # vocab_words[rng.randint(0, len(vocab_words) - 1)], drawn inline.
        r = getrandbits(word_bits)
        while r >= num_words:
          r = getrandbits(word_bits)
        output[index] = word_ids[r]
    positions.sort()
    labels = list(map(tokens.__getitem__, positions))
    return (output, len_a, len(tokens_b), positions, labels, is_random_next)


# --------------------------------------------------------------------------
# Fast path, part 3: tf.train.Example wire format and TFRecord framing.
# --------------------------------------------------------------------------


def _varint(value):
  """Protobuf base-128 varint of a non-negative int."""
  out = bytearray()
  while value > 0x7F:
    out.append((value & 0x7F) | 0x80)
    value >>= 7
  out.append(value)
  return bytes(out)


def _field(tag, payload):
  """A length-delimited protobuf field: tag byte, varint length, payload."""
  return tag + _varint(len(payload)) + payload


class ExampleEncoder(object):
  """Serializes instances as tf.train.Example bytes without protobuf objects.

  Wire format: Example{features = 1: Features{feature = 1: map entries
  {key = 1, value = 2: Feature{float_list = 2 | int64_list = 3: {value = 1,
  packed}}}}}.  Entries are written in the original's feature order.  Every
  field header depends only on the payload length, so headers are memoized.
  """

  _INT64 = b"\x1a"
  _FLOAT = b"\x12"

  def __init__(self, vocab_size, max_seq_length, max_predictions_per_seq):
    self.max_seq_length = seq = max_seq_length
    self.max_predictions_per_seq = preds = max_predictions_per_seq
    self._varints = [_varint(v) for v in range(max(vocab_size, seq + 1))]
    self._headers = {}
    self._zeros = b"\x00" * max(seq, preds)
    self._ones = b"\x01" * seq
    self._mask_entries = [
        self.entry("input_mask", self._INT64, b"\x01" * n + b"\x00" * (seq - n))
        for n in range(seq + 1)]
    self._segment_header = self.header("segment_ids", self._INT64, seq)
    one = struct.pack("<f", 1.0)
    self._weight_entries = [
        self.entry("masked_lm_weights", self._FLOAT,
                   one * k + b"\x00" * (4 * (preds - k)))
        for k in range(preds + 1)]
    self._nsp_entries = [self.entry("next_sentence_labels", self._INT64, b"\x00"),
                         self.entry("next_sentence_labels", self._INT64, b"\x01")]

  def header(self, name, kind, packed_length):
    """Bytes of a map entry up to its packed values (memoized by length)."""
    key = (name, kind, packed_length)
    header = self._headers.get(key)
    if header is None:
      values = _varint(packed_length)
      value_list = kind + _varint(1 + len(values) + packed_length) + b"\x0a" + values
      feature_length = len(value_list) + packed_length
      body = (_field(b"\x0a", name.encode("ascii")) + b"\x12" +
              _varint(feature_length) + value_list)
      header = b"\x0a" + _varint(len(body) + packed_length) + body
      self._headers[key] = header
    return header

  def entry(self, name, kind, packed):
    return self.header(name, kind, len(packed)) + packed

  def _packed(self, values, length):
    if values and max(values) < 0x80:
      packed = bytes(values)
    else:
      packed = b"".join(map(self._varints.__getitem__, values))
    return packed + self._zeros[:length - len(values)]

  def encode(self, instance):
    """Serialized tf.train.Example of a FastInstanceMaker instance tuple."""
    input_ids, len_a, len_b, positions, label_ids, is_random_next = instance
    seq, preds = self.max_seq_length, self.max_predictions_per_seq
    n = len(input_ids)
    if n > seq:
      raise ValueError("instance of %d tokens > max_seq_length %d" % (n, seq))
    zeros = self._zeros
    ids = b"".join(map(self._varints.__getitem__, input_ids)) + zeros[:seq - n]
    masked_ids = self._packed(label_ids, preds)
    masked_positions = self._packed(positions, preds)
    body = b"".join((
        self.header("input_ids", self._INT64, len(ids)), ids,
        self._mask_entries[n],
        self._segment_header, zeros[:len_a + 2], self._ones[:len_b + 1],
        zeros[:seq - n],
        self.header("masked_lm_positions", self._INT64, len(masked_positions)),
        masked_positions,
        self.header("masked_lm_ids", self._INT64, len(masked_ids)), masked_ids,
        self._weight_entries[len(positions)],
        self._nsp_entries[1 if is_random_next else 0],
    ))
    return b"\x0a" + self._varint_of(len(body)) + body

  def _varint_of(self, value):
    if value < len(self._varints):
      return self._varints[value]
    return _varint(value)


class Crc32c(object):
  """Masked CRC32C (Castagnoli), as TFRecord uses it, for many records at once.

  The CRC register update is linear over GF(2), so the CRC of a record equals
  Z^n(0xFFFFFFFF) ^ raw(record) ^ 0xFFFFFFFF, where raw() starts from a zero
  register (which leading zero bytes do not change) and Z^n advances a register
  over n zero bytes.  Records are therefore right-aligned with zero padding
  into one matrix and processed 4 bytes per step (slicing-by-4) for the whole
  batch with numpy.
  """

  _POLY = 0x82F63B78
  _MASK_DELTA = 0xA282EAD8

  def __init__(self):
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
      table = (table >> 1) ^ (np.uint32(self._POLY) * (table & 1))
    # _tables[k][b]: byte b followed by k zero bytes.
    self._tables = [table]
    for _ in range(3):
      self._tables.append(self._zero_byte(self._tables[-1]))
    self._init = np.array([0xFFFFFFFF], dtype=np.uint32)

  def _zero_byte(self, registers):
    """Advances registers over one zero byte."""
    return self._tables[0][registers & 0xFF] ^ (registers >> 8)

  def _grow_init(self, length):
    values = [self._init]
    last = self._init[-1:]
    for _ in range(length + 1 - self._init.shape[0]):
      last = self._zero_byte(last)
      values.append(last)
    self._init = np.concatenate(values)

  def masked(self, records):
    """The TFRecord-masked CRC32C of each byte string, as a uint32 array."""
    lengths = np.fromiter(map(len, records), dtype=np.int64, count=len(records))
    longest = int(lengths.max())
    if longest >= self._init.shape[0]:
      self._grow_init(longest)
    width = (longest + 3) // 4 * 4
    padding = b"\x00" * width
    data = b"".join([padding[:width - len(r)] + r for r in records])
    words = np.frombuffer(data, dtype="<u4").reshape(len(records), width // 4)
    words = np.ascontiguousarray(words.T)
    t0, t1, t2, t3 = self._tables
    crc = np.zeros(len(records), dtype=np.uint32)
    for column in words:
      crc ^= column
      crc = (t3[crc & 0xFF] ^ t2[(crc >> 8) & 0xFF] ^ t1[(crc >> 16) & 0xFF] ^
             t0[crc >> 24])
    crc ^= self._init[lengths] ^ np.uint32(0xFFFFFFFF)
    return ((crc >> 15) | (crc << 17)) + np.uint32(self._MASK_DELTA)


class TFRecordFramer(object):
  """TFRecord framing: uint64 length, masked CRC of it, data, masked CRC of data."""

  def __init__(self):
    self._crc = Crc32c()
    self._headers = {}

  def _header(self, length):
    """The 12 header bytes for a record of `length` bytes (memoized)."""
    header = self._headers.get(length)
    if header is None:
      size = struct.pack("<Q", length)
      header = size + struct.pack("<I", int(self._crc.masked([size])[0]))
      self._headers[length] = header
    return header

  def frame(self, records):
    """The framed bytes of each record (CRCs computed for the whole batch)."""
    if not records:
      return []
    crcs = self._crc.masked(records).astype("<u4").tobytes()
    header = self._header
    return [header(len(r)) + r + crcs[4 * i:4 * i + 4]
            for i, r in enumerate(records)]


class TFRecordFileWriter(object):
  """A TFRecord file writer (like tf.io.TFRecordWriter) without TensorFlow.

  Records are buffered and framed in batches.  Use `write(record)`, then
  `close()`; `write_framed(chunks)` appends already framed records.
  """

  BATCH = 4096

  def __init__(self, path, framer=None):
    self._file = _open_binary(path, "wb")
    self._framer = framer or TFRecordFramer()
    self._pending = []

  def write(self, record):
    self._pending.append(record)
    if len(self._pending) >= self.BATCH:
      self.flush()

  def write_framed(self, framed_records):
    self.flush()
    self._file.write(b"".join(framed_records))

  def flush(self):
    records, self._pending = self._pending, []
    if records:
      self._file.write(b"".join(self._framer.frame(records)))

  def close(self):
    try:
      self.flush()
    finally:
      self._file.close()


_worker_encoders = {}


def encode_and_frame(encoder_args, instances):
  """Framed TFRecord bytes of FastInstanceMaker instances (runs in workers).

  `encoder_args` = (vocab_size, max_seq_length, max_predictions_per_seq); the
  encoder and framer are built once per process.
  """
  state = _worker_encoders.get(encoder_args)
  if state is None:
    state = (ExampleEncoder(*encoder_args), TFRecordFramer())
    _worker_encoders[encoder_args] = state
  encoder, framer = state
  return framer.frame([encoder.encode(instance) for instance in instances])


def encode_instances(instances, encoder_args, pool=None, batch_size=512,
                     max_pending_batches=16):
  """The framed TFRecord bytes of every instance, in creation order.

  With a pool, batches are encoded by the workers while `instances` (an
  iterator, e.g. FastInstanceMaker.iter_instances) is still being produced;
  at most `max_pending_batches` batches wait for a worker, so instances never
  pile up in memory; only their bytes are kept.
  """
  framed = []
  pending = collections.deque()
  batch = []

  def submit(chunk):
    if pool is None:
      framed.extend(encode_and_frame(encoder_args, chunk))
      return
    pending.append(pool.apply_async(encode_and_frame, (encoder_args, chunk)))
    while len(pending) > max_pending_batches:
      framed.extend(pending.popleft().get())

  for instance in instances:
    batch.append(instance)
    if len(batch) == batch_size:
      submit(batch)
      batch = []
  if batch:
    submit(batch)
  while pending:
    framed.extend(pending.popleft().get())
  return framed


def _read_varint(data, position):
  """(value, next position) of the protobuf varint at data[position]."""
  value = shift = 0
  while True:
    byte = data[position]
    position += 1
    value |= (byte & 0x7F) << shift
    if byte < 0x80:
      return value, position
    shift += 7


def _read_field(data, position):
  """(field number, payload, next position) of a length-delimited field."""
  tag, position = _read_varint(data, position)
  length, position = _read_varint(data, position)
  return tag >> 3, data[position:position + length], position + length


def decode_framed_example(framed):
  """The features of one framed record written by the fast path, in file order.

  Only what ExampleEncoder writes is understood (packed int64 / float lists).
  """
  record = framed[12:-4]
  _, features, _ = _read_field(record, 0)
  decoded = collections.OrderedDict()
  position = 0
  while position < len(features):
    _, entry, position = _read_field(features, position)
    _, name, offset = _read_field(entry, 0)
    _, feature, _ = _read_field(entry, offset)
    kind, value_list, _ = _read_field(feature, 0)
    _, packed, _ = _read_field(value_list, 0) if value_list else (0, b"", 0)
    if kind == 2:
      values = list(struct.unpack("<%df" % (len(packed) // 4), packed))
    else:
      values, cursor = [], 0
      while cursor < len(packed):
        value, cursor = _read_varint(packed, cursor)
        values.append(value)
    decoded[name.decode("ascii")] = values
  return decoded


def write_framed_records(framed, order, output_files):
  """Writes framed[order[0]], framed[order[1]], ... round-robin to the files."""
  num_files = len(output_files)
  with AtomicOutputs(output_files) as temporary_files:
    writers = []
    try:
      for path in temporary_files:
        writers.append(TFRecordFileWriter(path))
      chunk = 4096 * num_files
      for start in range(0, len(order), chunk):
        part = order[start:start + chunk]
        for k, writer in enumerate(writers):
          writer.write_framed([framed[i] for i in part[k::num_files]])
    finally:
      for writer in writers:
        writer.close()


def write_fast_instances(framed, order, inv_vocab, output_files):
  """Writes the records in final order and logs the first 20 like the original."""
  write_framed_records(framed, order, output_files)
  for index in order[:NUM_LOGGED_EXAMPLES]:
    features = decode_framed_example(framed[index])
    length = sum(features["input_mask"])
    log_example([inv_vocab[t] for t in features["input_ids"][:length]],
                features)
  logging.info("Wrote %d total instances", len(order))
  return len(order)


# --------------------------------------------------------------------------
# The script body.
# --------------------------------------------------------------------------


def _check_documents(all_documents, input_files):
  if not any(all_documents):
    raise InputError(
        "no documents in %s (every line is blank or tokenizes to nothing)" %
        ", ".join(input_files))


def run(input_file, output_file, vocab_file, do_lower_case=True,
        do_whole_word_mask=False, max_seq_length=128,
        max_predictions_per_seq=20, random_seed=12345, dupe_factor=10,
        masked_lm_prob=0.15, short_seq_prob=0.1, num_workers=None):
  """Does what `create_pretraining_data.py` does; returns the instance count.

  `input_file` / `output_file` are the flags' comma lists (input items are
  globbed).  `num_workers`: 1 runs the reference (original) path in this
  process; >= 2 tokenizes with that many processes and uses the fast path;
  None means the number of CPUs.  Raises InputError for unusable input.
  """
  if num_workers is None or num_workers < 1:
    num_workers = os.cpu_count() or 1
  if max_seq_length < 5:
    raise InputError("--max_seq_length=%d leaves no room for two segments "
                     "(need >= 5)" % max_seq_length)
  tokenizer = tokenization.FullTokenizer(
      vocab_file=vocab_file, do_lower_case=do_lower_case)
  vocabulary = IdVocabulary(tokenizer.vocab)
  input_files = expand_input_patterns(input_file)
  output_files = split_output_files(output_file)

  logging.info("*** Reading from input files ***")
  for path in input_files:
    logging.info("  %s", path)

  rng = random.Random(random_seed)
  if num_workers == 1:
    all_documents = read_documents(input_files, tokenizer)
    _check_documents(all_documents, input_files)
    instances = create_training_instances(
        all_documents, list(tokenizer.vocab.keys()), max_seq_length,
        dupe_factor, short_seq_prob, masked_lm_prob, max_predictions_per_seq,
        rng, do_whole_word_mask)
  else:
    with make_worker_pool(tokenizer, num_workers) as pool:
      all_documents = read_documents_as_ids(input_files, tokenizer, pool=pool)
      _check_documents(all_documents, input_files)
      maker = FastInstanceMaker(vocabulary, max_seq_length, short_seq_prob,
                                masked_lm_prob, max_predictions_per_seq, rng,
                                do_whole_word_mask)
      framed = encode_instances(
          maker.iter_instances(all_documents, dupe_factor),
          (vocabulary.size, max_seq_length, max_predictions_per_seq), pool)
    # The original's final rng.shuffle(instances), applied to indexes.
    order = list(range(len(framed)))
    maker.rng.shuffle(order)
  del all_documents

  logging.info("*** Writing to output files ***")
  for path in output_files:
    logging.info("  %s", path)

  if num_workers == 1:
    return write_instance_to_example_files(instances, tokenizer, max_seq_length,
                                           max_predictions_per_seq, output_files)
  return write_fast_instances(framed, order, tokenizer.inv_vocab, output_files)
