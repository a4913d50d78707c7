"""Fixtures of the tests of bert_tf/data."""
import os

import pytest

from bert_tf.tokenization import FullTokenizer
from helpers import TINY


@pytest.fixture(scope="module")
def tokenizer():
  return FullTokenizer(os.path.join(TINY, "vocab.txt"), do_lower_case=True)
