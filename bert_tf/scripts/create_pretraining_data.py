"""Create masked LM / next sentence prediction TFRecords for BERT pre-training.

Drop-in replacement for google-research/bert's `create_pretraining_data.py`:
same flags, same input format (one sentence per line, blank lines between
documents), same records for the same seed.  The work is done by
`bert_tf.pretraining.create_data.run`; `--num_workers` (not in the original)
picks the parallel fast path (default) or the single-process original path (1).
"""

import os
import sys

from absl import flags

from bert_tf import cli

FLAGS = flags.FLAGS

REQUIRED = ("input_file", "output_file", "vocab_file")


def define_flags(module_name):
  """Defines create_pretraining_data's flags, listed under `module_name` in --help."""
  kw = dict(module_name=module_name)

  flags.DEFINE_string("input_file", None,
                      "Input raw text file (or comma-separated list of files).", **kw)
  flags.DEFINE_string(
      "output_file", None,
      "Output TF example file (or comma-separated list of files).", **kw)
  flags.DEFINE_string("vocab_file", None,
                      "The vocabulary file that the BERT model was trained on.", **kw)
  flags.DEFINE_bool(
      "do_lower_case", True,
      "Whether to lower case the input text. Should be True for uncased "
      "models and False for cased models.", **kw)
  flags.DEFINE_bool(
      "do_whole_word_mask", False,
      "Whether to use whole word masking rather than per-WordPiece masking.", **kw)
  flags.DEFINE_integer("max_seq_length", 128, "Maximum sequence length.", **kw)
  flags.DEFINE_integer("max_predictions_per_seq", 20,
                       "Maximum number of masked LM predictions per sequence.", **kw)
  flags.DEFINE_integer("random_seed", 12345, "Random seed for data generation.", **kw)
  flags.DEFINE_integer(
      "dupe_factor", 10,
      "Number of times to duplicate the input data (with different masks).", **kw)
  flags.DEFINE_float("masked_lm_prob", 0.15, "Masked LM probability.", **kw)
  flags.DEFINE_float(
      "short_seq_prob", 0.1,
      "Probability of creating sequences which are shorter than the "
      "maximum length.", **kw)
  flags.DEFINE_integer(
      "num_workers", os.cpu_count() or 1,
      "[bert_tf] Worker processes that tokenize the input and encode the "
      "records in parallel (default: the number of CPUs). 1 runs the original "
      "single-process algorithm step by step. The output is identical either "
      "way.", **kw)


def run(_):
  from bert_tf.pretraining import create_data  # pylint: disable=g-import-not-at-top
  create_data.run(
      input_file=FLAGS.input_file,
      output_file=FLAGS.output_file,
      vocab_file=FLAGS.vocab_file,
      do_lower_case=FLAGS.do_lower_case,
      do_whole_word_mask=FLAGS.do_whole_word_mask,
      max_seq_length=FLAGS.max_seq_length,
      max_predictions_per_seq=FLAGS.max_predictions_per_seq,
      random_seed=FLAGS.random_seed,
      dupe_factor=FLAGS.dupe_factor,
      masked_lm_prob=FLAGS.masked_lm_prob,
      short_seq_prob=FLAGS.short_seq_prob,
      num_workers=FLAGS.num_workers)


def main(argv=None):
  """The program: `python create_pretraining_data.py` and `bert-create-pretraining-data`."""
  define_flags(sys.argv[0])
  for name in REQUIRED:
    flags.mark_flag_as_required(name)
  # The fast path never needs TensorFlow: it is imported only where used.
  cli.run(run, argv=argv, doc=__doc__, import_tensorflow=False)
