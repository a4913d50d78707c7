"""Extract pre-computed feature vectors from BERT (google-research/bert's extract_features.py).

Same flags, input and JSON-lines output as the original; see bert_tf/inference/extract.py.

  python extract_features.py --input_file=input.txt --output_file=output.jsonl \
    --vocab_file=$BERT_BASE_DIR/vocab.txt --bert_config_file=$BERT_BASE_DIR/bert_config.json \
    --init_checkpoint=$BERT_BASE_DIR/bert_model.ckpt --layers=-1,-2,-3,-4 \
    --max_seq_length=128 --batch_size=8
"""

import sys

from absl import flags
from absl import logging

from bert_tf import cli

FLAGS = flags.FLAGS

REQUIRED = ("input_file", "vocab_file", "bert_config_file", "init_checkpoint", "output_file")


def define_flags(module_name):
  """Defines extract_features' flags, listed under `module_name` in --help."""
  kw = dict(module_name=module_name)

  flags.DEFINE_string("input_file", None, "", **kw)
  flags.DEFINE_string("output_file", None, "", **kw)
  flags.DEFINE_string("layers", "-1,-2,-3,-4", "", **kw)
  flags.DEFINE_string(
      "bert_config_file", None,
      "The config json file corresponding to the pre-trained BERT model. "
      "This specifies the model architecture.", **kw)
  flags.DEFINE_integer(
      "max_seq_length", 128,
      "The maximum total input sequence length after WordPiece tokenization. "
      "Sequences longer than this will be truncated, and sequences shorter "
      "than this will be padded. [bert_tf] Not given: 128, or the model's "
      "max_position_embeddings when that is smaller.", **kw)
  flags.DEFINE_string("init_checkpoint", None,
                      "Initial checkpoint (usually from a pre-trained BERT model).", **kw)
  flags.DEFINE_string("vocab_file", None,
                      "The vocabulary file that the BERT model was trained on.", **kw)
  flags.DEFINE_bool(
      "do_lower_case", True,
      "Whether to lower case the input text. Should be True for uncased "
      "models and False for cased models.", **kw)
  flags.DEFINE_integer("batch_size", 32, "Batch size for predictions.", **kw)
  flags.DEFINE_bool("use_tpu", False, "Whether to use TPU or GPU/CPU.", **kw)
  flags.DEFINE_string("master", None, "If using a TPU, the address of the master.", **kw)
  flags.DEFINE_integer("num_tpu_cores", 8,
                       "Only used if `use_tpu` is True. Total number of TPU cores to use.", **kw)
  flags.DEFINE_bool(
      "use_one_hot_embeddings", False,
      "If True, tf.one_hot will be used for embedding lookups, otherwise "
      "tf.nn.embedding_lookup will be used. On TPUs, this should be True "
      "since it is much faster.", **kw)


def run(_):
  from bert_tf.inference import extract  # pylint: disable=g-import-not-at-top
  from bert_tf import tokenization  # pylint: disable=g-import-not-at-top
  from bert_tf.configuration import BertConfig  # pylint: disable=g-import-not-at-top
  if FLAGS.use_tpu or FLAGS.master:
    logging.warning("--use_tpu/--master are accepted for compatibility; this run uses the "
                    "local CPU/GPU")
  # use_one_hot_embeddings changes only how the lookup is computed, not its values.
  tokenization.validate_case_matches_checkpoint(FLAGS.do_lower_case, FLAGS.init_checkpoint)
  config = BertConfig.from_json_file(FLAGS.bert_config_file)
  n = extract.extract_features(
      FLAGS.input_file, FLAGS.output_file, config, FLAGS.init_checkpoint, FLAGS.vocab_file,
      do_lower_case=FLAGS.do_lower_case, layers=FLAGS.layers,
      # Not given: the original's 128, capped at what the model takes (extract.py).
      max_seq_length=FLAGS.max_seq_length if FLAGS["max_seq_length"].present else None,
      batch_size=FLAGS.batch_size,
      bert_config_file=FLAGS.bert_config_file)
  logging.info("Wrote %d lines to %s", n, FLAGS.output_file)


def main(argv=None):
  """The program: `python extract_features.py` and the `bert-extract-features` command."""
  define_flags(sys.argv[0])
  for name in REQUIRED:
    flags.mark_flag_as_required(name)
  cli.run(run, argv=argv, doc=__doc__)
