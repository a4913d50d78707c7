"""SavedModel plumbing shared by the formats: Keras 3 variables in, a SavedModel's variables out.

Writing: the exported object tracks the tf.Variable inside each Keras 3
variable (`tf_variables`) and reaches the model through `Untracked`, so
TF1-style loaders (saved_model_cli, TF Serving) find every variable.  Reading:
`saved_model_variables` lists a loaded TF2 object's variables,
`read_saved_model_proto` parses saved_model.pb without loading it.
"""

import os

import tensorflow as tf


class Untracked(object):
  """Holds a Keras model out of the SavedModel's object graph.

  A tracked Keras 3 variable is written twice (the KerasVariable and the
  tf.Variable inside it) and only one copy is restored by TF1-style loaders
  (saved_model_cli, TF Serving), which then fail with "Could not find
  variable".  So the exported object tracks the inner tf.Variables directly and
  the functions reach the model through this untracked holder.
  """

  def __init__(self, model):
    self.model = model


def tf_variables(keras_variables):
  """The tf.Variable inside each Keras 3 variable (plain tf.Variables pass through)."""
  return [getattr(v, "value", v) if not isinstance(v, tf.Variable) else v
          for v in keras_variables]


def saved_model_variables(obj):
  """(all variables, trainable variables) of a loaded TF2 SavedModel object.

  Keras-saved models (Google's encoders) and our exports list them as
  `variables` / `trainable_variables`; otherwise they are collected from the
  restored functions' captures.
  """
  variables = list(getattr(obj, "variables", None) or [])
  trainable = list(getattr(obj, "trainable_variables", None) or [])
  if not variables:
    seen = {}
    fns = list(getattr(obj, "signatures", {}).values())
    call = getattr(obj, "__call__", None)
    if call is not None and hasattr(call, "concrete_functions"):
      fns += list(call.concrete_functions)
    for fn in fns:
      for v in fn.variables:
        seen.setdefault(id(v), v)
    variables = list(seen.values())
  if not trainable:
    trainable = [v for v in variables if v.trainable]
  return variables, trainable


def read_saved_model_proto(path):
  """The SavedModel proto of `path`/saved_model.pb (meta graphs, signatures, object graph)."""
  from tensorflow.core.protobuf import saved_model_pb2  # pylint: disable=g-import-not-at-top
  proto = saved_model_pb2.SavedModel()
  with open(os.path.join(path, "saved_model.pb"), "rb") as f:
    proto.ParseFromString(f.read())
  return proto
