"""BERT fine-tuning runner: google-research/bert's run_classifier.py on TF 2.21 + Keras 3.

The flags below are the original's (same names, types, defaults and help),
followed by bert_tf's additive options whose defaults keep the original
behaviour.  All the work happens in bert_tf.classifier.job.run.
"""

import sys

from absl import flags

from bert_tf import cli, runtime

FLAGS = flags.FLAGS

REQUIRED = ("data_dir", "task_name", "vocab_file", "bert_config_file", "output_dir")


def define_flags(module_name):
  """Defines run_classifier's flags, listed under `module_name` in --help."""
  kw = dict(module_name=module_name)

  ## Required parameters
  flags.DEFINE_string(
      "data_dir", None,
      "The input data dir. Should contain the .tsv files (or other data files) "
      "for the task.", **kw)
  flags.DEFINE_string(
      "bert_config_file", None,
      "The config json file corresponding to the pre-trained BERT model. "
      "This specifies the model architecture.", **kw)
  flags.DEFINE_string("task_name", None, "The name of the task to train.", **kw)
  flags.DEFINE_string("vocab_file", None,
                      "The vocabulary file that the BERT model was trained on.", **kw)
  flags.DEFINE_string(
      "output_dir", None,
      "The output directory where the model checkpoints will be written.", **kw)

  ## Other parameters
  flags.DEFINE_string(
      "init_checkpoint", None,
      "Initial checkpoint (usually from a pre-trained BERT model).", **kw)
  flags.DEFINE_bool(
      "do_lower_case", True,
      "Whether to lower case the input text. Should be True for uncased "
      "models and False for cased models.", **kw)
  flags.DEFINE_integer(
      "max_seq_length", 128,
      "The maximum total input sequence length after WordPiece tokenization. "
      "Sequences longer than this will be truncated, and sequences shorter "
      "than this will be padded.", **kw)
  flags.DEFINE_bool("do_train", False, "Whether to run training.", **kw)
  flags.DEFINE_bool("do_eval", False, "Whether to run eval on the dev set.", **kw)
  flags.DEFINE_bool(
      "do_predict", False,
      "Whether to run the model in inference mode on the test set.", **kw)
  flags.DEFINE_integer("train_batch_size", 32, "Total batch size for training.", **kw)
  flags.DEFINE_integer("eval_batch_size", 8, "Total batch size for eval.", **kw)
  flags.DEFINE_integer("predict_batch_size", 8, "Total batch size for predict.", **kw)
  flags.DEFINE_float("learning_rate", 5e-5, "The initial learning rate for Adam.", **kw)
  flags.DEFINE_float("num_train_epochs", 3.0,
                     "Total number of training epochs to perform.", **kw)
  flags.DEFINE_float(
      "warmup_proportion", 0.1,
      "Proportion of training to perform linear learning rate warmup for. "
      "E.g., 0.1 = 10% of training.", **kw)
  # save_checkpoints_steps, iterations_per_loop, the TPU flags, then bert_tf's additions
  # (seed ... trim_padding), shared with run_pretraining.py.
  runtime.define_runtime_flags(module_name)

  ## bert_tf additions (defaults keep the original behaviour)
  flags.DEFINE_integer("eval_every_steps", 0,
                       "[bert_tf] Evaluate on the dev set every N training steps (0 = off). Each "
                       "result is appended to output_dir/eval_history.txt and TensorBoard, and the "
                       "best checkpoint is kept in output_dir/best/.", **kw)
  flags.DEFINE_bool("eval_every_epoch", False,
                    "[bert_tf] Evaluate on the dev set at the end of every epoch (see "
                    "--eval_every_steps).", **kw)
  flags.DEFINE_string("best_metric", "",
                      "[bert_tf] Metric that picks the best checkpoint: eval_accuracy (default), "
                      "eval_loss (lower is better), eval_pearson/eval_spearman (regression).", **kw)
  flags.DEFINE_integer("early_stopping_patience", 0,
                       "[bert_tf] With evaluation during training: stop after this many "
                       "evaluations without improvement of --best_metric (0 = never).", **kw)

  ## bert_tf: --task_name=tsv / csv for your own data (ignored by the GLUE tasks)
  flags.DEFINE_string("text_a_column", None, "[bert_tf] tsv/csv: column of the first text "
                      "(0-based number or header name; default 0).", **kw)
  flags.DEFINE_string("text_b_column", None, "[bert_tf] tsv/csv: column of the second text, for "
                      "sentence-pair data (optional).", **kw)
  flags.DEFINE_string("label_column", None, "[bert_tf] tsv/csv: column of the label (default 1). "
                      "Test files need none.", **kw)
  flags.DEFINE_string("guid_column", None,
                      "[bert_tf] tsv/csv: column of the example id (optional).", **kw)
  flags.DEFINE_bool("has_header", True,
                    "[bert_tf] tsv/csv: the first row of each file is a header.", **kw)
  flags.DEFINE_string("labels", None, "[bert_tf] tsv/csv: comma-separated label list fixing the "
                      "output order (default: sorted labels of train.<ext>, saved to "
                      "output_dir/label_list.txt and reused by later runs).", **kw)
  flags.DEFINE_bool("regression", False, "[bert_tf] tsv/csv: labels are float scores (one output, "
                    "MSE loss, Pearson/Spearman in eval_results.txt).", **kw)

  flags.DEFINE_string("bert_hub_module_handle", None,
                      "[bert_tf] A TF Hub module (local directory; TF1 hub module, TF2 SavedModel "
                      "encoder or keras-hub preset) to fine-tune instead of --init_checkpoint; its "
                      "vocab and casing replace --vocab_file, --bert_config_file and "
                      "--do_lower_case (as run_classifier_with_tfhub.py).", **kw)
  flags.DEFINE_string("export_dir", None,
                      "[bert_tf] After training/eval/predict, write a serving SavedModel of the "
                      "classifier here: raw text in (serving_default: text_a; serving_pair: "
                      "text_a, text_b), probabilities out; tokenization runs in the graph.", **kw)


def job_from_flags():
  from bert_tf.classifier.options import ClassifierJob
  job = runtime.job_from_flags(ClassifierJob)
  job.generic_options = {
      "text_a_column": FLAGS.text_a_column, "text_b_column": FLAGS.text_b_column,
      "label_column": FLAGS.label_column, "guid_column": FLAGS.guid_column,
      "has_header": FLAGS.has_header, "labels": FLAGS.labels, "is_regression": FLAGS.regression,
      "data_dir": FLAGS.data_dir, "output_dir": FLAGS.output_dir}
  return job


def main(argv=None):
  """The program: `python run_classifier.py` and the `bert-run-classifier` command."""
  define_flags(sys.argv[0])
  cli.run_job("classifier", job_from_flags, REQUIRED, argv=argv, doc=__doc__)
