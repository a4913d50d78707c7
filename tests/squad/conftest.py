"""SQuAD test fixtures; puts this folder on sys.path for `squad_testing`."""
import os
import sys

import pytest

from helpers import TINY

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
  sys.path.insert(0, _HERE)


@pytest.fixture(scope="session")
def tokenizer():
  from bert_tf import tokenization
  return tokenization.FullTokenizer(os.path.join(TINY, "vocab.txt"), do_lower_case=True)
