"""Original TF1 checkpoints: read by original variable name, write `model.ckpt-N`.

Our Keras variables are addressed by the original names through each model's
`original_variables()` ({"bert/embeddings/word_embeddings": var, ...}), so
reading and writing is a plain name map with no reshapes.

Reading follows the original `get_assignment_map_from_checkpoint` +
`init_from_checkpoint`: a name present in both is restored (shapes must agree),
a name only in the checkpoint (cls/* when fine-tuning, adam_m/adam_v,
global_step) is ignored, and a name only in the model keeps its initial value.

Writing uses the SaveV2 op directly, which produces the same V2 bundle
(`.index` + `.data-00000-of-00001`) that `tf.compat.v1.train.Saver` writes, so
the original code (and anything else reading TF checkpoints) can load it.
Checkpoints are written under a temporary prefix and published by renames, and
the `checkpoint` state file is replaced atomically, so a kill at any moment
leaves the newest listed checkpoint complete.
"""

import contextlib
import errno
import glob
import importlib.metadata
import json
import os
import re
import shutil
import tempfile
import time

import numpy as np
import tensorflow as tf
from absl import logging

from bert_tf import files
from bert_tf.errors import CheckpointError, NonFiniteError  # noqa: F401  (raised here)

_DATA_SUFFIX = re.compile(r"\.data-\d{5}-of-\d{5}$")
_STATE_FILE = "checkpoint"


def _first_line(e):
  msg = str(getattr(e, "message", None) or e).strip().splitlines()
  return msg[0] if msg else type(e).__name__


def _read_tensor(reader, prefix, name):
  """reader.get_tensor(name), with any reader failure as a one-line CheckpointError.

  A truncated or corrupted `.data-*` file makes the C++ reader raise OpError,
  IndexError ("Read less bytes than requested") or ValueError, depending on
  where the damage is.
  """
  try:
    return reader.get_tensor(name)
  except Exception as e:  # noqa: BLE001 - every reader failure is a bad file
    raise CheckpointError("%s: cannot read variable %s (%s); the checkpoint is truncated or "
                          "corrupted, use another copy or an earlier checkpoint" %
                          (prefix, name, _first_line(e)))


def _is_float(value):
  return np.asarray(value).dtype.kind in "fc"


def resolve_checkpoint(path):
  """Accepts what users type and returns a checkpoint prefix, or raises CheckpointError.

  Accepted: a prefix (`.../bert_model.ckpt`, `.../model.ckpt-343`), one of its
  files (`.index`, `.data-00000-of-00001`, `.meta`), or a directory holding a
  `checkpoint` state file (its latest entry) or a single `bert_model.ckpt`.
  """
  if not path:
    raise CheckpointError("no checkpoint path given")
  path = os.path.expanduser(path)
  if os.path.isdir(path):
    latest = latest_checkpoint(path)
    if latest:
      return latest
    candidates = sorted(glob.glob(os.path.join(path, "*.index")))
    if len(candidates) == 1:
      return candidates[0][:-len(".index")]
    raise CheckpointError(
        "%s: directory has no `checkpoint` state file and %s; pass the checkpoint prefix, "
        "e.g. %s" % (path, "no *.index file" if not candidates else "several *.index files",
                     os.path.join(path, "bert_model.ckpt")))
  prefix = path
  for suffix in (".index", ".meta"):
    if prefix.endswith(suffix):
      prefix = prefix[:-len(suffix)]
  prefix = _DATA_SUFFIX.sub("", prefix)
  if not os.path.exists(prefix + ".index"):
    raise CheckpointError(
        "%s: checkpoint not found (expected %s.index and %s.data-00000-of-00001); "
        "pass the prefix, e.g. .../bert_model.ckpt" % (path, prefix, prefix))
  return prefix


def open_checkpoint(path):
  """(prefix, tf.train.CheckpointReader) for a user-given path; one-line errors."""
  prefix = resolve_checkpoint(path)
  try:
    reader = tf.train.load_checkpoint(prefix)
    reader.get_variable_to_shape_map()
    return prefix, reader
  except Exception as e:  # noqa: BLE001 - OpError, ValueError, ... from a damaged .index
    raise CheckpointError("%s: unreadable checkpoint (%s); the .index file is truncated or "
                          "corrupted, use another copy or an earlier checkpoint" %
                          (prefix, _first_line(e)))


def list_variables(path):
  """[(name, shape)] of a checkpoint, sorted by name."""
  _, reader = open_checkpoint(path)
  shapes = reader.get_variable_to_shape_map()
  return sorted((k, shapes[k]) for k in shapes)


def check_compatible(variables, path):
  """Checks that every name in both the model and the checkpoint has the same shape.

  variables: {original_name: variable or shape}.  Reads only the `.index`, so
  it is cheap enough to run before any file is written.  Returns (prefix,
  reader, names found in both); raises CheckpointError naming the file, the
  variable and both shapes.
  """
  prefix, reader = open_checkpoint(path)
  shapes = reader.get_variable_to_shape_map()
  common = []
  for name, var in variables.items():
    if name not in shapes:
      continue
    want = tuple(var.shape) if hasattr(var, "shape") else tuple(var)
    have = tuple(shapes[name])
    if want != have:
      raise CheckpointError(
          "%s: variable %s has shape %s in the checkpoint but the model (bert_config.json) "
          "expects %s" % (prefix, name, list(have), list(want)))
    common.append(name)
  return prefix, reader, common


def init_from_checkpoint(variables, path, log=True):
  """Assigns checkpoint values to `variables` ({original_name: variable}).

  Returns the set of names restored.  A shape mismatch, an unreadable tensor
  or a NaN/Inf value raises CheckpointError naming the file and the variable,
  before anything is assigned.
  """
  prefix, reader, common = check_compatible(variables, path)
  values = {}
  for name in common:
    value = _read_tensor(reader, prefix, name)
    if _is_float(value) and not np.all(np.isfinite(value)):
      raise NonFiniteError(
          "%s: variable %s contains NaN/Inf values; this checkpoint is damaged or was saved "
          "from a diverged run, use an earlier checkpoint" % (prefix, name))
    values[name] = value
  restored = {name: variables[name] for name in common}
  for name, var in restored.items():
    var.assign(values[name])
  if log:
    logging.info("**** Trainable Variables ****")
    for name, var in variables.items():
      init_string = ", *INIT_FROM_CKPT*" if name in restored else ""
      logging.info("  name = %s, shape = %s%s", name, tuple(var.shape), init_string)
  return set(restored)


def latest_checkpoint(directory):
  """The newest complete `model.ckpt-N` prefix named by `directory/checkpoint`, or None."""
  state = _read_state(directory)
  for prefix in reversed(state):
    full = prefix if os.path.isabs(prefix) else os.path.join(directory, prefix)
    if os.path.exists(full + ".index"):
      return full
  # A state file lost or corrupted: fall back to scanning the directory.
  steps = sorted(checkpoint_steps(directory))
  return os.path.join(directory, "model.ckpt-%d" % steps[-1]) if steps else None


def checkpoint_steps(directory):
  out = []
  for index in glob.glob(os.path.join(directory, "model.ckpt-*.index")):
    m = re.match(r"model\.ckpt-(\d+)\.index$", os.path.basename(index))
    if m:
      out.append(int(m.group(1)))
  return out


def step_of(prefix):
  m = re.search(r"-(\d+)$", prefix or "")
  return int(m.group(1)) if m else 0


def _read_state(directory):
  path = os.path.join(directory, _STATE_FILE)
  try:
    with open(path, "r", encoding="utf-8") as f:
      text = f.read()
  except (OSError, UnicodeDecodeError):
    return []
  return re.findall(r'^all_model_checkpoint_paths:\s*"(.*)"\s*$', text, flags=re.M) or \
      re.findall(r'^model_checkpoint_path:\s*"(.*)"\s*$', text, flags=re.M)


def _no_space(e):
  text = str(getattr(e, "message", None) or e)
  return (isinstance(e, OSError) and e.errno == errno.ENOSPC) or "No space left" in text


def _remove_quietly(paths):
  for f in paths:
    try:
      os.remove(f)
    except OSError:
      pass


def _fsync_path(path, directory=False):
  try:
    fd = os.open(path, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0))
  except OSError:
    return
  try:
    os.fsync(fd)
  except OSError as e:
    if _no_space(e) and not directory:
      raise
  finally:
    os.close(fd)


def _fsync_dir(directory):
  _fsync_path(directory, directory=True)


_TMP_BUNDLE = re.compile(r"^\.tmp-(\d+)-model\.ckpt-\d+\.")
_TMP_STATE = re.compile(r"^" + re.escape(_STATE_FILE) + r"\.tmp-(\d+)$")


def pid_alive(pid):
  """Whether process `pid` exists (on this machine): what names a temporary file as a live
  writer's rather than one left by a killed run."""
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except OSError:
    return True
  return True


def remove_stale_temporary_files(directory):
  """Deletes what a killed run left mid-save: `.tmp-<pid>-model.ckpt-N.*` and
  `checkpoint.tmp-<pid>` of processes that no longer exist.  Returns their paths."""
  stale = []
  try:
    names = os.listdir(directory)
  except OSError:
    return stale
  for name in names:
    m = _TMP_BUNDLE.match(name) or _TMP_STATE.match(name)
    if m and int(m.group(1)) != os.getpid() and not pid_alive(int(m.group(1))):
      stale.append(os.path.join(directory, name))
  _remove_quietly(stale)
  if stale:
    logging.info("Removed %d temporary file(s) left by an interrupted checkpoint save in %s",
                 len(stale), directory)
  return stale


def write_bundle(prefix, tensors):
  """Writes {name: value} as a V2 checkpoint at `prefix`, atomically.

  The bundle is written under a temporary prefix, its files are fsynced and
  renamed into place, the `.index` last (the index is what makes a checkpoint
  exist; an older `.index` at `prefix` is removed first, so a kill between the
  renames never pairs an old index with new data).  Raises OSError(ENOSPC)
  with a one-line message when the disk is full, leaving no partial files.
  """
  directory = os.path.dirname(prefix) or "."
  tmp_prefix = os.path.join(directory, ".tmp-%d-%s" % (os.getpid(), os.path.basename(prefix)))
  names = sorted(tensors)
  moved = []
  try:
    with tf.device("/cpu:0"):
      tf.raw_ops.SaveV2(prefix=tmp_prefix, tensor_names=names,
                        shape_and_slices=[""] * len(names),
                        tensors=[tf.convert_to_tensor(tensors[n]) for n in names])
    tmp_files = glob.glob(glob.escape(tmp_prefix) + ".*")
    for f in tmp_files:
      _fsync_path(f)
    data_files = [f for f in tmp_files if not f.endswith(".index")]
    if os.path.exists(prefix + ".index"):
      os.remove(prefix + ".index")
    for f in data_files:
      os.replace(f, prefix + f[len(tmp_prefix):])
      moved.append(prefix + f[len(tmp_prefix):])
    os.replace(tmp_prefix + ".index", prefix + ".index")
    _fsync_dir(directory)
  except (tf.errors.OpError, OSError) as e:
    # Without its index, data already renamed to `prefix` is no checkpoint: remove it too.
    _remove_quietly(glob.glob(glob.escape(tmp_prefix) + "*") +
                    (moved if not os.path.exists(prefix + ".index") else []))
    if _no_space(e):
      raise OSError(errno.ENOSPC, "%s: no space left on device while writing the checkpoint; "
                    "the previous checkpoint is intact, free some space and rerun to resume "
                    "from it" % prefix)
    raise


def _check_finite(directory, step, prefix, tensors):
  """NonFiniteError (nothing written) when a float value is NaN/Inf.  `tensors` are the
  host copies that SaveV2 writes next, so the check reads nothing twice."""
  for name in sorted(tensors):
    value = tensors[name]
    if not value.dtype.is_floating:
      continue
    with tf.device("/cpu:0"):
      finite = bool(tf.reduce_all(tf.math.is_finite(value)))
    if not finite:
      last = latest_checkpoint(directory)
      raise NonFiniteError(
          "variable %s is NaN/Inf at step %d; not writing %s from this state. Last good "
          "checkpoint: %s. Likely causes: learning rate too high, NaN/Inf in --init_checkpoint, "
          "or vocab.txt / bert_config.json vocab_size mismatch with the checkpoint." %
          (name, step, prefix, last or "none"))


def save_checkpoint(directory, step, variables, slots=None, max_to_keep=5):
  """Writes `directory/model.ckpt-<step>` under original names and updates `checkpoint`.

  variables: {original_name: variable}; slots: {original_name + "/adam_m": var, ...}
  (optional).  `global_step` (int64) is always written.  Keeps the newest
  `max_to_keep` checkpoints listed in the state file and deletes older ones.
  Refuses (NonFiniteError, nothing written) to save NaN/Inf values.
  Returns the prefix.
  """
  os.makedirs(directory, exist_ok=True)
  prefix = os.path.join(directory, "model.ckpt-%d" % step)
  tensors = dict(variables)
  if slots:
    tensors.update(slots)
  with tf.device("/cpu:0"):
    tensors = {n: tf.convert_to_tensor(v) for n, v in tensors.items()}
  _check_finite(directory, step, prefix, tensors)
  tensors["global_step"] = np.int64(step)
  remove_stale_temporary_files(directory)
  write_bundle(prefix, tensors)
  basename = os.path.basename(prefix)
  kept = [p for p in _read_state(directory)
          if p != basename and os.path.exists(os.path.join(directory, p) + ".index")]
  kept.append(basename)
  kept.sort(key=step_of)
  removed, kept = kept[:-max_to_keep] if max_to_keep else [], kept[-max_to_keep:] if max_to_keep else kept
  write_state_file(directory, kept)
  for old in removed:
    _remove_quietly(glob.glob(glob.escape(os.path.join(directory, old)) + ".*"))
  return prefix


def write_state_file(directory, prefixes):
  """The TF `checkpoint` text proto, newest last, relative paths (as Saver writes)."""
  lines = ['model_checkpoint_path: "%s"' % prefixes[-1]]
  lines += ['all_model_checkpoint_paths: "%s"' % p for p in prefixes]
  files.write_atomically(os.path.join(directory, _STATE_FILE), "\n".join(lines) + "\n")


def read_global_step(path):
  prefix, reader = open_checkpoint(path)
  if reader.has_tensor("global_step"):
    return int(_read_tensor(reader, prefix, "global_step"))
  return step_of(prefix)


# Every directory publish_directory writes carries this file: what it is, from what, when, and
# every path it holds.  It is how a later export recognises a directory it may replace.
EXPORT_MARKER = "bert_tf_export.json"
_MARKER_VERSION = 1


def _listing(names, limit=4):
  """'a, b, c, d and 7 more' (sorted) for one-line messages."""
  names = sorted(names)
  shown = ", ".join(names[:limit])
  return shown + (" and %d more" % (len(names) - limit) if len(names) > limit else "")


def _tree(directory):
  """Every path under `directory` (files, directories, links), relative, "/"-separated."""
  out = set()
  for root, dirs, names in os.walk(directory):
    rel = os.path.relpath(root, directory)
    for name in dirs + names:
      out.add(name if rel == "." else "%s/%s" % (rel.replace(os.sep, "/"), name))
  return out


def read_export_marker(directory):
  """The EXPORT_MARKER record of `directory` (a dict), or None when it has no valid one."""
  try:
    with open(os.path.join(directory, EXPORT_MARKER), "r", encoding="utf-8") as f:
      record = json.load(f)
  except (OSError, UnicodeDecodeError, ValueError):
    return None
  if not isinstance(record, dict) or record.get("written_by") != "bert_tf" or \
      not isinstance(record.get("files"), list):
    return None
  return record


def _write_export_marker(directory, kind, source):
  try:
    version = importlib.metadata.version("bert_tf")
  except importlib.metadata.PackageNotFoundError:
    version = None
  record = {"written_by": "bert_tf", "marker_version": _MARKER_VERSION, "format": kind,
            "bert_tf_version": version, "source": source,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "files": sorted(_tree(directory))}
  with open(os.path.join(directory, EXPORT_MARKER), "w", encoding="utf-8") as f:
    f.write(json.dumps(record, indent=2) + "\n")


def _check_replaceable(real, shown, flag):
  """Refuses (one-line ValueError) to replace a directory that is neither empty nor an
  earlier export of ours holding only its own files."""
  try:
    entries = os.listdir(real)
  except OSError as e:
    raise ValueError("%s: cannot read the existing %s directory (%s)" % (shown, flag, e.strerror))
  if not entries:
    return
  record = read_export_marker(real)
  if record is None:
    raise ValueError(
        "%s: %s already exists and holds files that are not a bert_tf export (%s); exporting "
        "would delete them. Pass a new or empty %s" % (shown, flag, _listing(entries), flag))
  try:
    foreign = _tree(real) - set(record["files"]) - {EXPORT_MARKER}
  except OSError as e:
    raise ValueError("%s: cannot read the existing %s directory (%s)" % (shown, flag, e.strerror))
  if foreign:
    raise ValueError(
        "%s: %s is an earlier bert_tf export but also holds files that are not part of it (%s); "
        "exporting would delete them. Move them out, or pass a new or empty %s" %
        (shown, flag, _listing(foreign), flag))


def _inside(path, directory):
  return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


def check_can_publish(target, inputs=(), flag="--export_dir"):
  """Checks, before any work, that publish_directory may write `target`; one-line ValueError.
  Creates nothing.

  `target` may be missing (with missing parents), an empty directory or an
  earlier export of ours (it has EXPORT_MARKER and nothing it does not list); any
  other existing directory is refused, so an export never deletes a user's files.
  inputs: (description, path) pairs -- the run's output_dir, checkpoint, vocab,
  config, data -- that must not be `target` or lie inside it.  `flag` names the
  option in messages.  Returns target's real absolute path (symlinks resolved, so
  a link to a directory is published through, not replaced).
  """
  shown = os.path.abspath(os.path.expanduser(target))
  real = os.path.realpath(shown)
  for what, path in inputs:
    held = os.path.realpath(os.path.abspath(os.path.expanduser(path))) if path else None
    if held and _inside(held, real):
      where = ("the %s" % what) if held == real else \
          "a directory holding the %s (%s)" % (what, path)
      raise ValueError("%s: %s is %s; exporting there would delete it. Pass a new %s outside it"
                       % (shown, flag, where, flag))
  # Nothing is created here (a run that fails later leaves no trace): the nearest existing
  # ancestor must be a writable directory; publish_directory makes the missing parents.
  parent = os.path.dirname(real)
  existing = parent
  while existing != os.path.dirname(existing) and not os.path.lexists(existing):
    existing = os.path.dirname(existing)
  if not os.path.isdir(existing):
    raise ValueError("%s: cannot create the export directory (%s is a file, not a directory)"
                     % (shown, existing))
  if os.path.lexists(real) and not os.path.isdir(real):
    raise ValueError("%s: exists and is not a directory; pass a new %s" % (shown, flag))
  if os.path.isdir(real):
    _check_replaceable(real, shown, flag)
  if not os.access(existing, os.W_OK):
    raise ValueError("%s: cannot write the export directory (%s is not writable)" %
                     (shown, existing))
  return real


@contextlib.contextmanager
def publish_directory(target, kind=None, source=None, inputs=(), flag="--export_dir"):
  """Writes a directory (an export) atomically, replacing only an earlier export of ours.

  Checks `target` with check_can_publish(target, inputs, flag), then yields a
  new empty temporary directory beside it.  When the block finishes,
  EXPORT_MARKER is written into it (kind: the format's name; source: what it
  was made from; the list of its files) and it takes `target`'s place (an
  earlier export is moved aside by rename, then deleted; `target` is checked
  again first, in case files appeared in it meanwhile).  When the block raises,
  the temporary directory is removed and `target` is left exactly as it was.
  So a failed or killed export never leaves a half-written SavedModel where a
  working one used to be, and never deletes anything that is not an export.
  """
  shown = os.path.abspath(os.path.expanduser(target))
  target = check_can_publish(target, inputs, flag)
  parent = os.path.dirname(target)
  try:
    os.makedirs(parent, exist_ok=True)
  except OSError as e:
    raise ValueError("%s: cannot create the export directory (%s)" % (shown, e.strerror))
  tmp = tempfile.mkdtemp(prefix=".%s.tmp-" % os.path.basename(target), dir=parent)
  umask = os.umask(0)
  os.umask(umask)
  os.chmod(tmp, 0o777 & ~umask)  # mkdtemp's 0700 would hide the export from other users
  old = None
  try:
    yield tmp
    _write_export_marker(tmp, kind, source)
    if os.path.isdir(target):
      _check_replaceable(target, shown, flag)
      old = tmp + ".old"
      os.rename(target, old)
    os.rename(tmp, target)
  except BaseException:
    shutil.rmtree(tmp, ignore_errors=True)
    raise
  if old:
    shutil.rmtree(old, ignore_errors=True)
