"""Inference on new text: a fine-tuned classifier's labels, and [MASK] filling.

The scripts predict.py and fill_mask.py only turn flags into calls of the
functions below; everything takes plain arguments so it can be used from
Python as well.

Classifier (predict.py):
  `load_classifier(...)` finds the checkpoint (the newest `model.ckpt-N` of a
  run_classifier `output_dir`, or an explicit `init_checkpoint`), the label
  order (the task's `get_labels()`, `label_list.txt` for --task_name=tsv/csv,
  or an explicit list) and the model settings (arguments, else the output
  dir's `run_config.json` when present), and returns a `ClassifierPredictor`.
  Its features are run_classifier's own (`convert_single_example`: same
  tokenizer, truncation and padding to max_seq_length) and its model call is
  run_classifier's predict step (`BertClassifier`, padding trimmed exactly,
  `classifier_outputs`), so the probabilities equal test_results.tsv for the
  same text.  `SavedModelPredictor` does the same through a serving SavedModel
  written by bert_tf.export (in-graph tokenization).

Masked LM (fill_mask.py):
  `MaskedLM` loads the encoder and the checkpoint's `cls/predictions` head (the
  original masked-LM head: dense + LayerNorm, logits against the tied word
  embeddings plus `output_bias`, log_softmax) and `fill_mask(...)` returns the
  top-k tokens and probabilities for every literal `[MASK]` in the text.  The
  text is split on the literal "[MASK]" and the pieces are tokenized apart,
  because the original BasicTokenizer would split "[MASK]" into "[", "mask",
  "]".

Input lines: one text, or two texts separated by one tab (a sentence pair:
text_a, text_b).  Blank lines are skipped.

Shapes: N = number of texts, B = batch, S = sequence length, K = labels,
M = masks per text, V = vocab size.
"""

import collections
import json
import os

import numpy as np
import tensorflow as tf

from bert_tf import checkpoints, modeling, tokenization, training
from bert_tf.configuration import BertConfig
from bert_tf.data.examples import REGRESSION_LABELS, InputExample, is_regression_label_list
from bert_tf.data.features import convert_single_example
from bert_tf.data.tasks import get_processor

MASK_TOKEN = "[MASK]"
RUN_CONFIG_FILE = "run_config.json"
# The keys of run_config.json that load_classifier reads (others are ignored).
RUN_CONFIG_KEYS = ("task_name", "bert_config_file", "vocab_file", "do_lower_case",
                   "max_seq_length", "label_list")
DEFAULT_MAX_SEQ_LENGTH = 128
# convert_single_example logs the examples whose ex_index is below 5; prediction
# passes indexes from here on so that it does not log every run's first texts.
_FIRST_UNLOGGED_INDEX = 5
_SEQ_SPEC = tf.TensorSpec([None, None], tf.int32)


class InputError(ValueError):
  """Unusable input text or settings; the message is one line."""


class MissingHeadError(checkpoints.CheckpointError):
  """The checkpoint lacks the head a tool needs (cls/predictions, output_weights)."""


TextInput = collections.namedtuple("TextInput", ["text_a", "text_b", "line"])


# ----------------------------------------------------------------------------
# Input lines
# ----------------------------------------------------------------------------


def parse_lines(lines, source="<stdin>"):
  """Text lines -> [TextInput(text_a, text_b or None, line number)].

  A line is one text, or two texts separated by one tab; a trailing "\\n" or
  "\\r\\n" is dropped, blank lines are skipped, and an empty second text
  ("a<TAB>") means a single text (as the original's `if example.text_b`).

  Raises:
    InputError: a line with more than one tab, or no text at all.
  """
  out = []
  for number, line in enumerate(lines, 1):
    line = line.rstrip("\n").rstrip("\r")
    if not line.strip():
      continue
    parts = line.split("\t")
    if len(parts) > 2:
      raise InputError(
          "%s line %d: %d tabs; a line is one text, or two texts (a sentence pair) separated "
          "by one tab" % (source, number, len(parts) - 1))
    text_b = parts[1] if len(parts) == 2 and parts[1] else None
    out.append(TextInput(parts[0], text_b, number))
  if not out:
    raise InputError("%s: empty input, no text to process" % source)
  return out


def read_input_lines(input_file=None, stdin=None):
  """TextInputs of `input_file` ("-" or None: `stdin`, default sys.stdin)."""
  if input_file and input_file != "-":
    try:
      with open(input_file, "r", encoding="utf-8", newline="") as f:
        lines = f.read().split("\n")
    except FileNotFoundError:
      raise InputError("%s: input file not found; pass a UTF-8 text file with one text per "
                       "line, or leave out --input_file to read stdin" % input_file)
    except PermissionError:
      raise InputError("%s: cannot read the file (Permission denied)" % input_file)
    except IsADirectoryError:
      raise InputError("%s: is a directory, expected a text file" % input_file)
    except UnicodeDecodeError as e:
      raise InputError("%s: not UTF-8 text (byte %d)" % (input_file, e.start))
    return parse_lines(lines, input_file)
  if stdin is None:
    import sys  # pylint: disable=g-import-not-at-top
    stdin = sys.stdin
  data = stdin.buffer.read() if hasattr(stdin, "buffer") else stdin.read()
  if isinstance(data, bytes):
    try:
      data = data.decode("utf-8")
    except UnicodeDecodeError as e:
      raise InputError("<stdin>: not UTF-8 text (byte %d)" % e.start)
  return parse_lines(data.replace("\r\n", "\n").split("\n"), "<stdin>")


def as_inputs(texts, source="text"):
  """Strings (a tab separating a pair), (a, b) tuples or TextInputs -> [TextInput]."""
  if isinstance(texts, (str, TextInput)):
    texts = [texts]
  lines, out = [], []
  for text in texts:
    if isinstance(text, TextInput):
      out.append(text)
    elif isinstance(text, (tuple, list)):
      a, b = (list(text) + [None])[:2]
      out.append(TextInput(a, b or None, len(out) + 1))
    else:
      lines.append(text)
  if lines:
    if out:
      raise InputError("give texts as strings or as (text_a, text_b) pairs, not both")
    return parse_lines(lines, source)
  if not out:
    raise InputError("%s: empty input, no text to process" % source)
  return out


# ----------------------------------------------------------------------------
# Shared model helpers
# ----------------------------------------------------------------------------


def _load_config(bert_config_file, max_seq_length):
  config = BertConfig.from_json_file(bert_config_file)
  if max_seq_length > config.max_position_embeddings:
    raise InputError(
        "Cannot use sequence length %d because the BERT model was only trained up to sequence "
        "length %d" % (max_seq_length, config.max_position_embeddings))
  return config


def _load_tokenizer(vocab_file, do_lower_case, config, bert_config_file, needed=()):
  tokenizer = tokenization.FullTokenizer(vocab_file=vocab_file, do_lower_case=do_lower_case)
  tokenization.check_vocab_size(tokenizer.vocab, config.vocab_size, vocab_file,
                                bert_config_file)
  for token in ("[CLS]", "[SEP]") + tuple(needed):
    if token not in tokenizer.vocab:
      raise InputError("%s: the vocab has no %s token" % (vocab_file, token))
  return tokenizer


def _restore(variables, prefix, what):
  """init_from_checkpoint, then a one-line error if any variable was not in it."""
  restored = checkpoints.init_from_checkpoint(variables, prefix, log=False)
  missing = sorted(set(variables) - restored)
  if missing:
    raise checkpoints.CheckpointError(
        "%s: checkpoint lacks %d variable(s) of the %s (%s%s)" %
        (prefix, len(missing), what, ", ".join(missing[:3]), ", ..." if len(missing) > 3 else ""))


def _batches(n, batch_size):
  if batch_size < 1:
    raise InputError("batch_size must be at least 1, got %d" % batch_size)
  for start in range(0, n, batch_size):
    yield slice(start, min(n, start + batch_size))


# ----------------------------------------------------------------------------
# Classifier
# ----------------------------------------------------------------------------


Predictions = collections.namedtuple("Predictions", ["labels", "values", "is_regression"])
Predictions.__doc__ = """Classifier outputs for N texts.

labels: N predicted label strings (the argmax), or None for regression.
values: float32 [N,K] probabilities in label-list order, or [N] predictions
  for a regression model.
"""


def read_run_config(directory):
  """The settings run_classifier saved in `directory/run_config.json`, or {}.

  Only RUN_CONFIG_KEYS are returned.  Relative file paths are taken relative
  to `directory`.
  """
  if not directory:
    return {}
  path = os.path.join(directory, RUN_CONFIG_FILE)
  if not os.path.isfile(path):
    return {}
  try:
    with open(path, "r", encoding="utf-8") as f:
      obj = json.load(f)
  except (OSError, UnicodeDecodeError, ValueError) as e:
    raise InputError("%s: unreadable (%s)" % (path, str(e).splitlines()[0] if str(e) else
                                               type(e).__name__))
  if not isinstance(obj, dict):
    raise InputError("%s: expected a JSON object" % path)
  out = {k: obj[k] for k in RUN_CONFIG_KEYS if obj.get(k) is not None}
  for key in ("bert_config_file", "vocab_file"):
    if key in out and not os.path.isabs(out[key]):
      out[key] = os.path.join(directory, out[key])
  return out


def find_checkpoint(output_dir=None, init_checkpoint=None):
  """`init_checkpoint` if given, else the newest model.ckpt-N of `output_dir`."""
  if init_checkpoint:
    return checkpoints.resolve_checkpoint(init_checkpoint)
  if not output_dir:
    raise InputError("no model: pass --output_dir (a run_classifier output directory) or "
                     "--init_checkpoint (a fine-tuned checkpoint)")
  if not os.path.isdir(output_dir):
    raise InputError("%s: --output_dir does not exist" % output_dir)
  latest = checkpoints.latest_checkpoint(output_dir)
  if not latest:
    raise InputError(
        "%s: no checkpoint (model.ckpt-N) in this directory; fine-tune first with "
        "run_classifier.py --do_train --output_dir=%s, or pass --init_checkpoint" %
        (output_dir, output_dir))
  return latest


def classifier_outputs_of(checkpoint):
  """K, the number of outputs of a fine-tuned checkpoint's `output_weights` [K,H]."""
  prefix, reader = checkpoints.open_checkpoint(checkpoint)
  shapes = reader.get_variable_to_shape_map()
  if "output_weights" not in shapes:
    raise MissingHeadError(
        "%s: checkpoint has no classifier head (output_weights/output_bias); predict needs a "
        "checkpoint fine-tuned by run_classifier.py, not a pre-trained one" % prefix)
  return int(shapes["output_weights"][0])


def resolve_labels(num_outputs, labels=None, task_name=None, label_dir=None):
  """The label list (id order) of a K-output classifier; [None] for regression.

  labels: an explicit list or comma-separated string (wins).  Otherwise the
  task's `get_labels()`; for --task_name=tsv/csv that is `label_dir`'s
  label_list.txt, written by the training run.  A one-output model is
  regression (STS-B, or tsv/csv with --regression).
  """
  if num_outputs == 1:
    return list(REGRESSION_LABELS)
  if labels is not None:
    if isinstance(labels, str):
      labels = labels.split(",")
    labels = [str(x).strip() for x in labels]
    if not all(labels) or len(set(labels)) != len(labels):
      raise InputError("labels must be distinct and non-empty, got %r" % (labels,))
  elif task_name:
    processor = get_processor(task_name, output_dir=label_dir)
    if getattr(processor, "is_regression", False):
      raise InputError("task %s is a regression task (one output) but the checkpoint has %d "
                       "outputs" % (task_name, num_outputs))
    labels = processor.get_labels()
  else:
    raise InputError("no label list: pass --task_name (as for run_classifier.py), or --labels")
  if len(labels) != num_outputs:
    raise InputError(
        "the checkpoint's classifier has %d outputs but the label list %s has %d labels; check "
        "--task_name / --labels" % (num_outputs, labels, len(labels)))
  return labels


class ClassifierPredictor(object):
  """A fine-tuned BertClassifier, loaded once, that predicts on raw text.

  Args:
    bert_config_file, vocab_file, do_lower_case, max_seq_length: as for
      run_classifier.py (they must be the fine-tuning run's).
    checkpoint: a fine-tuned checkpoint (prefix, file or directory).
    label_list: the labels in id order, or [None] for a regression model.
  """

  def __init__(self, bert_config_file, vocab_file, checkpoint, label_list,
               do_lower_case=True, max_seq_length=DEFAULT_MAX_SEQ_LENGTH):
    self.config = _load_config(bert_config_file, max_seq_length)
    self.tokenizer = _load_tokenizer(vocab_file, do_lower_case, self.config, bert_config_file)
    self.max_seq_length = max_seq_length
    self.label_list = list(label_list)
    self.is_regression = is_regression_label_list(self.label_list)
    self.num_labels = 1 if self.is_regression else len(self.label_list)
    self.checkpoint = checkpoints.resolve_checkpoint(checkpoint)
    have = classifier_outputs_of(self.checkpoint)
    if have != self.num_labels:
      raise InputError("%s: the classifier has %d outputs but the label list has %d labels" %
                       (self.checkpoint, have, self.num_labels))
    self.model = modeling.BertClassifier(self.config, self.num_labels)
    self.model.build()
    _restore(self.model.original_variables(), self.checkpoint, "classifier")
    num_labels = self.num_labels

    @tf.function(input_signature=[{"input_ids": _SEQ_SPEC, "input_mask": _SEQ_SPEC,
                                   "segment_ids": _SEQ_SPEC}])
    def predict_step(features):
      # run_classifier's predict step: trimmed padding (exact), then classifier_outputs.
      logits = self.model(training.trim_padding(features), training=False)
      labels = tf.zeros(tf.shape(logits)[:1], tf.float32 if num_labels == 1 else tf.int32)
      return modeling.classifier_outputs(logits, labels, num_labels)["probabilities"]

    self._predict_step = predict_step

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
    n = len(features["input_ids"])
    out = [self._predict_step({k: tf.constant(v[sl], tf.int32) for k, v in features.items()})
           .numpy() for sl in _batches(n, batch_size)]
    return np.concatenate(out, axis=0).astype(np.float32)

  def predict(self, texts, batch_size=32):
    """Texts (strings with an optional tab, (a, b) pairs, or TextInputs) -> Predictions."""
    inputs = as_inputs(texts)
    values = self.predict_features(self.features(inputs), batch_size)
    if self.is_regression:
      return Predictions(None, values, True)
    return Predictions([self.label_list[i] for i in np.argmax(values, axis=-1)], values, False)


class SavedModelPredictor(object):
  """The same predictions through a serving SavedModel written by bert_tf.export.

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
    for sl in _batches(len(inputs), batch_size):
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
  run_config.json when there is one (else do_lower_case=True,
  max_seq_length=128, as run_classifier's defaults).  The label list is
  `labels`, else run_config.json's label_list, else the task's get_labels()
  (label_list.txt of output_dir, or of the checkpoint's directory, for tsv/csv).
  """
  checkpoint = find_checkpoint(output_dir, init_checkpoint)
  label_dir = output_dir or os.path.dirname(checkpoint)
  saved = read_run_config(label_dir)
  bert_config_file = bert_config_file or saved.get("bert_config_file")
  vocab_file = vocab_file or saved.get("vocab_file")
  same_task = not task_name or task_name.lower() == str(saved.get("task_name", "")).lower()
  if labels is None and same_task and saved.get("label_list"):
    labels = saved["label_list"]
  task_name = task_name or saved.get("task_name")
  if do_lower_case is None:
    do_lower_case = bool(saved.get("do_lower_case", True))
  if max_seq_length is None:
    max_seq_length = int(saved.get("max_seq_length", DEFAULT_MAX_SEQ_LENGTH))
  for flag, value in (("bert_config_file", bert_config_file), ("vocab_file", vocab_file)):
    if not value:
      raise InputError("--%s is required (as for run_classifier.py)" % flag)
  tokenization.validate_case_matches_checkpoint(do_lower_case, init_checkpoint)
  label_list = resolve_labels(classifier_outputs_of(checkpoint), labels, task_name, label_dir)
  return ClassifierPredictor(bert_config_file, vocab_file, checkpoint, label_list,
                             do_lower_case=do_lower_case, max_seq_length=max_seq_length)


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


# ----------------------------------------------------------------------------
# Masked LM
# ----------------------------------------------------------------------------


MaskedText = collections.namedtuple(
    "MaskedText", ["tokens", "input_ids", "segment_ids", "mask_positions"])
MaskedText.__doc__ = """A text with [MASK]s as model input (unpadded).

tokens: `[CLS] A [SEP] (B [SEP])`; input_ids/segment_ids: ints of the same
length; mask_positions: the indexes of the [MASK] tokens, in order.
"""


def _where(text_input):
  """'line N ("start of the text...")' for error messages."""
  text = text_input.text_a if text_input.text_b is None else \
      text_input.text_a + "\t" + text_input.text_b
  return "line %d (%s)" % (text_input.line, json.dumps(text if len(text) <= 40 else
                                                       text[:37] + "...", ensure_ascii=False))


def tokenize_with_masks(tokenizer, text):
  """FullTokenizer tokens of `text` with every literal "[MASK]" kept as one token.

  The text is split on "[MASK]" and the pieces are tokenized apart (the
  BasicTokenizer alone would give "[", "mask", "]").
  """
  pieces = text.split(MASK_TOKEN)
  tokens = []
  for i, piece in enumerate(pieces):
    if i:
      tokens.append(MASK_TOKEN)
    tokens.extend(tokenizer.tokenize(piece))
  return tokens


class MaskedLM(object):
  """An encoder with the checkpoint's masked-LM head `cls/predictions`, loaded once.

  Args:
    bert_config_file, vocab_file, do_lower_case: the pre-trained model's.
    init_checkpoint: a checkpoint with bert/* and cls/predictions/* variables
      (Google's bert_model.ckpt, run_pretraining.py's model.ckpt-N).
    max_seq_length: longer texts are truncated as run_classifier truncates;
      a [MASK] cut off this way is an error.

  Raises:
    MissingHeadError: the checkpoint has no cls/predictions/* variables.
  """

  def __init__(self, bert_config_file, vocab_file, init_checkpoint, do_lower_case=True,
               max_seq_length=DEFAULT_MAX_SEQ_LENGTH):
    self.config = _load_config(bert_config_file, max_seq_length)
    self.tokenizer = _load_tokenizer(vocab_file, do_lower_case, self.config, bert_config_file,
                                     needed=(MASK_TOKEN,))
    self.max_seq_length = max_seq_length
    prefix, reader = checkpoints.open_checkpoint(init_checkpoint)
    if not any(name.startswith("cls/predictions/") for name in reader.get_variable_to_shape_map()):
      raise MissingHeadError(
          "%s: checkpoint has no masked-LM head (no cls/predictions/* variables), so it cannot "
          "fill in [MASK]; use a pre-trained checkpoint that keeps it (Google's bert_model.ckpt, "
          "run_pretraining.py's output), not a fine-tuned or encoder-only one" % prefix)
    self.checkpoint = prefix
    self.bert = modeling.BertModel(self.config)
    self.mlm = modeling.MaskedLMHead(self.config, self.bert.get_embedding_table, name="mlm")
    self.bert.build()
    self.mlm.build()
    variables = dict(self.bert.original_variables())
    variables.update(self.mlm.original_variables())
    _restore(variables, prefix, "encoder and masked-LM head")

    @tf.function(input_signature=[{"input_ids": _SEQ_SPEC, "input_mask": _SEQ_SPEC,
                                   "segment_ids": _SEQ_SPEC, "masked_lm_positions": _SEQ_SPEC}])
    def probabilities_step(features):
      features = training.trim_padding(features)
      sequence_output = self.bert(features, training=False)["sequence_output"]
      log_probs = self.mlm(sequence_output, features["masked_lm_positions"])  # [B*M,V]
      shape = tf.shape(features["masked_lm_positions"])
      return tf.reshape(tf.exp(log_probs), [shape[0], shape[1], -1])

    self._probabilities_step = probabilities_step

  def probabilities(self, input_ids, input_mask, segment_ids, masked_lm_positions):
    """int [B,S] inputs and [B,M] positions -> float32 [B,M,V] = exp(cls/predictions
    log_softmax) at each position (run_pretraining's masked_lm_log_probs, exponentiated)."""
    features = {"input_ids": input_ids, "input_mask": input_mask, "segment_ids": segment_ids,
                "masked_lm_positions": masked_lm_positions}
    return self._probabilities_step(
        {k: tf.constant(np.asarray(v), tf.int32) for k, v in features.items()}).numpy()

  def encode(self, text_a, text_b=None, where="text"):
    """One text (or pair) with literal [MASK]s -> MaskedText.

    Raises InputError when there is no [MASK], or when truncation to
    max_seq_length (the longer side loses its last token first, as
    run_classifier) would cut one off.
    """
    tokens_a = tokenize_with_masks(self.tokenizer, text_a)
    tokens_b = tokenize_with_masks(self.tokenizer, text_b) if text_b else []
    num_masks = tokens_a.count(MASK_TOKEN) + tokens_b.count(MASK_TOKEN)
    if not num_masks:
      raise InputError("%s: no %s in the text; write the literal upper-case %s where a word is "
                       "to be predicted" % (where, MASK_TOKEN, MASK_TOKEN))
    total = len(tokens_a) + len(tokens_b)
    budget = self.max_seq_length - (3 if tokens_b else 2)
    while len(tokens_a) + len(tokens_b) > budget:
      if len(tokens_a) > len(tokens_b):
        tokens_a.pop()
      else:
        tokens_b.pop()
    if tokens_a.count(MASK_TOKEN) + tokens_b.count(MASK_TOKEN) != num_masks:
      raise InputError("%s: the text has %d tokens and a %s falls past --max_seq_length=%d; "
                       "shorten the text or raise --max_seq_length" %
                       (where, total, MASK_TOKEN, self.max_seq_length))
    tokens = ["[CLS]"] + tokens_a + ["[SEP]"]
    segment_ids = [0] * len(tokens)
    if tokens_b:
      tokens += tokens_b + ["[SEP]"]
      segment_ids += [1] * (len(tokens_b) + 1)
    positions = [i for i, t in enumerate(tokens) if t == MASK_TOKEN]
    return MaskedText(tokens, self.tokenizer.convert_tokens_to_ids(tokens), segment_ids,
                      positions)

  def fill(self, texts, top_k=5, batch_size=32):
    """Texts with [MASK]s -> one dict per text:

      {"text_a", "text_b" (pairs only), "tokens": [...],
       "masks": [{"position": i, "predictions": [{"token", "probability"}] * top_k}]}

    masks in text order, predictions by decreasing probability (ties: lower id).
    """
    if top_k < 1:
      raise InputError("top_k must be at least 1, got %d" % top_k)
    inputs = as_inputs(texts)
    encoded = [self.encode(x.text_a, x.text_b, where=_where(x)) for x in inputs]
    k = min(top_k, self.config.vocab_size)
    results = []
    for sl in _batches(len(encoded), batch_size):
      batch = encoded[sl]
      seq = max(len(e.input_ids) for e in batch)
      num_masks = max(len(e.mask_positions) for e in batch)
      arrays = {name: np.zeros([len(batch), seq], np.int32)
                for name in ("input_ids", "input_mask", "segment_ids")}
      positions = np.zeros([len(batch), num_masks], np.int32)
      for row, e in enumerate(batch):
        n = len(e.input_ids)
        arrays["input_ids"][row, :n] = e.input_ids
        arrays["input_mask"][row, :n] = 1
        arrays["segment_ids"][row, :n] = e.segment_ids
        positions[row, :len(e.mask_positions)] = e.mask_positions
      probs = self.probabilities(arrays["input_ids"], arrays["input_mask"],
                                 arrays["segment_ids"], positions)
      for row, (x, e) in enumerate(zip(inputs[sl], batch)):
        masks = []
        for m, position in enumerate(e.mask_positions):
          p = probs[row, m]
          best = np.argsort(-p, kind="stable")[:k]
          tokens = self.tokenizer.convert_ids_to_tokens([int(i) for i in best])
          masks.append({"position": position, "predictions": [
              {"token": t, "probability": float(p[i])} for t, i in zip(tokens, best)]})
        result = {"text_a": x.text_a}
        if x.text_b is not None:
          result["text_b"] = x.text_b
        result["tokens"] = list(e.tokens)
        result["masks"] = masks
        results.append(result)
    return results


def fill_mask(texts, bert_config_file, vocab_file, init_checkpoint, do_lower_case=True,
              top_k=5, max_seq_length=DEFAULT_MAX_SEQ_LENGTH, batch_size=32):
  """Top-k predictions for every literal [MASK] of `texts` (see MaskedLM.fill).

  texts: a string, or a list of strings (a tab separates a sentence pair) or
  (text_a, text_b) tuples.  The inputs are checked before the model loads.
  """
  inputs = as_inputs(texts)
  for x in inputs:
    if MASK_TOKEN not in x.text_a and MASK_TOKEN not in (x.text_b or ""):
      raise InputError("%s: no %s in the text; write the literal upper-case %s where a word "
                       "is to be predicted" % (_where(x), MASK_TOKEN, MASK_TOKEN))
  model = MaskedLM(bert_config_file, vocab_file, init_checkpoint, do_lower_case=do_lower_case,
                   max_seq_length=max_seq_length)
  return model.fill(inputs, top_k=top_k, batch_size=batch_size)


def format_fill_results(results, output_format="text"):
  """Output lines (no newline) for MaskedLM.fill results.

  text: the input, then one line per [MASK]: "  [MASK] 1: mat 0.9512  rug 0.0123 ...".
  json: one JSON object per input (the result dict without tokens).
  """
  if output_format not in ("text", "json"):
    raise InputError("unknown output format %r (text, json)" % output_format)
  lines = []
  for r in results:
    if output_format == "json":
      obj = {k: v for k, v in r.items() if k != "tokens"}
      lines.append(json.dumps(obj, ensure_ascii=False))
      continue
    lines.append(r["text_a"] if r.get("text_b") is None else r["text_a"] + "\t" + r["text_b"])
    for i, mask in enumerate(r["masks"], 1):
      best = "  ".join("%s %.4f" % (p["token"], p["probability"]) for p in mask["predictions"])
      lines.append("  %s %d: %s" % (MASK_TOKEN, i, best))
  return lines
