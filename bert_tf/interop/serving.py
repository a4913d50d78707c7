"""Serving export: a fine-tuned classifier as a SavedModel that takes raw text.

`export_classifier` writes a TF2 SavedModel whose graph does everything
run_classifier.py does between a TSV row and the logits: the in-graph
tokenizer and feature layout (bert_tf.graph_tokenizer.TextFeaturizer), then
the classifier.  Signatures:

  serving_default  (text_a [B] string)                 -> probabilities [B,K], label [B]
  serving_pair     (text_a [B], text_b [B] string)      -> probabilities [B,K], label [B]
  predict_features (input_ids, input_mask, segment_ids int32 [B,S])
                                                        -> probabilities [B,K], label [B]
  tokenize         (text_a [B])                         -> input_ids, input_mask, segment_ids [B,S]
  tokenize_pair    (text_a [B], text_b [B])             -> input_ids, input_mask, segment_ids [B,S]

For a regression model (is_regression, K == 1) the outputs are `predictions`
[B] instead of `probabilities`/`label`.  In `serving_pair` an empty text_b (or
one that tokenizes to nothing) gives the single-sentence layout, exactly as the
original's `if tokens_b:`.  Loading needs only TensorFlow (no bert_tf, no
tensorflow-text): saved_model_cli and TF Serving run it as it is.
"""

import tensorflow as tf

from bert_tf import checkpoints, training
from bert_tf.graph_tokenizer import TextFeaturizer
from bert_tf.interop import saved_model


class _ClassifierServer(tf.Module):
  """What export_classifier saves: the featurizer, the model's variables, the labels."""

  def __init__(self, model, featurizer, label_list, is_regression, vocab_file):
    super().__init__(name="bert_classifier_server")
    self._holder = saved_model.Untracked(model)
    self.model_variables = saved_model.tf_variables(model.variables)
    self.featurizer = featurizer
    self.is_regression = bool(is_regression)
    self.label_list = tf.constant([str(x) for x in label_list] or [""], tf.string)
    self.vocab_file = tf.saved_model.Asset(vocab_file)
    self.do_lower_case = tf.Variable(featurizer.do_lower_case, trainable=False,
                                     name="do_lower_case")
    self.max_seq_length = tf.Variable(featurizer.max_seq_length, trainable=False,
                                      name="max_seq_length")

  def _outputs(self, features):
    # Padding cut to the batch's longest text (rounded up to 16), as run_classifier's and
    # predict.py's forward loop does: exact, and a request of short texts no longer pays
    # for max_seq_length positions.
    logits = self._holder.model(training.trim_padding(features), training=False)  # [B,K]
    if self.is_regression:
      return {"predictions": logits[:, 0]}
    probs = tf.nn.softmax(logits, axis=-1)
    return {"probabilities": probs,
            "label": tf.gather(self.label_list, tf.argmax(probs, axis=-1))}

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text_a")], autograph=False)
  def serve_text(self, text_a):
    return self._outputs(self.featurizer.encode(text_a))

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text_a"),
                                tf.TensorSpec([None], tf.string, name="text_b")], autograph=False)
  def serve_pair(self, text_a, text_b):
    return self._outputs(self.featurizer.encode_pair(text_a, text_b))

  @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32, name="input_ids"),
                                tf.TensorSpec([None, None], tf.int32, name="input_mask"),
                                tf.TensorSpec([None, None], tf.int32, name="segment_ids")],
                autograph=False)
  def serve_features(self, input_ids, input_mask, segment_ids):
    return self._outputs({"input_ids": input_ids, "input_mask": input_mask,
                          "segment_ids": segment_ids})

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text_a")], autograph=False)
  def tokenize(self, text_a):
    return self.featurizer.encode(text_a)

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text_a"),
                                tf.TensorSpec([None], tf.string, name="text_b")], autograph=False)
  def tokenize_pair(self, text_a, text_b):
    return self.featurizer.encode_pair(text_a, text_b)


def export_classifier(model, vocab_file, do_lower_case, max_seq_length, label_list,
                      export_dir, is_regression=False, source=None):
  """Writes a serving SavedModel of a fine-tuned `BertClassifier` to `export_dir`.

  model: a built modeling.BertClassifier (K = model.num_labels).
  label_list: the task's labels in id order (their strings are returned as
    `label`); ignored for regression.
  source: the checkpoint it came from, recorded in the export's marker file.
  Returns export_dir.  An earlier export there is replaced (a directory that is
  neither empty nor an export of ours is refused: checkpoints.publish_directory).  Loading needs
  only TensorFlow: `tf.saved_model.load(export_dir).signatures["serving_default"]
  (text_a=tf.constant(["..."]))`.
  """
  num_labels = getattr(model, "num_labels", None)
  if is_regression:
    if num_labels not in (None, 1):
      raise ValueError("is_regression needs a model with one output, got %d" % num_labels)
  elif num_labels is not None and len(label_list) != num_labels:
    raise ValueError("label_list has %d labels but the model has %d outputs" %
                     (len(label_list), num_labels))
  max_pos = model.config.max_position_embeddings
  if max_seq_length > max_pos:
    raise ValueError("Cannot use sequence length %d because the BERT model was only "
                     "trained up to sequence length %d" % (max_seq_length, max_pos))
  featurizer = TextFeaturizer(vocab_file, do_lower_case, max_seq_length)
  server = _ClassifierServer(model, featurizer, [] if is_regression else label_list,
                             is_regression, vocab_file)
  signatures = {
      "serving_default": server.serve_text.get_concrete_function(),
      "serving_pair": server.serve_pair.get_concrete_function(),
      "predict_features": server.serve_features.get_concrete_function(),
      "tokenize": server.tokenize.get_concrete_function(),
      "tokenize_pair": server.tokenize_pair.get_concrete_function(),
  }
  with checkpoints.publish_directory(export_dir, "classifier", source) as out:
    tf.saved_model.save(server, out, signatures=signatures)
  return export_dir
