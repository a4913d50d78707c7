"""google-research/bert's run_classifier_with_tfhub.py: the program is
bert_tf.scripts.run_classifier_with_tfhub."""

from bert_tf.scripts import run_classifier_with_tfhub

if __name__ == "__main__":
  run_classifier_with_tfhub.main()
