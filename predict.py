"""bert_tf's predict.py: the program is bert_tf.scripts.predict."""

from bert_tf.scripts import predict

if __name__ == "__main__":
  predict.main()
