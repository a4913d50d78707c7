"""Question answering on SQuAD 1.1 / 2.0, exact to google-research/bert's run_squad.py.

examples (reading SQuAD JSON), features (windows), records (TFRecords and
tf.data), postprocess (answers from logits, logits.npz), evaluate (official
SQuAD metrics).
"""
