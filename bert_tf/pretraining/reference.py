"""The pre-training algorithm of google-research/bert, step for step (the reference path).

Plain re-statement of the original's create_pretraining_data.py, per instance
and on token strings, including every `random.Random` call:

  1. (corpus.read_documents) Documents of tokenized sentences, in file order.
  2. `create_training_instances`: empty documents are removed, then
     `rng.shuffle(documents)`.  `dupe_factor` times, for every document in
     order (`create_instances_from_document`): pick a target length
     (`rng.random() < short_seq_prob` -> `rng.randint(2, max_seq_length - 3)`),
     gather sentences into chunks, split each chunk into A and B (B from a
     random other document half of the time, putting unused sentences back),
     trim the pair with random front/back deletions (`truncate_seq_pair`), and
     mask it (`create_masked_lm_predictions`).  Then `rng.shuffle(instances)`.
  3. `write_instance_to_example_files`: one `tf.train.Example` per instance,
     written round-robin to the output files with `tf.io.TFRecordWriter`,
     the first 20 logged (`log_example`).

create_data.py runs this with `num_workers=1`; the fast path (fast.py,
records.py) must make the same records and is tested against this module.
"""

import collections

from absl import logging

from bert_tf.data.tfrecord import AtomicOutputs

NUM_LOGGED_EXAMPLES = 20
# Tries at drawing a random document different from the current one.
RANDOM_DOCUMENT_TRIES = 10


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


def create_training_instances(all_documents, vocab_words, max_seq_length,
                              dupe_factor, short_seq_prob, masked_lm_prob,
                              max_predictions_per_seq, rng,
                              do_whole_word_mask=False):
  """All `TrainingInstance`s from tokenized documents (which are then shuffled).

  `all_documents` is what `corpus.read_documents` returns; empty documents are
  removed here before the shuffle, as in the original.
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
