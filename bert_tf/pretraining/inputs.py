"""The `--input_file` / `--output_file` lists of create_pretraining_data.py.

`expand_input_patterns` splits the comma list and globs each item in
`tf.io.gfile.glob` order (the order the original reads the files in);
`split_output_files` checks the outputs before any input is read.  `glob`
re-states TensorFlow's local glob with libc's fnmatch(3) so that the fast path
does not import TensorFlow (about 6 s) for the common patterns;
tests/pretraining/test_inputs.py compares it with `tf.io.gfile.glob`.
"""

import ctypes
import ctypes.util
import os

from bert_tf.data.tfrecord import is_remote
from bert_tf.errors import InputError  # noqa: F401  (raised here)

_WILDCARD_CHARS = "*?[\\"


_FNM_PATHNAME = 1
_fnmatch_cache = []


def _load_libc_fnmatch():
  """libc's fnmatch(3), the matcher TensorFlow's local glob uses; None if absent."""
  try:
    function = ctypes.CDLL(None).fnmatch
  except (OSError, AttributeError):
    try:
      function = ctypes.CDLL(ctypes.util.find_library("c")).fnmatch
    except (OSError, AttributeError, TypeError):
      return None
  function.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int)
  function.restype = ctypes.c_int
  return function


def _libc_fnmatch():
  if not _fnmatch_cache:
    _fnmatch_cache.append(_load_libc_fnmatch())
  return _fnmatch_cache[0]


def glob(pattern):
  """`tf.io.gfile.glob(pattern)`, without importing TensorFlow in common cases.

  A pattern without wildcards, or with wildcards only in its last component, is
  resolved here exactly as TensorFlow resolves it; anything else (remote paths,
  wildcards in directory names, a trailing "/") is passed to TensorFlow.
  """
  if not pattern:
    return []
  has_wildcard = any(c in pattern for c in _WILDCARD_CHARS)
  if not has_wildcard and not is_remote(pattern):
    # Without wildcards TF returns the pattern itself if it exists.
    return [pattern] if os.path.exists(pattern) else []
  directory = os.path.dirname(pattern)
  if (is_remote(pattern) or _libc_fnmatch() is None or pattern.endswith("/") or
      any(c in directory for c in _WILDCARD_CHARS)):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    return list(tf.io.gfile.glob(pattern))
  return _glob_last_component(pattern)


def _glob_last_component(pattern):
  """TensorFlow's local glob for wildcards in the last path component, re-stated.

  The directory is listed in directory-listing order (not sorted) and a child
  is kept when fnmatch(3) with FNM_PATHNAME accepts "directory/child" (hidden
  files included).  A pattern without a directory is matched as "./pattern",
  so its results start with "./", as TensorFlow's do.
  """
  directory = os.path.dirname(pattern)
  if not directory:
    directory = "."
    pattern = os.path.join(directory, pattern)
  try:
    children = os.listdir(directory)
  except OSError:
    return []
  encoded_pattern = os.fsencode(pattern)
  fnmatch = _libc_fnmatch()
  results = []
  for child in children:
    path = os.path.join(directory, child)
    if fnmatch(encoded_pattern, os.fsencode(path), _FNM_PATHNAME) == 0:
      results.append(path)
  return results


def expand_input_patterns(input_file):
  """Splits the comma list of `--input_file` and globs each item, in order.

  Unlike the original (which silently skips it), a pattern that matches no file
  raises InputError naming it.
  """
  input_files = []
  for pattern in input_file.split(","):
    matches = glob(pattern)
    if not matches:
      raise InputError("--input_file pattern %r matches no file" % pattern)
    for path in matches:
      if not is_remote(path) and os.path.isdir(path):
        raise InputError("--input_file pattern %r matches the directory %s" %
                         (pattern, path))
    input_files.extend(matches)
  return input_files


def split_output_files(output_file):
  """Splits the comma list of `--output_file`; checks local directories exist."""
  output_files = output_file.split(",")
  for path in output_files:
    if not path:
      raise InputError("--output_file %r has an empty item" % output_file)
    if is_remote(path):
      continue
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
      raise InputError("output directory %s (for %s) does not exist" %
                       (directory, path))
    if os.path.isdir(path):
      raise InputError("output file %s is a directory" % path)
  return output_files
