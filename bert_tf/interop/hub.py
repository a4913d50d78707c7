"""Loading a hub encoder: a handle resolved to a local directory, its format detected.

`load_hub_encoder(handle)` takes a local directory (or a URL / hub handle,
resolved through `tensorflow_hub.resolve`, which only works with internet
access or a warm TFHUB_CACHE_DIR) and calls the loader of the format it finds:
a TF1 Hub module (bert_tf.interop.tf1_hub_module), a keras-hub preset
(keras_hub_preset) or a TF2 SavedModel (tf2_encoder).  The result is a
`HubEncoder` (bert_tf.interop.hub_encoder).
"""

import os
import re

from bert_tf.interop import HubError
from bert_tf.interop import keras_hub_preset
from bert_tf.interop import saved_model
from bert_tf.interop import tf1_hub_module
from bert_tf.interop import tf2_encoder


def _is_url(handle):
  return bool(re.match(r"^[a-z][a-z0-9+.\-]*://", handle)) and not handle.startswith("file://")


def resolve_handle(handle):
  """A local directory for `handle` (a path, a file:// URL, or a URL / hub handle).

  URLs go through tensorflow_hub.resolve (which uses TFHUB_CACHE_DIR); without
  internet access that fails, and the error says how to pass a local copy.
  """
  if not handle:
    raise HubError("no hub module handle given")
  if handle.startswith("file://"):
    handle = handle[len("file://"):]
  if not _is_url(handle):
    path = os.path.expanduser(handle)
    if not os.path.isdir(path):
      raise HubError("%s: hub module directory not found" % handle)
    return path
  try:
    import tensorflow_hub as hub  # pylint: disable=g-import-not-at-top
    return hub.resolve(handle)
  except Exception as e:  # pylint: disable=broad-except
    reason = str(e).strip().splitlines()
    raise HubError(
        "cannot download %s here (%s): fetch and extract the module on a machine with "
        "internet access, copy it here and pass --bert_hub_module_handle=/path/to/extracted/"
        "module" % (handle, (reason[0][:200] if reason else type(e).__name__)))


def load_hub_encoder(handle, num_attention_heads=None):
  """Loads a BERT encoder from a TF1 Hub module, a TF2 SavedModel or a keras-hub preset.

  handle: a local directory, file:// URL, or URL / hub handle (needs internet
  or a cached copy).  num_attention_heads: only for TF1 modules without our
  bert_config.json asset whose A is not H/64.  Returns a HubEncoder.
  """
  path = resolve_handle(handle)
  if os.path.exists(os.path.join(path, "tfhub_module.pb")):
    return tf1_hub_module.load_tf1_module(path, num_attention_heads)
  if os.path.exists(os.path.join(path, "config.json")) and \
      os.path.exists(os.path.join(path, "metadata.json")):
    return keras_hub_preset.load_keras_hub_preset(path)
  if os.path.exists(os.path.join(path, "saved_model.pb")):
    proto = saved_model.read_saved_model_proto(path)
    if any(m.object_graph_def.nodes for m in proto.meta_graphs):
      return tf2_encoder.load_tf2_saved_model(path, num_attention_heads)
    raise HubError("%s: a TF1 SavedModel without tfhub_module.pb is not a hub module" % path)
  if any(f.endswith(".ckpt.index") for f in os.listdir(path)):
    raise HubError("%s: this is an original checkpoint directory, not a hub module; use "
                   "--init_checkpoint/--bert_config_file/--vocab_file" % path)
  raise HubError("%s: no saved_model.pb, tfhub_module.pb or keras-hub preset found" % path)
