"""The body of create_pretraining_data.py: input checks, then one of the two paths.

For the same input files, flags and seed `run()` writes the same instances, in
the same order, as the original script; only the byte order of the map
entries inside each serialized `tf.train.Example` may differ (protobuf maps
have no defined order, and the original's own output varies from run to run in
the same way).

Two implementations of the algorithm (reference.py describes it):

* the reference path (`num_workers=1`): reference.py, a plain re-statement of
  the original - `FullTokenizer.tokenize_exact` per line read through
  `tf.io.gfile.GFile` (corpus.read_documents), `TrainingInstance` objects
  holding token strings, one `tf.train.Example` per instance written with
  `tf.io.TFRecordWriter`;
* the fast path (`num_workers >= 2`): lines are tokenized to ids by a pool of
  worker processes (corpus.read_documents_as_ids), the rng pass works on id
  lists with the same sequence of rng calls (fast.py), and records are
  serialized straight to protobuf wire format and framed as TFRecords by the
  same workers while the rng pass runs (records.py), so the fast path never
  imports TensorFlow (6 s here) unless a path is remote (`gs://...`) or a
  pattern has wildcards in a directory name (inputs.glob re-states
  `tf.io.gfile.glob` for the common cases).

Both paths write every output under a temporary name and rename it when all
records are written, so an interrupted run never leaves a truncated file under
the final name.
"""

import os
import random

from absl import logging

from bert_tf import tokenization
from bert_tf.data import readers
from bert_tf.pretraining import corpus
from bert_tf.pretraining import reference
from bert_tf.pretraining import records
from bert_tf.pretraining.fast import FastInstanceMaker
from bert_tf.pretraining.fast import IdVocabulary
from bert_tf.pretraining.inputs import expand_input_patterns
from bert_tf.pretraining.inputs import InputError
from bert_tf.pretraining.inputs import split_output_files


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
  # The vocab is checked first (a repeated token, no [MASK], ...: one line).
  tokenizer = tokenization.load_tokenizer(vocab_file, do_lower_case,
                                          needed=tokenization.MASKED_LM_TOKENS)
  vocabulary = IdVocabulary(tokenizer.vocab)
  input_files = expand_input_patterns(input_file)
  for path in input_files:  # a gzip file: say so, not "not valid UTF-8"
    readers.check_text_file(path, InputError)
  output_files = split_output_files(output_file)

  logging.info("*** Reading from input files ***")
  for path in input_files:
    logging.info("  %s", path)

  rng = random.Random(random_seed)
  if num_workers == 1:
    all_documents = corpus.read_documents(input_files, tokenizer)
    _check_documents(all_documents, input_files)
    instances = reference.create_training_instances(
        all_documents, list(tokenizer.vocab.keys()), max_seq_length,
        dupe_factor, short_seq_prob, masked_lm_prob, max_predictions_per_seq,
        rng, do_whole_word_mask)
  else:
    with corpus.make_worker_pool(tokenizer, num_workers) as pool:
      all_documents = corpus.read_documents_as_ids(input_files, tokenizer,
                                                   pool=pool)
      _check_documents(all_documents, input_files)
      maker = FastInstanceMaker(vocabulary, max_seq_length, short_seq_prob,
                                masked_lm_prob, max_predictions_per_seq, rng,
                                do_whole_word_mask)
      framed = records.encode_instances(
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
    return reference.write_instance_to_example_files(
        instances, tokenizer, max_seq_length, max_predictions_per_seq,
        output_files)
  return records.write_fast_instances(framed, order, tokenizer.inv_vocab,
                                      output_files)
