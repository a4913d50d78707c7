import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
TESTS = os.path.dirname(os.path.abspath(__file__))
# The repo (for bert_tf) and tests/ (for `helpers`) first on the path, wherever a test file sits.
for _path in (os.path.dirname(TESTS), TESTS):
  if _path not in sys.path:
    sys.path.insert(0, _path)

from bert_tf import runtime  # noqa: E402
import pytest  # noqa: E402

runtime.configure_process()  # TensorFlow's start-up options, as the scripts' runner sets them

from helpers import FIXTURES, TINY  # noqa: E402


@pytest.fixture
def fixtures_dir():
  return FIXTURES


@pytest.fixture
def tiny_dir():
  return TINY


@pytest.fixture(autouse=True)
def _absl_logger_level_restored():
  """No test leaves absl's logger at another level for the tests after it (which ones run
  after which depends on how the suite is split over pytest-xdist's workers)."""
  import logging
  absl_logger = logging.getLogger("absl")
  level = absl_logger.level
  yield
  absl_logger.setLevel(level)
