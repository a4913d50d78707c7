"""Writing a whole file so that a reader (or a killed run) sees the old file or the new one,
never half of one.  No TensorFlow here.

`write_atomically(path, data)` writes to `<path>.tmp-<pid>` beside `path`, flushes it to
disk and renames it over `path`.  A run killed mid-write leaves only the temporary name,
which the next run into that output_dir removes (bert_tf.output_dir: the `.tmp-<pid>`
names of processes no longer alive).  A remote path (gs://...) has no atomic rename: it
is written in place through tf.io.gfile, as the original wrote every file.
"""

import errno
import os


def temporary_name(path):
  """The temporary name write_atomically uses for `path` in this process."""
  return "%s.tmp-%d" % (path, os.getpid())


def write_atomically(path, data):
  """Writes `data` (str: UTF-8 text, or bytes) to `path` through a temporary file, fsync and
  a rename.  On any failure the temporary file is removed and `path` is as it was; a full
  disk is an OSError(ENOSPC) naming `path` and saying the previous file is intact."""
  if "://" in str(path):
    import tensorflow as tf  # only for remote paths; the caller's run has it loaded
    with tf.io.gfile.GFile(path, "w" if isinstance(data, str) else "wb") as f:
      f.write(data)
    return
  tmp = temporary_name(path)
  try:
    if isinstance(data, str):
      f = open(tmp, "w", encoding="utf-8")
    else:
      f = open(tmp, "wb")
    with f:
      f.write(data)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException as e:
    try:
      os.remove(tmp)
    except OSError:
      pass
    if isinstance(e, OSError) and (e.errno == errno.ENOSPC or "No space left" in str(e)):
      raise OSError(errno.ENOSPC, "%s: no space left on device; the previous version of the "
                    "file is intact, free some space and rerun" % path) from e
    raise
