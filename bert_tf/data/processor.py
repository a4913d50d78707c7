"""The DataProcessor interface: a task's files in data_dir -> lists of InputExample."""

import os

from bert_tf.data import readers
from bert_tf.errors import DataError


class DataProcessor(object):
  """Base class of the processors: files in data_dir -> lists of InputExample.

  `is_regression` is True only for STS-B (and a generic task asked to be one);
  its get_labels() is REGRESSION_LABELS = [None], i.e. one output.
  """

  is_regression = False

  def get_train_examples(self, data_dir):
    """The training set as a list of InputExample."""
    raise NotImplementedError()

  def get_dev_examples(self, data_dir):
    """The dev (evaluation) set as a list of InputExample."""
    raise NotImplementedError()

  def get_test_examples(self, data_dir):
    """The test (prediction) set as a list of InputExample."""
    raise NotImplementedError()

  def get_labels(self):
    """The label list; a label's id is its index."""
    raise NotImplementedError()

  @classmethod
  def _read_tsv(cls, input_file, quotechar=None):
    """The rows (lists of str) of a tab-separated file, as the original."""
    return [fields for _, fields in readers.read_rows(input_file, "\t", quotechar)]


def split_file(data_dir, file_name, expected):
  """data_dir/file_name, or DataError saying what data_dir must hold.

  `expected` ends the message: "--data_dir must contain <expected>", e.g.
  "train.tsv/dev.tsv/test.tsv for task mrpc".
  """
  path = os.path.join(data_dir, file_name)
  if not os.path.isfile(path):
    problem = ("--data_dir does not exist" if not os.path.isdir(data_dir)
               else "is a directory, expected a text file" if os.path.isdir(path)
               else "file not found")
    raise DataError("%s: %s; --data_dir must contain %s" % (path, problem, expected))
  return path
