import json

import pytest

from bert_tf.configuration import BertConfig


def test_defaults_match_the_original():
  c = BertConfig(vocab_size=99)
  assert (c.hidden_size, c.num_hidden_layers, c.num_attention_heads, c.intermediate_size) == \
      (768, 12, 12, 3072)
  assert (c.hidden_act, c.hidden_dropout_prob, c.attention_probs_dropout_prob) == ("gelu", 0.1, 0.1)
  assert (c.max_position_embeddings, c.type_vocab_size, c.initializer_range) == (512, 16, 0.02)


def test_to_json_string_sorted_indent_2():
  c = BertConfig(vocab_size=99, hidden_size=37)
  text = c.to_json_string()
  obj = json.loads(text)
  assert obj["vocab_size"] == 99 and obj["hidden_size"] == 37
  assert text == json.dumps(obj, indent=2, sort_keys=True) + "\n"


def test_from_dict_keeps_every_key(tmp_path):
  d = {"vocab_size": 21128, "hidden_size": 768, "directionality": "bidi", "pooler_fc_size": 768}
  p = tmp_path / "bert_config.json"
  p.write_text(json.dumps(d))
  c = BertConfig.from_json_file(str(p))
  assert c.directionality == "bidi" and c.pooler_fc_size == 768
  assert c.type_vocab_size == 16  # default kept where the file is silent
  assert json.loads(c.to_json_string())["directionality"] == "bidi"


@pytest.mark.parametrize("content,match", [
    ("{not json", r"bert_config\.json: not valid JSON \(line 1 column 2"),
    ('{"hidden_size": 32}', r"bert_config\.json: missing required key \"vocab_size\""),
    ("[1, 2]", r"bert_config\.json: expected a JSON object"),
    ('{"vocab_size": 10, "hidden_size": 30, "num_attention_heads": 4}', r"not a multiple"),
])
def test_bad_config_is_one_line_error_naming_the_file(tmp_path, content, match):
  p = tmp_path / "bert_config.json"
  p.write_text(content)
  with pytest.raises(ValueError, match=match) as e:
    BertConfig.from_json_file(str(p))
  assert str(p) in str(e.value) and "\n" not in str(e.value)


def test_missing_config_file(tmp_path):
  with pytest.raises(ValueError, match="not found"):
    BertConfig.from_json_file(str(tmp_path / "nope.json"))
