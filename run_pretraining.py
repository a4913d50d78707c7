"""google-research/bert's run_pretraining.py: the program is bert_tf.scripts.run_pretraining."""

from bert_tf.scripts import run_pretraining

if __name__ == "__main__":
  run_pretraining.main()
