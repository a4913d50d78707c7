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

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import flags  # noqa: E402
from absl import logging  # noqa: E402

from bert_tf import cli  # noqa: E402

flags.DEFINE_enum("format", "tf2_encoder",
                  ["tf2_encoder", "tf1_hub_module", "keras_hub_preset", "classifier"],
                  "What to export.")
flags.DEFINE_string("bert_config_file", None, "The config json file of the model.")
flags.DEFINE_string("init_checkpoint", None,
                    "Checkpoint prefix (or a directory with a `checkpoint` file) to export.")
flags.DEFINE_string("vocab_file", None, "The vocabulary file that the BERT model was trained on.")
flags.DEFINE_bool("do_lower_case", True, "Whether the model is uncased.")
flags.DEFINE_string("export_dir", None, "Output directory (replaced if it exists).")
flags.DEFINE_string("label_list", None,
                    "classifier: the task's labels in id order, comma-separated (e.g. 0,1).")
flags.DEFINE_bool("is_regression", False, "classifier: a one-output regression model.")
flags.DEFINE_integer("max_seq_length", 128, "classifier: the serving sequence length.")

FLAGS = flags.FLAGS


def main(_):
  from bert_tf import checkpoints  # pylint: disable=g-import-not-at-top
  from bert_tf import export  # pylint: disable=g-import-not-at-top
  from bert_tf import hub  # pylint: disable=g-import-not-at-top
  from bert_tf import modeling  # pylint: disable=g-import-not-at-top
  from bert_tf.configuration import BertConfig  # pylint: disable=g-import-not-at-top
  from bert_tf import tokenization  # pylint: disable=g-import-not-at-top
  # Everything is checked before the model is built, and the export is published
  # atomically (an earlier export_dir survives a failed run).
  config = BertConfig.from_json_file(FLAGS.bert_config_file)
  tokenization.check_vocab_size(tokenization.load_vocab(FLAGS.vocab_file), config.vocab_size,
                                FLAGS.vocab_file, FLAGS.bert_config_file)
  checkpoints.check_can_publish(FLAGS.export_dir)
  ckpt = checkpoints.resolve_checkpoint(FLAGS.init_checkpoint)
  if FLAGS.format == "classifier":
    if FLAGS.is_regression:
      labels = []
    elif not FLAGS.label_list:
      raise ValueError("--label_list is required with --format=classifier (or pass "
                       "--is_regression)")
    else:
      labels = FLAGS.label_list.split(",")
    model = modeling.BertClassifier(config, 1 if FLAGS.is_regression else len(labels))
    model.build()
    variables = model.original_variables()
    restored = checkpoints.init_from_checkpoint(variables, ckpt, log=False)
    missing = sorted(set(variables) - restored)
    if missing:
      raise ValueError("%s: checkpoint lacks %s; export a fine-tuned classifier checkpoint"
                       % (ckpt, ", ".join(missing[:3])))
    export.export_classifier(model, FLAGS.vocab_file, FLAGS.do_lower_case,
                             FLAGS.max_seq_length, labels, FLAGS.export_dir,
                             is_regression=FLAGS.is_regression)
  else:
    fn = {"tf2_encoder": hub.export_tf2_encoder, "tf1_hub_module": hub.export_tf1_hub_module,
          "keras_hub_preset": hub.export_keras_hub_preset}[FLAGS.format]
    fn(config, ckpt, FLAGS.vocab_file, FLAGS.do_lower_case, FLAGS.export_dir)
  logging.info("Exported %s to %s", FLAGS.format, FLAGS.export_dir)


if __name__ == "__main__":
  for name in ("bert_config_file", "init_checkpoint", "vocab_file", "export_dir"):
    flags.mark_flag_as_required(name)
  cli.run(main)
