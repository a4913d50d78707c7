"""google-research/bert's create_pretraining_data.py: the program is
bert_tf.scripts.create_pretraining_data."""

from bert_tf.scripts import create_pretraining_data

if __name__ == "__main__":
  create_pretraining_data.main()
