"""Reading documents: the fast block reader == the original's GFile reader."""
import os

import pytest

from bert_tf import tokenization
from bert_tf.pretraining import corpus
from bert_tf.pretraining.inputs import InputError
from helpers import TINY

VOCAB = os.path.join(TINY, "vocab.txt")


def test_documents_equal_between_readers(tmp_path, corpus_files):
  """Block reader + parallel fast tokenizer == GFile readline + tokenize_exact."""
  for lower in (True, False):
    tokenizer = tokenization.FullTokenizer(VOCAB, lower)
    reference = [[tokenizer.convert_tokens_to_ids(s) for s in d]
                 for d in corpus.read_documents(list(corpus_files), tokenizer)]
    for workers, block_bytes in ((1, 64), (2, 1000), (3, 1 << 18)):
      fast = corpus.read_documents_as_ids(list(corpus_files), tokenizer,
                                          workers, block_bytes=block_bytes)
      assert fast == reference, (lower, workers, block_bytes)


@pytest.mark.parametrize("data, expected", [
    # The original's GFile drops every "\r" and splits only at "\n".
    (b"a b\r\nc\rd\n\ne\n", [[["a", "b"], ["cd"]], [["e"]]]),
    # Unterminated last line, and a last "line" of only "\r" (= end of file).
    (b"a\n\n\nb\n\r", [[["a"]], [], [["b"]]]),
    # Whitespace-only line breaks a document; a control-only line is dropped.
    (b"a\n \t \nb\n\x07\x00\nc", [[["a"]], [["b"], ["c"]]]),
    # A BOM is removed by the tokenizer (category Cf) and does not break.
    (b"\xef\xbb\xbfa\n\xef\xbb\xbf\nb\n", [[["a"], ["b"]]]),
])
def test_line_and_document_rules(tmp_path, uncased, data, expected):
  path = tmp_path / "in.txt"
  path.write_bytes(data)
  reference = corpus.read_documents([str(path)], uncased)
  assert reference == expected
  fast = corpus.read_documents_as_ids([str(path)], uncased, 2, block_bytes=3)
  assert fast == [[uncased.convert_tokens_to_ids(s) for s in d] for d in reference]


def test_document_continues_into_next_file(tmp_path, uncased):
  first, second = tmp_path / "1.txt", tmp_path / "2.txt"
  first.write_text("one\ntwo\n")
  second.write_text("three\n\nfour\n")
  files = [str(first), str(second)]
  assert corpus.read_documents(files, uncased) == [
      [["one"], ["two"], ["three"]], [["four"]]]
  assert corpus.read_documents_as_ids(files, uncased, 2) == [
      [[2028], [2048], [2093]], [[2176]]]


def test_invalid_utf8_is_a_one_line_error_naming_the_line(tmp_path, uncased):
  path = tmp_path / "bad.txt"
  path.write_bytes(b"fine\nalso fine\nbad \xff byte\n")
  for reader in (lambda: corpus.read_documents([str(path)], uncased),
                 lambda: corpus.read_documents_as_ids([str(path)], uncased, 2)):
    with pytest.raises(InputError, match=r"bad\.txt:3: not valid UTF-8"):
      reader()
