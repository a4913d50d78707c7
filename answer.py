"""bert_tf's answer.py: the program is bert_tf.scripts.answer."""

from bert_tf.scripts import answer

if __name__ == "__main__":
  answer.main()
