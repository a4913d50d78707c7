"""Masked-LM + next-sentence pretraining: google-research/bert's run_pretraining.py on TF 2.21.

The original flags (same names, types, defaults, help) and bert_tf's additive
options; all the work happens in bert_tf.pretraining.job.run.
"""

import sys

from absl import flags

from bert_tf import cli, runtime

FLAGS = flags.FLAGS

REQUIRED = ("input_file", "bert_config_file", "output_dir")

# Where run_pretraining words a shared flag differently from run_classifier.
_RUNTIME_HELP = {
    "seed": ("[bert_tf] Random seed (initialisation, dropout, input "
             "order); with it, two runs give identical results."),
    "lr_schedule": ("[bert_tf] 'original': the update at global_step k uses the learning rate of "
                    "step k+1, as the TF1 code ran; 'intended': schedule(k)."),
    "gradient_accumulation_steps": ("[bert_tf] Accumulate gradients over N batches before each "
                                    "update."),
    "use_xla": "[bert_tf] Compile the training step with XLA.",
    "distribution": "[bert_tf] tf.distribute strategy when not on TPU (see run_classifier.py).",
    "trim_padding": ("[bert_tf] Cut each batch to its longest real sequence (exact). Ignored on "
                     "TPU."),
}


def define_flags(module_name):
  """Defines run_pretraining's flags, listed under `module_name` in --help."""
  kw = dict(module_name=module_name)

  ## Required parameters
  flags.DEFINE_string(
      "bert_config_file", None,
      "The config json file corresponding to the pre-trained BERT model. "
      "This specifies the model architecture.", **kw)
  flags.DEFINE_string(
      "input_file", None,
      "Input TF example files (can be a glob or comma separated).", **kw)
  flags.DEFINE_string(
      "output_dir", None,
      "The output directory where the model checkpoints will be written.", **kw)

  ## Other parameters
  flags.DEFINE_string(
      "init_checkpoint", None,
      "Initial checkpoint (usually from a pre-trained BERT model).", **kw)
  flags.DEFINE_integer(
      "max_seq_length", 128,
      "The maximum total input sequence length after WordPiece tokenization. "
      "Sequences longer than this will be truncated, and sequences shorter "
      "than this will be padded. Must match data generation.", **kw)
  flags.DEFINE_integer(
      "max_predictions_per_seq", 20,
      "Maximum number of masked LM predictions per sequence. "
      "Must match data generation.", **kw)
  flags.DEFINE_bool("do_train", False, "Whether to run training.", **kw)
  flags.DEFINE_bool("do_eval", False, "Whether to run eval on the dev set.", **kw)
  flags.DEFINE_integer("train_batch_size", 32, "Total batch size for training.", **kw)
  flags.DEFINE_integer("eval_batch_size", 8, "Total batch size for eval.", **kw)
  flags.DEFINE_float("learning_rate", 5e-5, "The initial learning rate for Adam.", **kw)
  flags.DEFINE_integer("num_train_steps", 100000, "Number of training steps.", **kw)
  flags.DEFINE_integer("num_warmup_steps", 10000, "Number of warmup steps.", **kw)
  flags.DEFINE_integer("max_eval_steps", 100, "Maximum number of eval steps.", **kw)
  # save_checkpoints_steps, iterations_per_loop, the TPU flags, then bert_tf's additions
  # (seed ... trim_padding), shared with run_classifier.py.
  runtime.define_runtime_flags(module_name, help_texts=_RUNTIME_HELP)


def job_from_flags():
  from bert_tf.pretraining.options import PretrainingJob
  return runtime.job_from_flags(PretrainingJob)


def main(argv=None):
  """The program: `python run_pretraining.py` and the `bert-run-pretraining` command."""
  define_flags(sys.argv[0])
  cli.run_job("pretraining", job_from_flags, REQUIRED, argv=argv, doc=__doc__)
