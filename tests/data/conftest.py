"""Fixtures of the tests of bert_tf/data; puts this folder on sys.path for `data_testing`."""
import os
import sys

import pytest

from bert_tf.tokenization import FullTokenizer
from helpers import TINY

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
  sys.path.insert(0, _HERE)


@pytest.fixture(scope="module")
def tokenizer():
  return FullTokenizer(os.path.join(TINY, "vocab.txt"), do_lower_case=True)
