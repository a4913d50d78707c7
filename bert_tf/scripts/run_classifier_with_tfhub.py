"""BERT fine-tuning from a TF Hub module: google-research/bert's run_classifier_with_tfhub.py.

All run_classifier flags exist (as in the original, which imports run_classifier);
`--bert_hub_module_handle` is required, and the tokenizer (vocab, casing) and the
model come from the module, so --vocab_file, --bert_config_file, --init_checkpoint
and --do_lower_case are ignored.  A URL handle needs the internet; on an offline
machine pass the extracted module's local directory.
"""

from absl import flags

from bert_tf import cli
from bert_tf.scripts import run_classifier

FLAGS = flags.FLAGS

REQUIRED = ("data_dir", "task_name", "bert_hub_module_handle", "output_dir")


def define_flags():
  """Defines the run_classifier flags, listed under `run_classifier` in --help (as the
  original's `import run_classifier` lists them)."""
  run_classifier.define_flags("run_classifier")


def check_before_tensorflow():
  """The original's first check, then run_classifier's checks that need no TensorFlow."""
  if not FLAGS.do_train and not FLAGS.do_eval:
    raise ValueError("At least one of `do_train` or `do_eval` must be True.")
  from bert_tf.classifier import options
  options.check_before_tensorflow(run_classifier.job_from_flags())


def run(_):
  from bert_tf.classifier import job as classifier_job  # pylint: disable=g-import-not-at-top
  classifier_job.run(run_classifier.job_from_flags())


def main(argv=None):
  """The program: `python run_classifier_with_tfhub.py` and `bert-run-classifier-with-tfhub`."""
  define_flags()
  for name in REQUIRED:
    flags.mark_flag_as_required(name)
  cli.run(run, argv=argv, doc=__doc__, check_before_tensorflow=check_before_tensorflow)
