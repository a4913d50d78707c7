"""bert_tf.data.generic: --task_name=tsv|csv, users' own files read with pandas."""

import csv
import os
import re
import tempfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bert_tf.data import features_fast, readers
from bert_tf.errors import DataError
from bert_tf.data.generic import GenericProcessor, read_table
from bert_tf.data.tasks import get_processor
from data_testing import write_text


def tsv(rows):
  return "".join("\t".join(row) + "\n" for row in rows)


def triples(examples):
  return [(e.guid, e.text_a, e.text_b, e.label) for e in examples]


def test_generic_tsv_by_header_name_and_label_list(tmp_path):
  data, out = str(tmp_path / "data"), str(tmp_path / "out")
  write_text(os.path.join(data, "train.tsv"), tsv([
      ["\ufeffid", "review", "sentiment"],
      ["r1", "great film", "pos"], ["r2", "awful", "neg "],
      ["r3", "fine", "neutral"], ["r4", "bad", "neg"]]))
  write_text(os.path.join(data, "dev.tsv"), tsv([
      ["id", "review", "sentiment"], ["d1", "ok", "neutral"]]))
  write_text(os.path.join(data, "test.tsv"), tsv([
      ["id", "review"], ["t1", "meh"]]))
  p = get_processor("TSV", text_a_column="review", label_column="sentiment",
                    guid_column="id", has_header=True, data_dir=data,
                    output_dir=out)
  assert isinstance(p, GenericProcessor) and p.delimiter == "\t"
  assert p.get_labels() == ["neg", "neutral", "pos"]
  with open(os.path.join(out, "label_list.txt"), encoding="utf-8") as f:
    assert f.read() == "neg\nneutral\npos\n"
  assert triples(p.get_train_examples(data)) == [
      ("train-r1", "great film", None, "pos"), ("train-r2", "awful", None, "neg"),
      ("train-r3", "fine", None, "neutral"), ("train-r4", "bad", None, "neg")]
  assert triples(p.get_dev_examples(data)) == [("dev-d1", "ok", None, "neutral")]
  # The test file has no label column: dummy label = first label.
  assert triples(p.get_test_examples(data)) == [("test-t1", "meh", None, "neg")]

  # A later predict-only run: the label order comes from label_list.txt.
  predict_dir = str(tmp_path / "predict_only")
  write_text(os.path.join(predict_dir, "test.tsv"), tsv([["review"], ["hm"]]))
  later = get_processor("tsv", text_a_column="review",
                        label_column="sentiment", data_dir=predict_dir,
                        output_dir=out)
  assert later.get_labels() == ["neg", "neutral", "pos"]
  assert triples(later.get_test_examples(predict_dir)) == [
      ("test-0", "hm", None, "neg")]


def test_generic_label_list_file_order_wins(tmp_path):
  data, out = str(tmp_path / "data"), str(tmp_path / "out")
  write_text(os.path.join(data, "train.tsv"), tsv([["t", "l"], ["x", "b"],
                                                   ["y", "a"]]))
  write_text(os.path.join(out, "label_list.txt"), "b\na\n")
  p = GenericProcessor(data_dir=data, output_dir=out)
  assert p.get_labels() == ["b", "a"]
  # A training file with a label the saved list lacks is refused.
  write_text(os.path.join(data, "train.tsv"), tsv([["t", "l"], ["x", "c"]]))
  with pytest.raises(DataError, match=r"label_list\.txt: lists labels .*'c'"):
    GenericProcessor(data_dir=data, output_dir=out).get_labels()


def test_generic_explicit_labels(tmp_path):
  out = str(tmp_path / "out")
  p = get_processor("tsv", labels="z,y", output_dir=out)
  assert p.get_labels() == ["z", "y"]
  with open(os.path.join(out, "label_list.txt"), encoding="utf-8") as f:
    assert f.read() == "z\ny\n"


def test_generic_without_label_list(tmp_path):
  p = get_processor("tsv", data_dir=str(tmp_path), output_dir=str(tmp_path))
  with pytest.raises(DataError, match=r"label_list\.txt: no label list.*--do_train"):
    p.get_labels()


def test_generic_csv_quoted_fields_and_pairs(tmp_path, tokenizer):
  data = str(tmp_path)
  write_text(os.path.join(data, "train.csv"),
             'q1,q2,label\n"Hello, world","multi\nline",yes\nplain,"say ""hi""",no\n')
  p = get_processor("csv", text_a_column="q1", text_b_column="q2",
                    label_column="label", data_dir=data)
  assert p.delimiter == "," and p.quotechar == '"'
  train = p.get_train_examples(data)
  assert triples(train) == [("train-0", "Hello, world", "multi\nline", "yes"),
                            ("train-1", "plain", 'say "hi"', "no")]
  assert [e.source_line for e in train] == [2, 4]
  assert p.get_labels() == ["no", "yes"]
  features = features_fast.convert_examples_to_features(train, p.get_labels(), 12, tokenizer)
  assert [f.label_id for f in features] == [1, 0]
  assert features[0].segment_ids == [0] * 5 + [1] * 3 + [0] * 4


def test_generic_by_index_without_header(tmp_path):
  data = str(tmp_path)
  write_text(os.path.join(data, "train.tsv"), tsv([["1", "a", "b"],
                                                   ["0", "c", "d"]]))
  p = get_processor("tsv", text_a_column="1", text_b_column=2,
                    label_column="0", has_header=False)
  assert triples(p.get_train_examples(data)) == [("train-0", "a", "b", "1"),
                                                 ("train-1", "c", "d", "0")]
  assert p.data_dir == data and p.get_labels() == ["0", "1"]


def test_generic_regression(tmp_path, tokenizer):
  data = str(tmp_path)
  write_text(os.path.join(data, "train.tsv"), tsv([["text", "score"],
                                                   ["a", "1.5"], ["b", "2"]]))
  p = get_processor("tsv", is_regression=True)
  assert p.is_regression and p.get_labels() == [None]
  features = features_fast.convert_examples_to_features(p.get_train_examples(data),
                                                        p.get_labels(), 8, tokenizer)
  assert [f.label_id for f in features] == [1.5, 2.0]


def test_generic_column_errors(tmp_path):
  data = str(tmp_path)
  path = write_text(os.path.join(data, "train.tsv"), tsv([["text", "label"],
                                                          ["a", "x"]]))
  with pytest.raises(DataError) as e:
    get_processor("tsv", text_a_column="sentence").get_train_examples(data)
  assert str(e.value) == ("%s line 1: no column named 'sentence' in the header "
                          "(columns: text, label)" % path)
  with pytest.raises(DataError, match="has_header is false"):
    get_processor("tsv", label_column="label",
                  has_header=False).get_train_examples(data)
  with pytest.raises(DataError,
                     match=r"train\.tsv line 2: expected at least 4 "
                     r"tab-separated columns, found 2"):
    get_processor("tsv", label_column=3).get_train_examples(data)
  write_text(path, tsv([["text", "label"], ["a", " "]]))
  with pytest.raises(DataError, match=r"train\.tsv line 2: empty label"):
    get_processor("tsv").get_train_examples(data)
  with pytest.raises(ValueError, match="0-based"):
    get_processor("tsv", text_a_column=-1)


# ----------------------------------------------------------------------------
# pandas' reading against the csv module's (the original reader)
# ----------------------------------------------------------------------------


def _rows(rows):
  """(line, fields) rows with "\\r...\\r\\n" inside a field read as one "\\r\\n" (pandas ends
  lines at "\\r" too: the reader folds the carriage returns before a line break)."""
  return [(line, [re.sub("\r+\n", "\r\n", field) for field in fields])
          for line, fields in rows]


def _ends_inside_quotes(text):
  """Whether the file ends inside a quoted field (csv.reader then ends the field silently):
  a line added after it is then read into that field."""
  lines = re.findall("[^\n]*\n|[^\n]+$", text + "\n\x01")
  return list(csv.reader(lines))[-1] != ["\x01"]


@settings(max_examples=300, deadline=None)
@given(text=st.text(st.sampled_from('ab ,"\t\n\r'), min_size=1, max_size=40),
       quoted=st.booleans())
def test_read_table_rows_and_lines_equal_the_csv_modules(text, quoted):
  """Same fields and start lines as `readers.read_rows` (csv.reader, the original's
  reading): ragged rows, blank lines, quoted delimiters and line breaks, \\r\\n.
  Where they differ: a quote left open at the end of the file is an error naming
  its line (csv silently ends the field there), and in a csv file the carriage
  return error may name an earlier line holding a "\\r" inside quotes."""
  delimiter, quotechar = (",", '"') if quoted else ("\t", None)
  with tempfile.TemporaryDirectory() as d:
    path = write_text(os.path.join(d, "x.txt"), text)
    try:
      want = readers.read_rows(path, delimiter, quotechar)
    except DataError as e:
      with pytest.raises(DataError) as got:
        read_table(path, delimiter, quotechar)
      if quoted and "carriage return" in str(e):
        assert "carriage return" in str(got.value)
      elif quoted and _ends_inside_quotes(text):  # csv read the open field as empty
        assert "is never closed" in str(got.value) or "carriage return" in str(got.value)
      else:
        assert str(got.value) == str(e)
      return
    try:
      table = read_table(path, delimiter, quotechar)
    except DataError as e:
      message = str(e)
      assert quoted and _ends_inside_quotes(text), message
      if re.search("\r[^\r\n]", text):  # pandas' record numbers are off: the \r is blamed
        assert message.startswith("%s line " % path) and "carriage return" in message
      else:
        assert message.startswith("%s line %d: " % (path, want[-1][0]))
        assert "is never closed" in message
      return
  got = [(table.lines[k], table.row(k)) for k in range(len(table))]
  assert _rows(got) == _rows(want)


def test_unclosed_quote_names_the_line(tmp_path):
  path = write_text(str(tmp_path / "train.csv"),
                    'text,label\n"multi\nline",a\nok,b\n"never closed,c\nd,e\n')
  with pytest.raises(DataError) as e:
    get_processor("csv").get_train_examples(str(tmp_path))
  assert str(e.value) == ('%s line 5: the quote (") that opens a field here is never '
                          "closed; check the file's quoting" % path)


def test_carriage_return_inside_a_line(tmp_path):
  path = write_text(str(tmp_path / "train.tsv"), "text\tlabel\r\na\tb\r\nc\rd\te\n")
  with pytest.raises(DataError) as e:
    get_processor("tsv").get_train_examples(str(tmp_path))
  assert str(e.value) == (r"%s line 3: carriage return (\r) inside a line; convert the "
                          r"file's line endings to \n (e.g. with dos2unix)" % path)
  # In a quoted csv field a lone \r is text; outside one it is refused like in tsv.
  write_text(str(tmp_path / "train.csv"), 'text,label\n"a\rb",x\n')
  assert triples(get_processor("csv").get_train_examples(str(tmp_path))) == [
      ("train-0", "a\rb", None, "x")]
  write_text(str(tmp_path / "train.csv"), 'text,label\na\rb,x\n')
  with pytest.raises(DataError, match=r"train\.csv line 2: carriage return"):
    get_processor("csv").get_train_examples(str(tmp_path))


def test_short_rows_count_fields_as_written(tmp_path):
  # A quoted delimiter is no column; a blank line is a row of no columns.
  write_text(str(tmp_path / "train.csv"), 'a,b,c\n"x,y",1,z\n"p,q,r",2\n')
  with pytest.raises(DataError) as e:
    get_processor("csv", label_column=2).get_train_examples(str(tmp_path))
  assert "train.csv line 3: expected at least 3 comma-separated columns, found 2" in str(e.value)
  write_text(str(tmp_path / "train.tsv"), "t\tl\na\tx\n\nb\ty\n")
  with pytest.raises(DataError, match=r"train\.tsv line 3: expected at least 2 "
                     r"tab-separated columns, found 0"):
    get_processor("tsv").get_train_examples(str(tmp_path))
  # Empty fields are fields, extra fields are ignored.
  write_text(str(tmp_path / "train.tsv"), "t\tl\n\tx\nb\ty\tmore\textra\n")
  assert triples(get_processor("tsv").get_train_examples(str(tmp_path))) == [
      ("train-0", "", None, "x"), ("train-1", "b", None, "y")]


def test_long_record_spanning_lines_and_source_lines(tmp_path):
  # The second record has more fields than any line of the file.
  write_text(str(tmp_path / "train.csv"),
             'a,b\nx,"1\n2\n3",y,"4\n5",z,w\nlast,q\n')
  p = get_processor("csv", text_a_column=1, label_column=4, has_header=False)
  with pytest.raises(DataError, match=r"train\.csv line 1: expected at least 5 .* found 2"):
    p.get_train_examples(str(tmp_path))
  write_text(str(tmp_path / "train.csv"), 'x,"1\n2\n3",y,"4\n5",z,w\nlast,q,r,s,t\n')
  train = p.get_train_examples(str(tmp_path))
  assert triples(train) == [("train-0", "1\n2\n3", None, "z"), ("train-1", "q", None, "t")]
  assert [e.source_line for e in train] == [1, 5]
