"""Tokenizer parity with the original google-research/bert FullTokenizer."""
import json
import logging
import os

import pytest
from hypothesis import given, settings, strategies as st

from bert_tf import tokenization
from helpers import FIXTURES, TINY

VOCAB = os.path.join(TINY, "vocab.txt")


@pytest.fixture(scope="module")
def tokenizers():
  return {True: tokenization.FullTokenizer(VOCAB, True),
          False: tokenization.FullTokenizer(VOCAB, False)}


def _rows():
  with open(os.path.join(FIXTURES, "tokenization.jsonl"), encoding="utf-8") as f:
    return [json.loads(line) for line in f]


def test_all_200_rows_match_the_original(tokenizers):
  rows = _rows()
  assert len(rows) == 200
  for r in rows:
    tok = tokenizers[r["do_lower_case"]]
    assert tok.basic_tokenizer.tokenize(r["text"]) == r["basic_tokens"], r["source"]
    assert tok.tokenize_exact(r["text"]) == r["tokens"], r["source"]
    assert tok.tokenize(r["text"]) == r["tokens"], r["source"]
    assert tok.convert_tokens_to_ids(r["tokens"]) == r["ids"], r["source"]


def _toy_vocab(tmp_path, tokens):
  path = tmp_path / "vocab.txt"
  path.write_text("".join(t + "\n" for t in tokens), encoding="utf-8")
  return str(path)


def test_original_unit_test_assertions(tmp_path):
  with open(os.path.join(FIXTURES, "tokenization_test_cases.json"), encoding="utf-8") as f:
    cases = json.load(f)["cases"]
  assert len(cases) == 29
  for c in cases:
    api, inp, expected = c["api"], c["input"], c["expected"]
    if "vocab_tokens" in c:
      vocab_file = _toy_vocab(tmp_path, c["vocab_tokens"])
      vocab = tokenization.load_vocab(vocab_file)
    if api == "FullTokenizer(vocab_file).tokenize":
      tok = tokenization.FullTokenizer(vocab_file)
      got, got_exact = tok.tokenize(inp), tok.tokenize_exact(inp)
      assert got_exact == expected
    elif api == "FullTokenizer(vocab_file).convert_tokens_to_ids":
      got = tokenization.FullTokenizer(vocab_file).convert_tokens_to_ids(inp)
    elif api.startswith("BasicTokenizer("):
      lower = c["do_lower_case"]
      got = tokenization.BasicTokenizer(do_lower_case=lower).tokenize(inp)
    elif api == "WordpieceTokenizer(vocab).tokenize":
      got = tokenization.WordpieceTokenizer(vocab=vocab).tokenize(inp)
    elif api == "convert_tokens_to_ids(vocab, tokens)":
      got = tokenization.convert_tokens_to_ids(vocab, inp)
    elif api in ("_is_whitespace", "_is_control", "_is_punctuation"):
      got = getattr(tokenization, api)(inp)
    else:
      raise AssertionError("unknown api in fixture: %s" % api)
    assert got == expected, (c["test"], inp)


def test_load_vocab_keeps_line_numbers_and_last_duplicate(tmp_path):
  path = tmp_path / "v.txt"
  path.write_bytes(b"[PAD]\r\nb\n\na\nb\n")
  vocab = tokenization.load_vocab(str(path))
  assert vocab == {"[PAD]": 0, "b": 4, "": 2, "a": 3}


def test_convert_to_unicode():
  assert tokenization.convert_to_unicode("x\u00e9") == "x\u00e9"
  assert tokenization.convert_to_unicode(b"a\xffb\xc3\xa9") == "ab\u00e9"
  with pytest.raises(ValueError, match="Unsupported string type"):
    tokenization.convert_to_unicode(3)


def test_validate_case_matches_checkpoint():
  tokenization.validate_case_matches_checkpoint(True, None)
  tokenization.validate_case_matches_checkpoint(True, "/x/uncased_L-12_H-768_A-12/bert_model.ckpt")
  tokenization.validate_case_matches_checkpoint(False, "/x/my_model/bert_model.ckpt")
  with pytest.raises(ValueError, match=r"`--do_lower_case=False`.*lowercased model"):
    tokenization.validate_case_matches_checkpoint(False, "gs://b/uncased_L-12_H-768_A-12/bert_model.ckpt")
  with pytest.raises(ValueError, match=r"`--do_lower_case=True`.*cased model.*`--do_lower_case=False`"):
    tokenization.validate_case_matches_checkpoint(True, "multi_cased_L-12_H-768_A-12/bert_model.ckpt")


def test_word_limit_is_200_characters(tokenizers):
  tok = tokenizers[True]
  assert tok.tokenize("a" * 200) != ["[UNK]"]
  assert tok.tokenize("a" * 201) == ["[UNK]"]
  assert tok.tokenize("\u00e9" * 201) == ["[UNK]"]  # 201 chars, 402 bytes


# Text made of the characters the tokenizer treats specially, plus anything else.
_SPECIAL = st.sampled_from(list("aA \t\n\r\x00\ufffd\u00a0\u3000\u2028\u200b\u00ad.,!?'\"-$`"
                                "\u00e9\u0301\u4e00\u535a\u3042\uac00\u0130\u00df\ufb01\uff21"
                                "\u03a3\u03c3\U0001f4a9\U00020000\ue000\x7f\x85\x1c"))
_TEXT = st.lists(st.one_of(_SPECIAL, st.characters(), st.text(alphabet="abcdefghij", min_size=1,
                                                             max_size=8)),
                 max_size=40).map("".join)


@settings(max_examples=400, deadline=None)
@given(text=_TEXT, lower=st.booleans())
def test_fast_path_equals_exact_path_on_any_unicode(tokenizers, text, lower):
  tok = tokenizers[lower]
  exact = tok.tokenize_exact(text)
  assert tok.tokenize(text) == exact
  ids = tok.convert_tokens_to_ids(exact)
  assert all(0 <= i < len(tok.vocab) for i in ids)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=64))
def test_bytes_input_never_crashes(tokenizers, data):
  tok = tokenizers[True]
  assert tok.tokenize(data) == tok.tokenize_exact(data.decode("utf-8", "ignore"))


@settings(max_examples=300, deadline=None)
@given(texts=st.lists(_TEXT, max_size=8), lower=st.booleans())
def test_batch_to_ids_equals_exact_path_text_by_text(tokenizers, texts, lower):
  tok = tokenizers[lower]
  want = [tok.convert_tokens_to_ids(tok.tokenize_exact(t)) for t in texts]
  assert tok.tokenize_to_ids_batch(texts) == want
  assert tok.tokenize_to_ids_batch(texts) == want  # second call: from the word cache


def test_batch_to_ids_gives_none_for_a_piece_missing_from_the_vocab(tmp_path):
  tok = tokenization.FullTokenizer(_toy_vocab(tmp_path, ["a", "##b", "."]))
  assert tok.tokenize_to_ids_batch(["ab .", "ab c", "", "\u00e9", "A."]) == [
      [0, 1, 2], None, [], None, [0, 2]]


# ------------------------------------------------------------------ check_vocab (issue 17 item 4)

_GOOD = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "##s"]


def _vocab_file(tmp_path, tokens, name="vocab.txt"):
  path = tmp_path / name
  path.write_text("".join(t + "\n" for t in tokens), encoding="utf-8")
  return str(path)


def _check(path, **kw):
  return tokenization.check_vocab(tokenization.read_vocab_tokens(path), path, **kw)


def test_check_vocab_accepts_a_good_vocab_and_keeps_the_original_ids(tmp_path, caplog):
  path = _vocab_file(tmp_path, _GOOD)
  _check(path, needed=tokenization.MASKED_LM_TOKENS, vocab_size=len(_GOOD),
         bert_config_file="bert_config.json")
  assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
  tok = tokenization.load_tokenizer(path, True, len(_GOOD), "bert_config.json")
  assert tok.vocab == {t: i for i, t in enumerate(_GOOD)}
  # Blank lines keep their ids (never looked up) and are not duplicates of each other.
  path = _vocab_file(tmp_path, _GOOD[:5] + ["", ""] + _GOOD[5:] + ["", ""])
  _check(path, vocab_size=len(_GOOD) + 2, bert_config_file="c.json")  # trailing blanks: no id
  assert tokenization.load_vocab(path)["the"] == 7


def test_check_vocab_refuses_a_repeated_token_naming_both_lines(tmp_path):
  path = _vocab_file(tmp_path, _GOOD + ["dog", "cat", "the"])
  with pytest.raises(ValueError) as e:
    _check(path)
  assert str(e.value) == (
      "%s line 10: the token 'cat' is also on line 7 (and 1 more repeated lines); the original "
      "silently gives a repeated token the id of its last line, so the checkpoint's other row "
      "for it is never used. Use the vocab.txt that came with the checkpoint (or, for a vocab "
      "of your own, delete the repeated line)" % path)
  # Tokens are compared after strip(), as the original reads them.
  path = _vocab_file(tmp_path, _GOOD + ["cat  "])
  with pytest.raises(ValueError, match="line 9: the token 'cat' is also on line 7"):
    _check(path)


@pytest.mark.parametrize("missing, needed", [
    ("[UNK]", tokenization.SPECIAL_TOKENS), ("[CLS]", tokenization.SPECIAL_TOKENS),
    ("[SEP]", tokenization.SPECIAL_TOKENS), ("[MASK]", tokenization.MASKED_LM_TOKENS)])
def test_check_vocab_refuses_a_missing_special_token(tmp_path, missing, needed):
  path = _vocab_file(tmp_path, [t for t in _GOOD if t != missing])
  with pytest.raises(ValueError) as e:
    _check(path, needed=needed)
  assert str(e.value).startswith("%s: no %s line in the vocab; this script needs it" %
                                 (path, missing))
  _check(path, needed=[t for t in needed if t != missing])  # a script that does not need it


def test_check_vocab_without_pad_warns(tmp_path, caplog):
  path = _vocab_file(tmp_path, _GOOD[1:])
  _check(path)
  warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
  assert warnings == ["%s has no [PAD] line. This runs (padding is id 0, as in the original), "
                      "but BERT's vocab files have [PAD] on line 1: if it was deleted, every id "
                      "is shifted by one against the checkpoint." % path]


def test_check_vocab_size_counts_ids_not_distinct_tokens(tmp_path, caplog):
  path = _vocab_file(tmp_path, _GOOD + ["dog", "bird"])
  with pytest.raises(ValueError) as e:
    _check(path, vocab_size=8, bert_config_file="c.json")
  assert str(e.value) == (
      "%s has 10 tokens but c.json says vocab_size = 8: ids past 7 would index outside the "
      "embedding table (NaN/garbage, google-research/bert #82); line 9 ('dog') is the first of "
      "them. Use the vocab.txt that came with the checkpoint." % path)
  # Shorter (a padded vocab size): runs, and the warning counts the file's ids.
  path = _vocab_file(tmp_path, _GOOD + [""] * 3 + ["dog"])
  _check(path, vocab_size=16, bert_config_file="c.json")
  warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
  assert warnings == [
      "%s has 12 tokens, 4 fewer than vocab_size = 16 in c.json: the last 4 row(s) of the "
      "embedding table are never used. That is normal for a vocab size padded to a round "
      "number; but if lines were deleted from the vocab.txt the checkpoint was trained with, "
      "every id after them is shifted: use that file." % path]
