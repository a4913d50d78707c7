"""Exports a BERT checkpoint as a TF Hub encoder, a keras-hub preset or a serving SavedModel.

  # Encoder in Google's TF2 TF Hub format (hub.KerasLayer / tf.saved_model.load):
  python export_model.py --format=tf2_encoder --bert_config_file=$BERT_BASE_DIR/bert_config.json \
    --init_checkpoint=$BERT_BASE_DIR/bert_model.ckpt --vocab_file=$BERT_BASE_DIR/vocab.txt \
    --export_dir=$OUT/bert_tf2_encoder
  # --format=tf1_hub_module: the original notebook's hub.Module format
  #   (usable as --bert_hub_module_handle); --format=keras_hub_preset:
  #   keras_hub.models.BertBackbone.from_preset(export_dir).
  # A fine-tuned classifier with in-graph tokenization, for TF Serving / saved_model_cli:
  python export_model.py --format=classifier --label_list=0,1 --max_seq_length=128 \
    --bert_config_file=... --vocab_file=... --init_checkpoint=$OUT/mrpc_output \
    --export_dir=$OUT/mrpc_serving
"""

import sys

from absl import flags

from bert_tf import cli

FLAGS = flags.FLAGS

REQUIRED = ("bert_config_file", "init_checkpoint", "vocab_file", "export_dir")


def define_flags(module_name):
  """Defines export_model's flags, listed under `module_name` in --help."""
  kw = dict(module_name=module_name)

  flags.DEFINE_enum("format", "tf2_encoder",
                    ["tf2_encoder", "tf1_hub_module", "keras_hub_preset", "classifier"],
                    "What to export.", **kw)
  flags.DEFINE_string("bert_config_file", None, "The config json file of the model.", **kw)
  flags.DEFINE_string("init_checkpoint", None,
                      "Checkpoint prefix (or a directory with a `checkpoint` file) to export.",
                      **kw)
  flags.DEFINE_string("vocab_file", None,
                      "The vocabulary file that the BERT model was trained on.", **kw)
  flags.DEFINE_bool("do_lower_case", True, "Whether the model is uncased.", **kw)
  flags.DEFINE_string("export_dir", None,
                      "Output directory: a new or empty one, or an earlier export of bert_tf "
                      "(replaced; recognised by its bert_tf_export.json). Any other existing "
                      "directory is refused.", **kw)
  flags.DEFINE_string("label_list", None,
                      "classifier: the task's labels in id order, comma-separated (e.g. 0,1).",
                      **kw)
  flags.DEFINE_bool("is_regression", False, "classifier: a one-output regression model.", **kw)
  flags.DEFINE_integer("max_seq_length", None,
                       "classifier: the serving sequence length (the fine-tuning run's). "
                       "Default: 128, or the model's max_position_embeddings when smaller.",
                       **kw)


def run(_):
  from bert_tf.interop import export  # pylint: disable=g-import-not-at-top
  export.export_model(FLAGS.format, FLAGS.bert_config_file, FLAGS.init_checkpoint,
                      FLAGS.vocab_file, FLAGS.do_lower_case, FLAGS.export_dir,
                      label_list=FLAGS.label_list.split(",") if FLAGS.label_list else None,
                      is_regression=FLAGS.is_regression, max_seq_length=FLAGS.max_seq_length)


def main(argv=None):
  """The program: `python export_model.py` and the `bert-export-model` command."""
  define_flags(sys.argv[0])
  for name in REQUIRED:
    flags.mark_flag_as_required(name)
  cli.run(run, argv=argv, doc=__doc__)
