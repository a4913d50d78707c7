"""BERT question answering on SQuAD 1.1 / 2.0: google-research/bert's run_squad.py on TF 2.21 +
Keras 3.

The flags below are the original's (same names, types, defaults and help),
followed by bert_tf's additive options whose defaults keep the original
behaviour.  All the work happens in bert_tf.squad.job.run.
"""

import sys

from absl import flags

from bert_tf import cli, runtime

FLAGS = flags.FLAGS

REQUIRED = ("vocab_file", "bert_config_file", "output_dir")


# run_squad's words for the runtime flags whose default help names run_classifier's settings.
_RUNTIME_HELP = {
    "allow_resume_mismatch": (
        "[bert_tf] Continue the checkpoint in --output_dir even though it was made by a run "
        "started with other settings (bert_config.json, vocab, casing, max_seq_length, "
        "doc_stride, max_query_length, version_2_with_negative; see "
        "output_dir/run_config.json) or does not fit the model: what fits is loaded, the rest "
        "starts from its initial value. Without it such a resume is refused."),
}


def define_flags(module_name):
  """Defines run_squad's flags, listed under `module_name` in --help."""
  kw = dict(module_name=module_name)

  ## Required parameters
  flags.DEFINE_string(
      "bert_config_file", None,
      "The config json file corresponding to the pre-trained BERT model. "
      "This specifies the model architecture.", **kw)
  flags.DEFINE_string("vocab_file", None,
                      "The vocabulary file that the BERT model was trained on.", **kw)
  flags.DEFINE_string(
      "output_dir", None,
      "The output directory where the model checkpoints will be written.", **kw)

  ## Other parameters
  flags.DEFINE_string("train_file", None,
                      "SQuAD json for training. E.g., train-v1.1.json", **kw)
  flags.DEFINE_string(
      "predict_file", None,
      "SQuAD json for predictions. E.g., dev-v1.1.json or test-v1.1.json", **kw)
  flags.DEFINE_string(
      "init_checkpoint", None,
      "Initial checkpoint (usually from a pre-trained BERT model).", **kw)
  flags.DEFINE_bool(
      "do_lower_case", True,
      "Whether to lower case the input text. Should be True for uncased "
      "models and False for cased models.", **kw)
  flags.DEFINE_integer(
      "max_seq_length", 384,
      "The maximum total input sequence length after WordPiece tokenization. "
      "Sequences longer than this will be truncated, and sequences shorter "
      "than this will be padded.", **kw)
  flags.DEFINE_integer(
      "doc_stride", 128,
      "When splitting up a long document into chunks, how much stride to "
      "take between chunks.", **kw)
  flags.DEFINE_integer(
      "max_query_length", 64,
      "The maximum number of tokens for the question. Questions longer than "
      "this will be truncated to this length.", **kw)
  flags.DEFINE_bool("do_train", False, "Whether to run training.", **kw)
  flags.DEFINE_bool("do_predict", False, "Whether to run eval on the dev set.", **kw)
  flags.DEFINE_integer("train_batch_size", 32, "Total batch size for training.", **kw)
  flags.DEFINE_integer("predict_batch_size", 8,
                       "Total batch size for predictions.", **kw)
  flags.DEFINE_float("learning_rate", 5e-5, "The initial learning rate for Adam.", **kw)
  flags.DEFINE_float("num_train_epochs", 3.0,
                     "Total number of training epochs to perform.", **kw)
  flags.DEFINE_float(
      "warmup_proportion", 0.1,
      "Proportion of training to perform linear learning rate warmup for. "
      "E.g., 0.1 = 10% of training.", **kw)
  flags.DEFINE_integer(
      "n_best_size", 20,
      "The total number of n-best predictions to generate in the "
      "nbest_predictions.json output file.", **kw)
  flags.DEFINE_integer(
      "max_answer_length", 30,
      "The maximum length of an answer that can be generated. This is needed "
      "because the start and end predictions are not conditioned on one another.", **kw)
  flags.DEFINE_bool(
      "verbose_logging", False,
      "If true, all of the warnings related to data processing will be printed. "
      "A number of warnings are expected for a normal SQuAD evaluation.", **kw)
  flags.DEFINE_bool(
      "version_2_with_negative", False,
      "If true, the SQuAD examples contain some that do not have an answer.", **kw)
  flags.DEFINE_float(
      "null_score_diff_threshold", 0.0,
      "If null_score - best_non_null is greater than the threshold predict null.", **kw)
  # save_checkpoints_steps, iterations_per_loop, the TPU flags, then bert_tf's additions
  # (seed ... allow_resume_mismatch), shared with run_classifier.py and run_pretraining.py.
  runtime.define_runtime_flags(module_name, help_texts=_RUNTIME_HELP)

  ## bert_tf additions (defaults keep the original behaviour)
  flags.DEFINE_string(
      "logits_file", None,
      "[bert_tf] With --do_predict: post-process this logits.npz (written to output_dir by "
      "every prediction) instead of running the model, e.g. to try another "
      "--null_score_diff_threshold in seconds. Needs no checkpoint; the predict_file, vocab, "
      "do_lower_case, max_seq_length, doc_stride and max_query_length must be those of the "
      "run that wrote it.", **kw)
  flags.DEFINE_string(
      "export_dir", None,
      "[bert_tf] After training/predicting, write a serving SavedModel of the model here: "
      "raw question and context strings in (serving_default), the answer, its character "
      "offsets in the context, its score, the null decision (2.0) and the logits out; the "
      "tokenization, windows and answer selection run in the graph with this run's "
      "settings.", **kw)


def job_from_flags():
  from bert_tf.squad.options import SquadJob
  return runtime.job_from_flags(SquadJob)


def main(argv=None):
  """The program: `python run_squad.py` and the `bert-run-squad` command."""
  define_flags(sys.argv[0])
  cli.run_job("squad", job_from_flags, REQUIRED, argv=argv, doc=__doc__)
