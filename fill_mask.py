"""bert_tf's fill_mask.py: the program is bert_tf.scripts.fill_mask."""

from bert_tf.scripts import fill_mask

if __name__ == "__main__":
  fill_mask.main()
