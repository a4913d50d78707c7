"""The --input_file glob: the same files, in the same order, as tf.io.gfile.glob."""
import tensorflow as tf

from bert_tf.pretraining import inputs


def test_glob_equals_tf_glob(tmp_path, monkeypatch):
  for name in ("b.txt", "a.txt", ".hidden.txt", "c.TXT", "x1.txt", "sub/d.txt"):
    (tmp_path / name).parent.mkdir(exist_ok=True)
    (tmp_path / name).write_text("x\n")
  monkeypatch.chdir(tmp_path)
  for pattern in ("*.txt", "?.txt", "[ab].txt", "[!a].txt", "x[0-9].txt", "*",
                  ".*", "sub/*", "sub/*.txt", "./*.txt", "*.TXT", "a.txt",
                  "missing.txt", "nodir/*.txt", "sub/", "*/d.txt",
                  str(tmp_path / "*.txt"), str(tmp_path) + "/sub/[d].txt"):
    assert inputs.glob(pattern) == tf.io.gfile.glob(pattern), pattern
