"""Fill in [MASK]: the top-k tokens of a pre-trained checkpoint's masked-LM head.

Texts come from the positional arguments, --text (repeatable), or stdin (one
per line; a tab separates a sentence pair).  Every literal [MASK] in a text is
one [MASK] token; for each, the top-k tokens of `cls/predictions` and their
probabilities are printed (--output_format=json: one object per text).

  python fill_mask.py --bert_config_file=$BERT_BASE_DIR/bert_config.json \\
    --vocab_file=$BERT_BASE_DIR/vocab.txt --init_checkpoint=$BERT_BASE_DIR/bert_model.ckpt \\
    "The capital of France is [MASK]."

The checkpoint must keep the pre-training head (Google's bert_model.ckpt,
run_pretraining.py's model.ckpt-N); a fine-tuned or encoder-only checkpoint
has none.  All the work happens in bert_tf.inference (masked_lm, text_input).
"""

import sys

from absl import flags

from bert_tf import cli

FLAGS = flags.FLAGS

REQUIRED = ("bert_config_file", "vocab_file", "init_checkpoint")


def define_flags(module_name):
  """Defines fill_mask's flags, listed under `module_name` in --help."""
  kw = dict(module_name=module_name)

  flags.DEFINE_string("bert_config_file", None,
                      "The config json file corresponding to the pre-trained BERT model.", **kw)
  flags.DEFINE_string("vocab_file", None,
                      "The vocabulary file that the BERT model was trained on.", **kw)
  flags.DEFINE_string("init_checkpoint", None,
                      "A pre-trained checkpoint with the masked-LM head (cls/predictions/*).",
                      **kw)
  flags.DEFINE_bool("do_lower_case", True,
                    "Whether to lower case the input text. Should be True for uncased "
                    "models and False for cased models.", **kw)
  flags.DEFINE_integer("top_k", 5, "How many predictions to print for each [MASK].", **kw)
  flags.DEFINE_integer("max_seq_length", None,
                       "Longer texts are truncated (an error if a [MASK] would be cut off). "
                       "Default: the model's max_position_embeddings (bert_config.json); each "
                       "batch is padded only to its longest text.", **kw)
  flags.DEFINE_multi_string("text", None, "A text with [MASK]s (repeatable); also accepted as "
                            "positional arguments. Default: stdin lines.", **kw)
  flags.DEFINE_string("input_file", None, "Text file, one text per line (instead of stdin).",
                      **kw)
  flags.DEFINE_integer("batch_size", 32, "Texts per model call.", **kw)
  flags.DEFINE_enum("output_format", "text", ["text", "json"],
                    "text: the input, then '  [MASK] n: token prob ...' per mask; json: one "
                    "object per text.", **kw)


def run(argv):
  from bert_tf.inference import masked_lm, text_input  # pylint: disable=g-import-not-at-top
  texts = list(FLAGS.text or []) + list(argv[1:])
  if texts and FLAGS.input_file:
    raise ValueError("give texts as arguments/--text or --input_file, not both")
  inputs = text_input.as_inputs(texts, "arguments") if texts else \
      text_input.read_input_lines(FLAGS.input_file)
  results = masked_lm.fill_mask(
      inputs, FLAGS.bert_config_file, FLAGS.vocab_file, FLAGS.init_checkpoint,
      do_lower_case=FLAGS.do_lower_case, top_k=FLAGS.top_k,
      max_seq_length=FLAGS.max_seq_length, batch_size=FLAGS.batch_size)
  for line in masked_lm.format_fill_results(results, FLAGS.output_format):
    sys.stdout.write(line + "\n")
  sys.stdout.flush()


def main(argv=None):
  """The program: `python fill_mask.py` and the `bert-fill-mask` command."""
  define_flags(sys.argv[0])
  for name in REQUIRED:
    flags.mark_flag_as_required(name)
  cli.run(run, argv=argv, doc=__doc__)
