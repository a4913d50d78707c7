"""google-research/bert's extract_features.py: the program is bert_tf.scripts.extract_features."""

from bert_tf.scripts import extract_features

if __name__ == "__main__":
  extract_features.main()
