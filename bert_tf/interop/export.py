"""export_model.py's one call: an original checkpoint written out in one of the interop formats.

`export_model` checks everything before a model is built (that export_dir may
be written: missing, empty or an earlier export of ours, and not holding an
input; the config, the vocab size against it, that the checkpoint exists),
then hands the checkpoint to the format's writer: the three encoder formats
read the encoder weights straight from the checkpoint; "classifier" restores
a fine-tuned BertClassifier and writes the serving SavedModel.  Every writer
publishes atomically, so an earlier export_dir survives a failed run.
"""

import os

from absl import logging

from bert_tf import checkpoints, modeling, restore, tokenization
from bert_tf.configuration import BertConfig
from bert_tf.interop import keras_hub_preset
from bert_tf.interop import serving
from bert_tf.interop import tf1_hub_module
from bert_tf.interop import tf2_encoder

_ENCODER_WRITERS = {
    "tf2_encoder": tf2_encoder.export_tf2_encoder,
    "tf1_hub_module": tf1_hub_module.export_tf1_hub_module,
    "keras_hub_preset": keras_hub_preset.export_keras_hub_preset,
}
FORMATS = tuple(_ENCODER_WRITERS) + ("classifier",)
_DEFAULT_SERVING_LENGTH = 128  # run_classifier's default max_seq_length


def _restore_classifier(config, num_labels, ckpt):
  """A built BertClassifier with every variable restored from `ckpt` (else CheckpointError)."""
  # Per-token layers on the real tokens only (exact; core TensorFlow ops, so the export
  # still loads without bert_tf).
  model = modeling.BertClassifier(config, num_labels, skip_padding=True)
  model.build()
  restore.restore(model.original_variables(), ckpt, "classifier",
                  lacks=lambda prefix, missing: "%s: checkpoint lacks %s; export a fine-tuned "
                  "classifier checkpoint" % (prefix, ", ".join(missing[:3])))
  return model


def export_model(format, bert_config_file, init_checkpoint, vocab_file, do_lower_case,
                 export_dir, label_list=None, is_regression=False, max_seq_length=None):
  """Writes the checkpoint `init_checkpoint` to `export_dir` in `format` (one of FORMATS).

  init_checkpoint: a checkpoint prefix or a directory with a `checkpoint` file.
  label_list, is_regression, max_seq_length: only for format="classifier"
  (label_list: the task's labels in id order; required unless is_regression;
  max_seq_length None: 128, or the model's max_position_embeddings when smaller).
  export_dir may be missing, empty or an earlier export of ours (replaced); any
  other directory, or one holding the inputs, is refused before any work.
  Returns export_dir.
  """
  # The export directory first: an export may replace only an earlier export of ours (or an
  # empty directory), never the user's files or the files it is made from.
  checkpoints.check_can_publish(export_dir, inputs=(
      ("--init_checkpoint", init_checkpoint), ("--vocab_file", vocab_file),
      ("--bert_config_file", bert_config_file)))
  config = BertConfig.from_json_file(bert_config_file)
  tokenization.check_vocab(tokenization.read_vocab_tokens(vocab_file), vocab_file,
                           vocab_size=config.vocab_size, bert_config_file=bert_config_file)
  ckpt = checkpoints.resolve_checkpoint(init_checkpoint)
  if format == "classifier":
    if max_seq_length is None:
      max_seq_length = min(_DEFAULT_SERVING_LENGTH, config.max_position_embeddings)
    config.check_requested_length(max_seq_length, bert_config_file)
    if is_regression:
      labels = []
    elif not label_list:
      raise ValueError("--label_list is required with --format=classifier (or pass "
                       "--is_regression)")
    else:
      labels = list(label_list)
    model = _restore_classifier(config, 1 if is_regression else len(labels), ckpt)
    serving.export_classifier(model, vocab_file, do_lower_case, max_seq_length, labels,
                              export_dir, is_regression=is_regression,
                              source=os.path.abspath(ckpt))
  else:
    _ENCODER_WRITERS[format](config, ckpt, vocab_file, do_lower_case, export_dir)
  logging.info("Exported %s to %s", format, export_dir)
  return export_dir
