import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import bert_tf  # noqa: E402,F401  (its TensorFlow start-up options, before anything imports TF)
import pytest  # noqa: E402

FIXTURES = os.path.join(ROOT, "tests", "fixtures")
TINY = os.path.join(FIXTURES, "tiny_uncased")


@pytest.fixture
def fixtures_dir():
  return FIXTURES


@pytest.fixture
def tiny_dir():
  return TINY
