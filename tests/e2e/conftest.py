"""Puts this folder on sys.path for `e2e_testing`, the helpers the end-to-end tests share."""
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
  sys.path.insert(0, _HERE)
