"""The fast path of the pre-training algorithm: the rng pass on token ids.

`FastInstanceMaker` is reference.py's `create_training_instances` /
`create_instances_from_document` / `create_masked_lm_predictions` re-stated on
id lists, with the same sequence of rng calls, so that for the same documents
and seed it makes the same instances in the same order (instance-identical to
reference.py; only how things are computed differs, see the class).  It draws
through `FastRandom` (fast_random.py) and yields instances as tuples that
records.py encodes straight to TFRecord bytes.

Checked by tests/pretraining/test_create_data.py: the fixture command's
records from both paths equal the original script's output, and
`test_fast_path_equals_original_path*` run the reference path
(`num_workers=1`) and the fast path (`num_workers=2`) of `create_data.run` on
several flag sets and awkward input and compare every record;
tests/pretraining/test_reference.py checks the whole-word candidate groups of
both.
"""

from bert_tf.pretraining.fast_random import FastRandom
from bert_tf.pretraining.inputs import InputError
from bert_tf.pretraining.reference import RANDOM_DOCUMENT_TRIES
from bert_tf.pretraining.reference import num_masked_positions

_SPECIAL_TOKENS = ("[CLS]", "[SEP]", "[MASK]")


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
