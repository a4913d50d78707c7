"""Predict labels for new text with a model fine-tuned by run_classifier.py.

One text per line on stdin (or --input_file); a tab separates the two texts of
a sentence pair.  Prints one line per text: the label, the probabilities in
label order (the task's get_labels(); label_list.txt for --task_name=tsv/csv)
and the text, or one JSON object per line with --output_format=json.  The
probabilities equal run_classifier's test_results.tsv for the same text.

  printf 'He said hi .\\tHe greeted us .\\n' | python predict.py --task_name=MRPC \\
    --output_dir=$OUT/mrpc_output --bert_config_file=$BERT_BASE_DIR/bert_config.json \\
    --vocab_file=$BERT_BASE_DIR/vocab.txt --max_seq_length=128

All the work happens in bert_tf.inference (predictor, text_input).
"""

import sys

from absl import flags

from bert_tf import cli

FLAGS = flags.FLAGS


def define_flags(module_name):
  """Defines predict's flags, listed under `module_name` in --help."""
  kw = dict(module_name=module_name)

  ## The model: a run_classifier output_dir, a fine-tuned checkpoint, or a SavedModel
  flags.DEFINE_string(
      "output_dir", None,
      "A run_classifier.py --output_dir: its newest model.ckpt-N is used (and its "
      "run_config.json / label_list.txt, when present).", **kw)
  flags.DEFINE_string(
      "init_checkpoint", None,
      "A fine-tuned checkpoint (prefix, file or directory); used instead of the newest "
      "checkpoint of --output_dir.", **kw)
  flags.DEFINE_string(
      "saved_model_dir", None,
      "A serving SavedModel written by export_model.py --format=classifier; replaces the "
      "checkpoint flags and the model settings below (the SavedModel tokenizes itself).", **kw)

  ## The fine-tuning run's settings (as for run_classifier.py; read from
  ## output_dir/run_config.json when that file exists and the flag is not given)
  flags.DEFINE_string("bert_config_file", None,
                      "The config json file of the fine-tuned model.", **kw)
  flags.DEFINE_string("vocab_file", None,
                      "The vocabulary file that the BERT model was trained on.", **kw)
  flags.DEFINE_string("task_name", None,
                      "The fine-tuning task (MRPC, CoLA, ..., tsv, csv): fixes the label order.",
                      **kw)
  flags.DEFINE_bool("do_lower_case", None,
                    "Whether to lower case the input text (default True). Must match the "
                    "fine-tuning run.", **kw)
  flags.DEFINE_integer("max_seq_length", None,
                       "The fine-tuning run's max_seq_length; longer texts are truncated "
                       "exactly as run_classifier.py truncates them. Default: run_config.json's, "
                       "else the model's max_position_embeddings (bert_config.json).", **kw)
  flags.DEFINE_string("labels", None,
                      "Comma-separated labels in id order, instead of the task's label list.",
                      **kw)

  ## Input and output
  flags.DEFINE_string("input_file", None,
                      "Text file, one text (or text_a<TAB>text_b) per line; default: stdin.", **kw)
  flags.DEFINE_integer("batch_size", 32, "Texts per model call.", **kw)
  flags.DEFINE_enum("output_format", "tsv", ["tsv", "json"],
                    "tsv: label<TAB>p_0<TAB>...<TAB>text; json: one object per line.", **kw)


def run(argv):
  if len(argv) > 1:
    raise ValueError("unexpected arguments %s; texts are read from stdin or --input_file"
                     % " ".join(argv[1:]))
  from bert_tf.inference import predictor, text_input  # pylint: disable=g-import-not-at-top
  # A named file is read first (a missing file fails at once); stdin after the model has
  # loaded, so that a bad model flag fails before anything is read from the pipe.
  from_file = FLAGS.input_file and FLAGS.input_file != "-"
  inputs = text_input.read_input_lines(FLAGS.input_file) if from_file else None
  if FLAGS.saved_model_dir:
    model = predictor.SavedModelPredictor(FLAGS.saved_model_dir)
  else:
    model = predictor.load_classifier(
        output_dir=FLAGS.output_dir, init_checkpoint=FLAGS.init_checkpoint,
        bert_config_file=FLAGS.bert_config_file, vocab_file=FLAGS.vocab_file,
        task_name=FLAGS.task_name, do_lower_case=FLAGS.do_lower_case,
        max_seq_length=FLAGS.max_seq_length, labels=FLAGS.labels)
  if inputs is None:
    inputs = text_input.read_input_lines(None)
  predictions = model.predict(inputs, batch_size=FLAGS.batch_size)
  for line in predictor.format_predictions(inputs, predictions, FLAGS.output_format):
    sys.stdout.write(line + "\n")
  sys.stdout.flush()


def main(argv=None):
  """The program: `python predict.py` and the `bert-predict` command."""
  define_flags(sys.argv[0])
  cli.run(run, argv=argv, doc=__doc__)
