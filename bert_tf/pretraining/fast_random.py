"""`FastRandom`: CPython's `random.Random` shuffle / randint draws with less overhead.

The fast path (fast.py) draws from the rng several times per instance and per
masked token.  `FastRandom` re-states `random.Random.shuffle` and `randint`
(rejection sampling with `getrandbits(n.bit_length())`) without the library's
per-draw method calls, and draws exactly the same numbers, leaving the
generator in the same state.  It checks that on copies of the generator when it
is made and falls back to the library methods if they differ;
tests/pretraining/test_fast_random.py checks it against `random.Random`.
"""

import random


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
