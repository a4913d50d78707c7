"""The example and feature types of classifier data, and the regression label list.

An InputExample is one row of a task file (text_a, optional text_b, label); an
InputFeatures is its model input (three int lists of length S = max_seq_length and
a label id).  PaddingInputExample marks the fake examples that pad eval/predict to
whole batches (`pad_examples_for_tpu`).  For regression (STS-B, or a generic task
with `is_regression=True`) the label list is `REGRESSION_LABELS = [None]` (one
output) and label_id is the float score.
"""

# The label list of a regression task: one output, no classes.
REGRESSION_LABELS = [None]


class InputExample(object):
  """One example: text_a, optional text_b and a label (a str, or a score).

  `source_file` / `source_line` (keyword only) say where the example was read,
  so that a bad label can be reported as "dev.tsv line 17"; processors set
  them, code that builds examples by hand may leave them None.
  """

  def __init__(self, guid, text_a, text_b=None, label=None, *,
               source_file=None, source_line=None):
    self.guid = guid
    self.text_a = text_a
    self.text_b = text_b
    self.label = label
    self.source_file = source_file
    self.source_line = source_line

  def __repr__(self):
    return "InputExample(guid=%r, text_a=%r, text_b=%r, label=%r)" % (
        self.guid, self.text_a, self.text_b, self.label)


class PaddingInputExample(object):
  """Marker for the fake examples that pad eval/predict to whole batches.

  It converts to all-zero input_ids/input_mask/segment_ids, label_id 0 and
  is_real_example False, so metrics (weighted by is_real_example) and the
  prediction writer ignore it.
  """


class InputFeatures(object):
  """The features of one example: three int lists of length S and a label id."""

  def __init__(self, input_ids, input_mask, segment_ids, label_id,
               is_real_example=True):
    self.input_ids = input_ids
    self.input_mask = input_mask
    self.segment_ids = segment_ids
    self.label_id = label_id
    self.is_real_example = is_real_example

  def __eq__(self, other):
    return isinstance(other, InputFeatures) and vars(self) == vars(other)

  def __repr__(self):
    return "InputFeatures(%s)" % ", ".join(
        "%s=%r" % item for item in sorted(vars(self).items()))


def is_regression_label_list(label_list):
  """True when `label_list` is `REGRESSION_LABELS` (one output, float labels)."""
  return len(label_list) == 1 and label_list[0] is None


def where(example):
  """"path line N" for an example read from a file, else "example <guid>"."""
  if getattr(example, "source_file", None) is not None:
    return "%s line %s" % (example.source_file, example.source_line)
  return "example %s" % (example.guid,)


def pad_examples_for_tpu(examples, batch_size):
  """`examples` plus PaddingInputExample()s up to a multiple of batch_size.

  The original's --use_tpu eval/predict padding.  Returns a new list; the
  number of real examples is still len(examples).
  """
  padded = list(examples)
  while len(padded) % batch_size != 0:
    padded.append(PaddingInputExample())
  return padded
