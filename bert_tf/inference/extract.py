"""extract_features.py's library: per-token activations of chosen encoder layers.

Same input and output as google-research/bert `extract_features.py`:

* input: one example per line; `text_a ||| text_b` (the regex
  `^(.*) \\|\\|\\| (.*)$` on the stripped line) makes a pair.  unique_id = the
  0-based line number (read by text_input.read_examples).
* features as the original: [CLS] a [SEP] (b [SEP]); a pair is truncated with
  bert_tf.data.features.pair_layout (truncate_seq_pair) to max_seq_length - 3,
  a single text to max_seq_length - 2;
  `input_type_ids` 0 for a, 1 for b.
* output: JSON lines `{"linex_index": id, "features": [{"token": t, "layers":
  [{"index": li, "values": [round(x, 6), ...H]}, ...]}, ...]}` for the real
  tokens only ([CLS]/[SEP] included), json.dumps defaults (ASCII escapes).

The model is built and restored once (bert_tf.restore) and run in batches of
`batch_size` by the forward loop (bert_tf.forward); only the requested
layers leave the graph.
"""

import collections
import json
import os

import numpy as np
import tensorflow as tf
from absl import logging

from bert_tf import forward, modeling, restore
from bert_tf.data.features import pair_layout
from bert_tf.inference import settings, text_input


class InputFeatures(object):
  """tokens (list of str, real tokens only) and int lists of length max_seq_length."""

  def __init__(self, unique_id, tokens, input_ids, input_mask, input_type_ids):
    self.unique_id = unique_id
    self.tokens = tokens
    self.input_ids = input_ids
    self.input_mask = input_mask
    self.input_type_ids = input_type_ids


def convert_examples_to_features(examples, seq_length, tokenizer):
  """[InputExample] -> [InputFeatures] with the original layout and padding."""
  features = []
  for ex_index, example in enumerate(examples):
    tokens_a = tokenizer.tokenize(example.text_a)
    tokens_b = tokenizer.tokenize(example.text_b) if example.text_b else None
    tokens, input_type_ids = pair_layout(tokens_a, tokens_b, "[CLS]", "[SEP]", seq_length)
    input_ids = tokenizer.convert_tokens_to_ids(tokens)
    input_mask = [1] * len(input_ids)
    pad = seq_length - len(input_ids)
    input_ids += [0] * pad
    input_mask += [0] * pad
    input_type_ids += [0] * pad
    if ex_index < 5:
      logging.info("*** Example ***")
      logging.info("unique_id: %s", example.unique_id)
      logging.info("tokens: %s", " ".join(tokens))
      logging.info("input_ids: %s", " ".join(str(x) for x in input_ids))
      logging.info("input_mask: %s", " ".join(str(x) for x in input_mask))
      logging.info("input_type_ids: %s", " ".join(str(x) for x in input_type_ids))
    features.append(InputFeatures(example.unique_id, tokens, input_ids, input_mask,
                                  input_type_ids))
  return features


def _warn_truncated(examples, features, tokenizer, max_seq_length):
  """A warning when texts were cut to max_seq_length (silent in the original)."""
  cut = [e.unique_id for e, f in zip(examples, features)
         if len(f.tokens) == max_seq_length and
         len(tokenizer.tokenize(e.text_a)) + (len(tokenizer.tokenize(e.text_b)) + 1
                                              if e.text_b else 0) + 2 > max_seq_length]
  if cut:
    logging.warning("%d of %d lines were truncated to max_seq_length = %d tokens (first: line "
                    "%d, 0-based as linex_index)", len(cut), len(examples), max_seq_length, cut[0])


def parse_layers(layers):
  """"-1,-2,-3,-4" -> [-1, -2, -3, -4]."""
  try:
    return [int(x) for x in str(layers).split(",")]
  except ValueError:
    raise ValueError("--layers=%s: expected comma-separated layer indexes, e.g. -1,-2,-3,-4"
                     % layers)


def check_layers(layer_indexes, num_layers):
  for li in layer_indexes:
    if not -num_layers <= li < num_layers:
      raise ValueError("--layers index %d is out of range for a model with %d layers (use "
                       "%d..%d; -1 is the last layer)" % (li, num_layers, -num_layers,
                                                          num_layers - 1))


class FeatureExtractor(object):
  """A restored BertModel that returns the chosen `all_encoder_layers`.

  model: a built modeling.BertModel (already holding its weights).
  layer_indexes: indexes into all_encoder_layers (negative counts from the end).
  """

  def __init__(self, model, layer_indexes):
    n = model.config.num_hidden_layers
    check_layers(layer_indexes, n)
    self.model = model
    self.layer_indexes = list(layer_indexes)
    # No padding trim: the original runs every example at max_seq_length.
    self._forward = forward.Forward(self._layers, reduce_retracing=True)

  @classmethod
  def from_checkpoint(cls, config, init_checkpoint, layer_indexes):
    model = modeling.BertModel(config)
    model.build()
    restore.restore(model.original_variables(), init_checkpoint, "encoder",
                    lacks=lambda prefix, missing: "%s: checkpoint lacks %d encoder variables "
                    "(first: %s)" % (init_checkpoint, len(missing), missing[0]))
    return cls(model, layer_indexes)

  def _layers(self, features):
    layers = self.model(features, training=False)["all_encoder_layers"]
    return tf.stack([layers[li] for li in self.layer_indexes], axis=1)  # [B,J,S,H]

  @staticmethod
  def _arrays(input_ids, input_mask, input_type_ids):
    return {"input_ids": np.asarray(input_ids, np.int32),
            "input_mask": np.asarray(input_mask, np.int32),
            "segment_ids": np.asarray(input_type_ids, np.int32)}

  def layer_outputs(self, input_ids, input_mask, input_type_ids):
    """int [B,S] arrays -> float32 [J,B,S,H] (J = len(layer_indexes))."""
    out = self._forward.run([self._arrays(input_ids, input_mask, input_type_ids)])
    return np.moveaxis(out, 1, 0)

  def predict(self, features, batch_size):
    """Yields (feature, float32 [J,S,H]) in input order, batch by batch."""
    starts = range(0, len(features), batch_size)
    batches = (self._arrays([f.input_ids for f in features[s:s + batch_size]],
                            [f.input_mask for f in features[s:s + batch_size]],
                            [f.input_type_ids for f in features[s:s + batch_size]])
               for s in starts)
    for start, out in zip(starts, self._forward.iterate(batches)):
      for i, feature in enumerate(features[start:start + batch_size]):
        yield feature, out[i]


def feature_json(unique_id, tokens, layer_indexes, layer_values):
  """One output line (without "\\n"); layer_values float [J,S,H]."""
  all_features = []
  for i, token in enumerate(tokens):
    all_layers = []
    for j, layer_index in enumerate(layer_indexes):
      layer = collections.OrderedDict()
      layer["index"] = layer_index
      layer["values"] = [round(float(x), 6) for x in layer_values[j][i]]
      all_layers.append(layer)
    feature = collections.OrderedDict()
    feature["token"] = token
    feature["layers"] = all_layers
    all_features.append(feature)
  output = collections.OrderedDict()
  output["linex_index"] = unique_id
  output["features"] = all_features
  return json.dumps(output)


def extract_features(input_file, output_file, config, init_checkpoint, vocab_file,
                     do_lower_case=True, layers="-1,-2,-3,-4", max_seq_length=None,
                     batch_size=32, bert_config_file="bert_config.json"):
  """The whole extract_features.py run; returns the number of lines written.

  max_seq_length None (not asked for): the original's 128, or the model's
  max_position_embeddings when that is smaller -- the original's output
  wherever the original runs, and a run instead of an error on a model with
  fewer positions.  One asked for must fit the model.
  """
  layer_indexes = parse_layers(layers) if isinstance(layers, str) else list(layers)
  # Everything is checked before the input is tokenized and before output_file is touched.
  if max_seq_length is not None:
    config.check_requested_length(max_seq_length, bert_config_file)
  else:
    max_seq_length = settings.model_length(config, None, settings.DEFAULT_MAX_SEQ_LENGTH)
    logging.info("max_seq_length = %d (--max_seq_length not given: %d, capped at the model's "
                 "max_position_embeddings %d)", max_seq_length, settings.DEFAULT_MAX_SEQ_LENGTH,
                 config.max_position_embeddings)
  check_layers(layer_indexes, config.num_hidden_layers)
  tokenizer = settings.load_tokenizer(vocab_file, do_lower_case, config, bert_config_file)
  remote = "://" in output_file  # gs:// etc.: written in place through tf.io.gfile
  if not remote:
    output_file = os.path.abspath(output_file)
    try:
      os.makedirs(os.path.dirname(output_file), exist_ok=True)
    except OSError as e:
      raise ValueError("%s: cannot create the output file's directory (%s)" %
                       (output_file, e.strerror))
  if tf.io.gfile.isdir(output_file):
    raise ValueError("%s: is a directory; --output_file must name a file" % output_file)
  extractor = FeatureExtractor.from_checkpoint(config, init_checkpoint, layer_indexes)
  examples = text_input.read_examples(input_file)
  config.check_pairs(bert_config_file, next(("%s line %d" % (input_file, e.unique_id + 1)
                                             for e in examples if e.text_b), None))
  features = convert_examples_to_features(examples, max_seq_length, tokenizer)
  _warn_truncated(examples, features, tokenizer, max_seq_length)
  # Written beside output_file and renamed at the end: a failed run leaves no partial file
  # and an earlier output_file stays as it was.
  tmp = output_file if remote else "%s.tmp-%d" % (output_file, os.getpid())
  count = 0
  try:
    with tf.io.gfile.GFile(tmp, "w") as writer:
      for feature, values in extractor.predict(features, batch_size):
        writer.write(feature_json(feature.unique_id, feature.tokens, layer_indexes, values)
                     + "\n")
        count += 1
    if not remote:
      os.replace(tmp, output_file)
  except BaseException:
    if not remote and os.path.exists(tmp):
      os.remove(tmp)
    raise
  return count
