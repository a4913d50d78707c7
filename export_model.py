"""bert_tf's export_model.py: the program is bert_tf.scripts.export_model."""

from bert_tf.scripts import export_model

if __name__ == "__main__":
  export_model.main()
