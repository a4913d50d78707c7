"""Predict a fine-tuned classifier's labels for new text (predict.py's library).

`load_classifier(...)` finds the checkpoint (the newest `model.ckpt-N` of a
run_classifier `output_dir`, or an explicit `init_checkpoint`), the label
order (the task's `get_labels()`, `label_list.txt` for --task_name=tsv/csv, or
an explicit list) and the model settings (arguments, else the output dir's
`run_config.json` when present), and returns a `ClassifierPredictor`.  Its
features are run_classifier's own (`convert_single_example`: same tokenizer,
truncation and padding to max_seq_length) and its model call is
run_classifier's predict step (`BertClassifier`, padding trimmed exactly,
`classifier_outputs`), so the probabilities equal test_results.tsv for the
same text.  `SavedModelPredictor` does the same through a serving SavedModel
written by bert_tf.interop.serving (in-graph tokenization).  `format_predictions`
prints either as predict.py does.

Shapes: N = number of texts, S = max_seq_length, K = labels.
"""

import collections
import json
import os

import numpy as np
import tensorflow as tf

from bert_tf import checkpoints, forward, modeling, restore, tokenization
from bert_tf.data.examples import InputExample, is_regression_label_list
from bert_tf.data.features import convert_single_example
from bert_tf.inference import model_dir, settings
from bert_tf.inference.settings import InputError
from bert_tf.inference.text_input import as_inputs, where

# convert_single_example logs the examples whose ex_index is below 5; prediction
# passes indexes from here on so that it does not log every run's first texts.
_FIRST_UNLOGGED_INDEX = 5
_SEQ_SPEC = tf.TensorSpec([None, None], tf.int32)
_FEATURES_SPEC = {"input_ids": _SEQ_SPEC, "input_mask": _SEQ_SPEC, "segment_ids": _SEQ_SPEC}


Predictions = collections.namedtuple("Predictions", ["labels", "values", "is_regression"])
Predictions.__doc__ = """Classifier outputs for N texts.

labels: N predicted label strings (the argmax), or None for regression.
values: float32 [N,K] probabilities in label-list order, or [N] predictions
  for a regression model.
"""


class ClassifierPredictor(object):
  """A fine-tuned BertClassifier, loaded once, that predicts on raw text.

  Args:
    bert_config_file, vocab_file, do_lower_case, max_seq_length: as for
      run_classifier.py (they must be the fine-tuning run's).  max_seq_length
      None: the model's max_position_embeddings (texts are truncated only where
      the model ends; padding is trimmed by the forward loop).
    max_seq_length_from: the file max_seq_length was read from (None: the
      flag), for the error when it is longer than the model allows.
    checkpoint: a fine-tuned checkpoint (prefix, file or directory).
    label_list: the labels in id order, or [None] for a regression model.
  """

  def __init__(self, bert_config_file, vocab_file, checkpoint, label_list,
               do_lower_case=True, max_seq_length=None, max_seq_length_from=None):
    self.config = settings.load_config(bert_config_file, max_seq_length, max_seq_length_from)
    self.tokenizer = settings.load_tokenizer(vocab_file, do_lower_case, self.config,
                                             bert_config_file)
    self.max_seq_length = settings.model_length(self.config, max_seq_length)
    self.bert_config_file = bert_config_file
    self.label_list = list(label_list)
    self.is_regression = is_regression_label_list(self.label_list)
    self.num_labels = 1 if self.is_regression else len(self.label_list)
    self.checkpoint = checkpoints.resolve_checkpoint(checkpoint)
    have = restore.classifier_outputs_of(self.checkpoint)
    if have != self.num_labels:
      raise InputError("%s: the classifier has %d outputs but the label list has %d labels" %
                       (self.checkpoint, have, self.num_labels))
    # run_classifier's model switches: per-token layers on the real tokens only and the
    # GELU as one XLA kernel per bucketed shape (exact; modeling.BertModel).
    self.model = modeling.BertClassifier(self.config, self.num_labels, skip_padding=True,
                                         fused_gelu=True)
    self.model.build()
    restore.restore(self.model.original_variables(), self.checkpoint, "classifier")
    num_labels = self.num_labels

    def predict_step(features):
      # run_classifier's predict step: trimmed padding (exact, by the loop), then
      # classifier_outputs.
      logits = self.model(features, training=False)
      labels = tf.zeros(tf.shape(logits)[:1], tf.float32 if num_labels == 1 else tf.int32)
      return modeling.classifier_outputs(logits, labels, num_labels)["probabilities"]

    self._forward = forward.Forward(predict_step, input_signature=_FEATURES_SPEC, trim=True)

  def features(self, inputs, log_examples=False):
    """TextInputs -> {input_ids, input_mask, segment_ids}: int32 [N,S], built by
    bert_tf.data.features.convert_single_example exactly as run_classifier does."""
    dummy = "0" if self.is_regression else self.label_list[0]
    columns = {"input_ids": [], "input_mask": [], "segment_ids": []}
    offset = 0 if log_examples else _FIRST_UNLOGGED_INDEX
    for i, x in enumerate(inputs):
      example = InputExample("predict-%d" % i, x.text_a, x.text_b, dummy)
      f = convert_single_example(i + offset, example, self.label_list,
                                 self.max_seq_length, self.tokenizer)
      for key in columns:
        columns[key].append(getattr(f, key))
    return {k: np.asarray(v, np.int32).reshape(-1, self.max_seq_length)
            for k, v in columns.items()}

  def predict_features(self, features, batch_size=32):
    """int [N,S] features -> float32 [N,K] probabilities ([N] for regression)."""
    return self._forward.run(features, batch_size).astype(np.float32)

  def predict(self, texts, batch_size=32):
    """Texts (strings with an optional tab, (a, b) pairs, or TextInputs) -> Predictions."""
    inputs = as_inputs(texts)
    self.config.check_pairs(self.bert_config_file,
                            next((where(x) for x in inputs if x.text_b), None))
    values = self.predict_features(self.features(inputs), batch_size)
    if self.is_regression:
      return Predictions(None, values, True)
    return Predictions([self.label_list[i] for i in np.argmax(values, axis=-1)], values, False)


class SavedModelPredictor(object):
  """The same predictions through a serving SavedModel written by bert_tf.interop.serving.

  Uses its `serving_default` signature (text_a) and, for sentence pairs, a
  signature taking text_a and text_b (`serving_pair`, or `serving_default`
  itself when it takes both).  Tokenization, truncation and max_seq_length are
  the SavedModel's own.
  """

  def __init__(self, saved_model_dir):
    if not os.path.isfile(os.path.join(saved_model_dir, "saved_model.pb")):
      raise InputError("%s: not a SavedModel directory (no saved_model.pb)" % saved_model_dir)
    try:
      self._loaded = tf.saved_model.load(saved_model_dir)
    except (tf.errors.OpError, ValueError, OSError) as e:
      msg = str(getattr(e, "message", e)).strip().splitlines()
      raise InputError("%s: cannot load the SavedModel (%s)" %
                       (saved_model_dir, msg[0] if msg else type(e).__name__))
    signatures = self._loaded.signatures
    if "serving_default" not in signatures:
      raise InputError("%s: SavedModel has no serving_default signature" % saved_model_dir)
    self._single = signatures["serving_default"]
    self._pair = None
    for name in ("serving_default", "serving_pair"):
      if name in signatures and {"text_a", "text_b"} <= set(self._arg_names(signatures[name])):
        self._pair = signatures[name]
        break
    outputs = self._single.structured_outputs
    if "probabilities" in outputs:
      self.is_regression = False
    elif "predictions" in outputs:
      self.is_regression = True
    else:
      raise InputError("%s: serving_default returns neither probabilities nor predictions" %
                       saved_model_dir)
    self.saved_model_dir = saved_model_dir

  @staticmethod
  def _arg_names(signature):
    return list(signature.structured_input_signature[1].keys())

  def _call(self, inputs):
    if any(x.text_b for x in inputs):
      if self._pair is None:
        raise InputError("%s: the SavedModel has no signature for sentence pairs (text_a, "
                         "text_b)" % self.saved_model_dir)
      out = self._pair(text_a=tf.constant([x.text_a for x in inputs]),
                       text_b=tf.constant([x.text_b or "" for x in inputs]))
    elif "text_b" in self._arg_names(self._single):
      out = self._single(text_a=tf.constant([x.text_a for x in inputs]),
                         text_b=tf.constant([""] * len(inputs)))
    else:
      out = self._single(text_a=tf.constant([x.text_a for x in inputs]))
    return out

  def predict(self, texts, batch_size=32):
    inputs = as_inputs(texts)
    labels, values = [], []
    for sl in forward.batch_slices(len(inputs), batch_size):
      out = self._call(inputs[sl])
      if self.is_regression:
        values.append(np.reshape(out["predictions"].numpy(), [-1]))
      else:
        values.append(out["probabilities"].numpy())
        if "label" in out:
          labels.extend(v.decode("utf-8") for v in out["label"].numpy())
        else:
          labels.extend(str(i) for i in np.argmax(values[-1], axis=-1))
    values = np.concatenate(values, axis=0).astype(np.float32)
    return Predictions(None if self.is_regression else labels, values, self.is_regression)


def load_classifier(output_dir=None, init_checkpoint=None, bert_config_file=None,
                    vocab_file=None, task_name=None, do_lower_case=None, max_seq_length=None,
                    labels=None):
  """A ClassifierPredictor for a fine-tuned model, settings filled in from the run.

  The checkpoint is `init_checkpoint` if given, else the newest one in
  `output_dir`.  Each of bert_config_file, vocab_file, task_name,
  do_lower_case, max_seq_length left None is read from `output_dir`'s
  run_config.json when there is one (else do_lower_case=True, as
  run_classifier's default, and max_seq_length = the model's
  max_position_embeddings: a text is truncated only where the model ends).  The label list is
  `labels`, else run_config.json's label_list, else the task's get_labels()
  (label_list.txt of output_dir, or of the checkpoint's directory, for tsv/csv).
  """
  checkpoint = model_dir.find_checkpoint(output_dir, init_checkpoint)
  label_dir = output_dir or os.path.dirname(checkpoint)
  saved = model_dir.read_run_config(label_dir)
  bert_config_file = bert_config_file or saved.get("bert_config_file")
  vocab_file = vocab_file or saved.get("vocab_file")
  same_task = not task_name or task_name.lower() == str(saved.get("task_name", "")).lower()
  if labels is None and same_task and saved.get("label_list"):
    labels = saved["label_list"]
  task_name = task_name or saved.get("task_name")
  if do_lower_case is None:
    do_lower_case = bool(saved.get("do_lower_case", True))
  asked_by = None  # the flag
  if max_seq_length is None and saved.get("max_seq_length") is not None:
    max_seq_length = int(saved["max_seq_length"])
    asked_by = os.path.join(label_dir, model_dir.RUN_CONFIG_FILE)
  for flag, value in (("bert_config_file", bert_config_file), ("vocab_file", vocab_file)):
    if not value:
      raise InputError("--%s is required (as for run_classifier.py)" % flag)
  tokenization.validate_case_matches_checkpoint(do_lower_case, init_checkpoint)
  label_list = model_dir.resolve_labels(restore.classifier_outputs_of(checkpoint), labels,
                                        task_name, label_dir)
  return ClassifierPredictor(bert_config_file, vocab_file, checkpoint, label_list,
                             do_lower_case=do_lower_case, max_seq_length=max_seq_length,
                             max_seq_length_from=asked_by)


def format_predictions(inputs, predictions, output_format="tsv"):
  """One output line (no newline) per input.

  tsv:  label<TAB>p_0<TAB>...<TAB>p_K-1<TAB>text_a[<TAB>text_b]  (probabilities
        in label-list order, printed like test_results.tsv); regression:
        prediction<TAB>text_a[<TAB>text_b].
  json: {"text_a", "text_b" (pairs only), "label", "probabilities": [K floats]}
        or {"text_a", "text_b", "prediction"} for regression.
  """
  if output_format not in ("tsv", "json"):
    raise InputError("unknown output format %r (tsv, json)" % output_format)
  lines = []
  for i, x in enumerate(inputs):
    value = predictions.values[i]
    if output_format == "tsv":
      cells = [str(np.float32(value))] if predictions.is_regression else \
          [predictions.labels[i]] + [str(p) for p in np.atleast_1d(value)]
      cells.append(x.text_a)
      if x.text_b is not None:
        cells.append(x.text_b)
      lines.append("\t".join(cells))
    else:
      obj = {"text_a": x.text_a}
      if x.text_b is not None:
        obj["text_b"] = x.text_b
      if predictions.is_regression:
        obj["prediction"] = float(value)
      else:
        obj["label"] = predictions.labels[i]
        obj["probabilities"] = [float(p) for p in np.atleast_1d(value)]
      lines.append(json.dumps(obj, ensure_ascii=False))
  return lines
