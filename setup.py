"""bert_tf: the google-research/bert command line on TensorFlow 2.21 + Keras 3.

The metadata, dependencies and console commands are in pyproject.toml; this is
the thin setuptools entry kept for tools that call setup.py."""
from setuptools import setup

setup()
