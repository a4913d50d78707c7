"""Building blocks of the reference algorithm (and the fast path's whole-word groups)."""
import random

from bert_tf.pretraining import fast
from bert_tf.pretraining import reference


def test_truncate_seq_pair_trims_longer_side_with_one_draw_per_token():
  class Recorder(random.Random):
    def __init__(self, values):
      super().__init__(0)
      self.values = list(values)

    def random(self):
      return self.values.pop(0)

  a, b = list("abcdef"), list("xyz")
  # a longer: front, back, front; then 3 vs 3: tie -> b, back.
  rng = Recorder([0.1, 0.9, 0.3, 0.7])
  reference.truncate_seq_pair(a, b, 5, rng)
  assert a == list("cde") and b == list("xy") and rng.values == []


def test_num_masked_positions_rounds_half_to_even():
  assert reference.num_masked_positions(10, 0.25, 20) == 2   # 2.5 -> 2
  assert reference.num_masked_positions(14, 0.25, 20) == 4   # 3.5 -> 4
  assert reference.num_masked_positions(6, 0.25, 20) == 2    # 1.5 -> 2
  assert reference.num_masked_positions(2, 0.25, 20) == 1    # 0.5 -> 0 -> at least 1
  assert reference.num_masked_positions(128, 0.15, 20) == 19
  assert reference.num_masked_positions(200, 0.15, 20) == 20


def test_whole_word_groups_join_across_sep_like_the_original(uncased):
  """A "##" piece right after [SEP] joins the last word of segment A."""
  tokens = ["[CLS]", "em", "##bed", "[SEP]", "##ding", "run", "[SEP]"]
  seen = []

  class Spy(random.Random):
    def shuffle(self, x):
      seen.append([list(g) for g in x])
      x.reverse()

  rng = Spy(0)
  _, positions, labels = reference.create_masked_lm_predictions(
      tokens, 0.5, 20, list(uncased.vocab), rng, do_whole_word_mask=True)
  assert seen == [[[1, 2, 4], [5]]]
  # num_to_predict = round(3.5) = 4: [5] then the 3-piece group fit.
  assert positions == [1, 2, 4, 5] and labels == ["em", "##bed", "##ding", "run"]
  vocabulary = fast.IdVocabulary(uncased.vocab)
  maker = fast.FastInstanceMaker(vocabulary, 64, 0.1, 0.5, 20,
                                 random.Random(0), do_whole_word_mask=True)
  ids = uncased.convert_tokens_to_ids(tokens)
  assert maker.candidates(ids, 2) == [[1, 2, 4], [5]]
