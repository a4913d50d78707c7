"""BERT fine-tuning from a TF Hub module: google-research/bert's run_classifier_with_tfhub.py.

All run_classifier flags exist (as in the original, which imports run_classifier);
`--bert_hub_module_handle` is required, and the tokenizer (vocab, casing) and the
model come from the module, so --vocab_file, --bert_config_file, --init_checkpoint
and --do_lower_case are ignored.  A URL handle needs the internet; on an offline
machine pass the extracted module's local directory.
"""

from absl import flags

import run_classifier
from bert_tf import cli

FLAGS = flags.FLAGS


def main(_):
  if not FLAGS.do_train and not FLAGS.do_eval:
    raise ValueError("At least one of `do_train` or `do_eval` must be True.")
  from bert_tf.classifier import job as classifier_job
  job = run_classifier.job_from_flags()
  classifier_job.run(job)


if __name__ == "__main__":
  for name in ("data_dir", "task_name", "bert_hub_module_handle", "output_dir"):
    flags.mark_flag_as_required(name)
  cli.run(main)
