"""Paths and settings the tests share (imported as `helpers`; conftest only holds fixtures)."""
import os

TESTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS)
FIXTURES = os.path.join(TESTS, "fixtures")
TINY = os.path.join(FIXTURES, "tiny_uncased")
GLUE = os.path.join(ROOT, "data", "glue")
