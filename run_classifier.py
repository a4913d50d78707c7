"""google-research/bert's run_classifier.py: the program is bert_tf.scripts.run_classifier."""

from bert_tf.scripts import run_classifier

if __name__ == "__main__":
  run_classifier.main()
else:  # imported for its flags, as run_classifier_with_tfhub.py does (like the original)
  run_classifier.define_flags(__name__)
  job_from_flags = run_classifier.job_from_flags
