"""FastRandom draws exactly what random.Random draws."""
import random

from bert_tf.pretraining.fast_random import FastRandom


def test_fast_random_draws_exactly_like_random_random():
  for seed in range(5):
    mine, library = random.Random(seed), random.Random(seed)
    fast = FastRandom(mine)
    assert "shuffle" not in vars(fast)  # the re-stated version is in use
    for n in list(range(0, 140)) + [1000, 4097, 20000]:
      a, b = list(range(n)), list(range(n))
      fast.shuffle(a)
      library.shuffle(b)
      assert a == b
      assert fast.randint(0, n) == library.randint(0, n)
      assert fast.random() == library.random()
    assert mine.getstate() == library.getstate()


def test_fast_random_falls_back_for_subclasses():
  class Custom(random.Random):
    pass
  rng = Custom(1)
  fast = FastRandom(rng)
  assert fast.shuffle == rng.shuffle and fast.randint == rng.randint
