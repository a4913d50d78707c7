"""Create masked LM / next sentence prediction TFRecords for BERT pre-training.

Drop-in replacement for google-research/bert's `create_pretraining_data.py`:
same flags, same input format (one sentence per line, blank lines between
documents), same records for the same seed.  The work is done by
`bert_tf.pretraining.create_data.run`; `--num_workers` (not in the original)
picks the parallel fast path (default) or the single-process original path (1).
"""

import os

from absl import flags

from bert_tf import cli

FLAGS = flags.FLAGS

flags.DEFINE_string("input_file", None,
                    "Input raw text file (or comma-separated list of files).")

flags.DEFINE_string(
    "output_file", None,
    "Output TF example file (or comma-separated list of files).")

flags.DEFINE_string("vocab_file", None,
                    "The vocabulary file that the BERT model was trained on.")

flags.DEFINE_bool(
    "do_lower_case", True,
    "Whether to lower case the input text. Should be True for uncased "
    "models and False for cased models.")

flags.DEFINE_bool(
    "do_whole_word_mask", False,
    "Whether to use whole word masking rather than per-WordPiece masking.")

flags.DEFINE_integer("max_seq_length", 128, "Maximum sequence length.")

flags.DEFINE_integer("max_predictions_per_seq", 20,
                     "Maximum number of masked LM predictions per sequence.")

flags.DEFINE_integer("random_seed", 12345, "Random seed for data generation.")

flags.DEFINE_integer(
    "dupe_factor", 10,
    "Number of times to duplicate the input data (with different masks).")

flags.DEFINE_float("masked_lm_prob", 0.15, "Masked LM probability.")

flags.DEFINE_float(
    "short_seq_prob", 0.1,
    "Probability of creating sequences which are shorter than the "
    "maximum length.")

flags.DEFINE_integer(
    "num_workers", os.cpu_count() or 1,
    "[bert_tf] Worker processes that tokenize the input and encode the "
    "records in parallel (default: the number of CPUs). 1 runs the original "
    "single-process algorithm step by step. The output is identical either "
    "way.")


def main(_):
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


if __name__ == "__main__":
  flags.mark_flag_as_required("input_file")
  flags.mark_flag_as_required("output_file")
  flags.mark_flag_as_required("vocab_file")
  # The fast path never needs TensorFlow: it is imported only where used.
  cli.run(main, import_tensorflow=False)
