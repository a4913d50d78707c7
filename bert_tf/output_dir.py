"""A run's --output_dir: created, owned for the run's whole life, cleaned, and recorded.

Every job that writes into an output_dir goes through here, so the rules about
it live in one place:

* `prepare(path)`: created if needed and checked writable (one-line error).
* `owned(path)`: a context manager holding an OS-level lock on the directory
  for the whole run (issue 17): `fcntl.flock` on `<output_dir>/.bert_tf.lock`,
  which holds the holder's pid, host, command and start time as text.  The
  kernel drops the lock when the process dies, however it dies (SIGKILL
  included), so a stale lock file never blocks anyone: the next run takes it
  over.  A second run into the same directory fails at once with one line
  naming the holder.  On entry, the temporary files a killed run of ours left
  behind are removed (`remove_stale_temporary_files`); on a clean exit the lock
  file is removed, and a directory this run created is removed again when the
  run failed and left it empty (a failing run creates nothing).
* The run record (`run_config.json`): what a run was started with, compared
  on the next run into the same directory (`record_differences`,
  `check_resume`), so that a resume with another task, config, vocab, casing or
  max_seq_length is refused instead of silently continuing the old checkpoint.

Usage by a job (run_classifier, run_pretraining, run_squad):

    with output_dir.owned(job.output_dir):
      ...  # every read of output_dir's checkpoints and every write

Only the chief of a multi-worker run should take the lock (the other workers
write into the same directory by design); a remote path (gs://...) is not
locked (flock needs a local or NFS file system).
"""

import contextlib
import datetime
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import socket
import sys
import time

from absl import logging

from bert_tf import checkpoints

LOCK_FILE = ".bert_tf.lock"
RUN_RECORD = "run_config.json"


def prepare(output_dir):
  """Creates output_dir (and its parents) if missing; one-line ValueError when that fails
  or the directory is not writable.  Returns the directories it created, outermost first."""
  created = []
  probe = os.path.abspath(output_dir)
  while probe and not os.path.lexists(probe) and probe != os.path.dirname(probe):
    created.insert(0, probe)
    probe = os.path.dirname(probe)
  try:
    os.makedirs(output_dir, exist_ok=True)
  except OSError as e:
    raise ValueError("%s: cannot create output_dir (%s)" % (output_dir, e.strerror))
  if not os.access(output_dir, os.W_OK):
    raise ValueError("%s: output_dir is not writable" % output_dir)
  return created


def is_remote(path):
  return "://" in str(path)


# --------------------------------------------------------------------------- the lock


def _holder_text():
  started = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z").strip()
  command = " ".join([os.path.basename(sys.argv[0])] + sys.argv[1:]) if sys.argv else "?"
  return ("pid: %d\nhost: %s\nstarted: %s\ncommand: %s\n" %
          (os.getpid(), socket.gethostname(), started, command.replace("\n", " ")))


def _parse_holder(text):
  out = {}
  for line in text.splitlines():
    key, sep, value = line.partition(": ")
    if sep:
      out[key.strip()] = value.strip()
  return out


def _read_holder(fd):
  """What the holder wrote into the lock file ({} while it has not written it yet)."""
  for _ in range(20):  # the holder writes right after it takes the lock
    try:
      os.lseek(fd, 0, os.SEEK_SET)
      text = os.read(fd, 65536).decode("utf-8", "replace")
    except OSError:
      return {}
    holder = _parse_holder(text)
    if "pid" in holder:
      return holder
    time.sleep(0.05)
  return {}


class Lock(object):
  """The held lock of one output_dir; `release()` unlocks it and removes the lock file."""

  def __init__(self, path, fd):
    self.path = path
    self.fd = fd

  def release(self):
    if self.fd is None:
      return
    # Unlink while still holding the lock: a process that opened the old file meanwhile
    # notices (inode check in acquire) and retries on the new one.
    try:
      os.remove(self.path)
    except OSError:
      pass
    os.close(self.fd)  # drops the flock
    self.fd = None


def acquire(output_dir):
  """Takes output_dir's lock (non-blocking).  Raises ValueError naming the holder when
  another live process has it.  The directory must exist."""
  path = os.path.join(output_dir, LOCK_FILE)
  while True:
    try:
      fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
      raise ValueError("%s: cannot create the lock file of output_dir (%s)" %
                       (path, e.strerror))
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
      if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
        os.close(fd)
        raise ValueError("%s: cannot lock output_dir (%s)" % (path, e.strerror))
      holder = _read_holder(fd)
      os.close(fd)
      raise ValueError(
          "%s: output_dir is in use by another run (%s); wait for it to finish or stop it, "
          "or pass another --output_dir" % (output_dir, _describe(holder)))
    # The file we locked may have been removed by its previous holder after we opened
    # it; then the lock protects nothing: retry on the file that is there now.
    try:
      same = os.path.samestat(os.fstat(fd), os.stat(path))
    except OSError:
      same = False
    if same:
      break
    os.close(fd)
  os.ftruncate(fd, 0)
  os.write(fd, _holder_text().encode("utf-8"))
  return Lock(path, fd)


def _describe(holder):
  if not holder:
    return "its details are not written yet"
  return "pid %s on %s, since %s: %s" % (holder.get("pid", "?"), holder.get("host", "?"),
                                          holder.get("started", "?"),
                                          holder.get("command", "?"))


@contextlib.contextmanager
def owned(output_dir, lock=True, export_dir=None):
  """Owns output_dir for the block: created if needed, locked, stale temporary files of a
  killed run removed.  Yields the directory.

  lock=False (a non-chief worker, or a remote path) skips the lock and the cleaning.
  export_dir: the run also publishes this directory; the temporary directories a killed
  export to it left beside it are removed as well.

  When the block raises, the directories `prepare` created are removed again if they are
  still empty, so a failing run leaves no trace.
  """
  if is_remote(output_dir):
    yield output_dir
    return
  created = prepare(output_dir)
  held = None
  try:
    if lock:
      held = acquire(output_dir)
      remove_stale_temporary_files(output_dir, export_dir=export_dir)
    yield output_dir
  except BaseException:
    if held is not None:
      held.release()
      held = None
    for directory in reversed(created):
      try:
        os.rmdir(directory)  # only when empty
      except OSError:
        break
    raise
  finally:
    if held is not None:
      held.release()


# --------------------------------------------------------------------------- temporary files

# The temporary names our writers use (and only those: never a user's file):
#   .tmp-<pid>-model.ckpt-<N>.<suffix>   checkpoints.write_bundle
#   checkpoint.tmp-<pid>, <file>.tmp-<pid>  files.write_atomically (the checkpoint state file,
#                                        label_list.txt, run_squad's predictions / n-best /
#                                        null odds / logits.npz), data.tfrecord.AtomicOutputs,
#                                        extract_features' output
#   .<file>.tmp-<pid>-<8 hex>            data.records / squad.records TFRecords (and the
#                                        label_list.txt temporaries of earlier versions)
#   <file>.tmp                           run_config.json, eval_results.txt, test_results.tsv, ...
#   .<dir>.tmp-<8 chars>[.old]           checkpoints.publish_directory (an export in progress)
_PID_TEMPORARY = (re.compile(r"^\.tmp-(\d+)-model\.ckpt-\d+\..+$"),
                  re.compile(r"^.+\.tmp-(\d+)-[0-9a-f]{8}$"),
                  re.compile(r"^.+\.tmp-(\d+)$"))
_PLAIN_TEMPORARY = ("run_config.json.tmp", "eval_results.txt.tmp", "test_results.tsv.tmp")
_EXPORT_TEMPORARY = re.compile(r"^\.(.+)\.tmp-[a-z0-9_]{8}(\.old)?$")
# Subdirectories of an output_dir that our runs write into (run_classifier's best/).
_OWN_SUBDIRS = ("best",)


def _is_stale_file(name):
  if name in _PLAIN_TEMPORARY:
    return True
  for pattern in _PID_TEMPORARY:
    m = pattern.match(name)
    if m:
      return not checkpoints.pid_alive(int(m.group(1)))
  return False


def _remove(path):
  try:
    if os.path.isdir(path) and not os.path.islink(path):
      shutil.rmtree(path)
    else:
      os.remove(path)
  except OSError as e:
    logging.warning("Could not remove the temporary file %s left by an interrupted run (%s)",
                    path, e.strerror)
    return False
  logging.info("Removed %s, a temporary file left by an interrupted run.", path)
  return True


def remove_stale_temporary_files(output_dir, export_dir=None):
  """Removes what a killed run of ours left mid-write in output_dir (and its best/), and the
  temporary directories of a killed export to `export_dir` beside it.  Logs one line per
  removed path; returns them.  Only our temporary-name patterns are touched, and a name
  carrying the pid of a live process is left alone."""
  removed = []
  directories = [output_dir] + [os.path.join(output_dir, d) for d in _OWN_SUBDIRS]
  for directory in directories:
    try:
      names = sorted(os.listdir(directory))
    except OSError:
      continue
    for name in names:
      path = os.path.join(directory, name)
      if os.path.isdir(path):
        stale = _EXPORT_TEMPORARY.match(name) is not None
      else:
        stale = _is_stale_file(name)
      if stale and _remove(path):
        removed.append(path)
  if export_dir and not is_remote(export_dir):
    target = os.path.abspath(export_dir)
    parent, base = os.path.dirname(target), os.path.basename(target)
    if os.path.abspath(parent) != os.path.abspath(output_dir):
      try:
        names = sorted(os.listdir(parent))
      except OSError:
        names = []
      for name in names:
        m = _EXPORT_TEMPORARY.match(name)
        path = os.path.join(parent, name)
        if m and m.group(1) == base and os.path.isdir(path) and _remove(path):
          removed.append(path)
  return removed


# --------------------------------------------------------------------------- the run record


def file_sha256(path):
  """sha256 hex digest of a file's bytes (the vocab's fingerprint)."""
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()


def read_record(output_dir):
  """output_dir/run_config.json as a dict, or None when absent or unreadable (a damaged
  record cannot be compared; the checkpoint checks still apply)."""
  path = os.path.join(output_dir, RUN_RECORD)
  try:
    with open(path, "r", encoding="utf-8") as f:
      record = json.load(f)
  except FileNotFoundError:
    return None
  except (OSError, UnicodeDecodeError, ValueError) as e:
    logging.warning("%s: unreadable (%s); cannot compare this run with the one that wrote the "
                    "checkpoints", path, str(e).splitlines()[0] if str(e) else type(e).__name__)
    return None
  return record if isinstance(record, dict) else None


def write_record(output_dir, record):
  """Writes output_dir/run_config.json atomically (a temporary file, then a rename)."""
  path = os.path.join(output_dir, RUN_RECORD)
  with open(path + ".tmp", "w", encoding="utf-8") as f:
    json.dump(record, f, indent=2, sort_keys=True)
    f.write("\n")
  os.replace(path + ".tmp", path)


def _short(value):
  text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
  return text if len(text) <= 60 else text[:57] + "..."


def record_differences(recorded, current, keys):
  """["key recorded -> current", ...] for the `keys` both records have and that differ.

  A dict value (bert_config) is compared key by key ("bert_config.num_hidden_layers 2 ->
  1").  A key only one side has is not a difference (a record from an older version).
  """
  out = []
  for key in keys:
    if key not in recorded or key not in current:
      continue
    old, new = recorded[key], current[key]
    if isinstance(old, dict) and isinstance(new, dict):
      for sub in sorted(set(old) | set(new)):
        if old.get(sub) != new.get(sub):
          out.append("%s.%s %s -> %s" % (key, sub, _short(old.get(sub)), _short(new.get(sub))))
    elif old != new:
      out.append("%s %s -> %s" % (key, _short(old), _short(new)))
  return out


def check_resume(output_dir, current, keys, allow_mismatch=False, checkpoint=None,
                 normalize=None):
  """Refuses to continue a checkpoint of output_dir that was made by a run started with other
  settings: ValueError listing the differences and the fixes, or a WARNING when
  allow_mismatch.  current: this run's record; keys: those that must agree; normalize:
  fn(record) -> record applied to both sides first (e.g. a case-insensitive task name).
  Returns the differences."""
  recorded = read_record(output_dir)
  if recorded is None:
    return []
  if normalize is not None:
    recorded, current = normalize(recorded), normalize(current)
  differences = record_differences(recorded, current, keys)
  if not differences:
    return []
  where = checkpoint or output_dir
  text = "; ".join(differences)
  if allow_mismatch:
    logging.warning("%s was made by a run started with other settings (%s); continuing anyway "
                    "(--allow_resume_mismatch)", where, text)
    return differences
  raise ValueError(
      "%s: --output_dir holds the checkpoint of a run started with other settings (then -> "
      "now: %s; recorded in %s); pass a new --output_dir to start over, the recorded settings to continue it, or "
      "--allow_resume_mismatch to continue anyway" %
      (where, text, os.path.join(output_dir, RUN_RECORD)))
