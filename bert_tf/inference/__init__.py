"""Inference on new text with a trained model: one concept per module.

  text_input  the input lines: one text or a tab-separated pair (predict.py,
              fill_mask.py), `text_a ||| text_b` (extract_features.py)
  settings    bert_config.json + max_seq_length, vocab.txt + vocab size; InputError
  model_dir   a fine-tuning run's checkpoint, run_config.json and label order
  forward     the one forward loop: a model function over batches -> numpy
  predictor   a fine-tuned classifier's labels (checkpoint or serving SavedModel)
  masked_lm   [MASK] filling with the pre-training head
  extract     per-token activations of chosen encoder layers

Models are restored through bert_tf.restore.  The scripts predict.py,
fill_mask.py and extract_features.py only turn flags into calls of these
modules; everything takes plain arguments so it can be used from Python too.
"""
