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


TINY_CONFIG = {"attention_probs_dropout_prob": 0.1, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
               "hidden_size": 32, "initializer_range": 0.02, "intermediate_size": 64,
               "max_position_embeddings": 64, "num_attention_heads": 4, "num_hidden_layers": 2,
               "type_vocab_size": 2, "vocab_size": 30522}


@pytest.mark.parametrize("key,value,message", [
    ("hidden_dropout_prob", 1, '"hidden_dropout_prob" must be a probability in [0, 1), got 1'),
    ("hidden_dropout_prob", -0.1, "in [0, 1), got -0.1"),
    ("hidden_dropout_prob", None, "in [0, 1), got null"),
    ("hidden_dropout_prob", float("nan"), "in [0, 1), got NaN"),
    ("attention_probs_dropout_prob", True, '"attention_probs_dropout_prob" must be a '
     'probability in [0, 1), got true'),
    ("hidden_act", "swish", '"hidden_act" must be one of gelu, relu, tanh, linear, got "swish"'),
    ("hidden_act", None, "got null"),
    ("hidden_act", "", 'got ""'),
    ("hidden_act", 3, "got 3"),
    ("initializer_range", 0, '"initializer_range" must be a positive number'),
    ("initializer_range", -0.02, "got -0.02"),
    ("initializer_range", float("inf"), "got Infinity"),
    ("initializer_range", "0.02", 'got "0.02"'),
    ("hidden_size", 32.0, '"hidden_size" must be a positive integer, got 32.0'),
    ("num_hidden_layers", -2, '"num_hidden_layers" must be a positive integer, got -2'),
    ("intermediate_size", "64", '"intermediate_size" must be a positive integer, got "64"'),
    ("max_position_embeddings", None, '"max_position_embeddings" must be a positive integer, '
     "got null"),
    ("type_vocab_size", 0, '"type_vocab_size" must be a positive integer, got 0'),
    ("num_attention_heads", 64, 'not a multiple of the number of attention heads (64) '
     '("hidden_size", "num_attention_heads")'),
    ("hidden_size", 10 ** 7, 'most of it comes from "num_hidden_layers" = 2, "hidden_size" = '
     '10000000, "intermediate_size" = 64: check those keys'),
    ("max_position_embeddings", 10 ** 12, 'most of it comes from "max_position_embeddings" = '
     '1000000000000, "hidden_size" = 32'),
])
def test_every_bad_value_names_the_file_and_the_key(tmp_path, key, value, message):
  p = tmp_path / "bert_config.json"
  p.write_text(json.dumps(dict(TINY_CONFIG, **{key: value})))
  with pytest.raises(ValueError) as e:
    BertConfig.from_json_file(str(p))
  assert str(e.value).startswith("%s: " % p) and message in str(e.value)
  assert "\n" not in str(e.value)


@pytest.mark.parametrize("key,value", [
    ("hidden_act", "GELU"), ("hidden_act", "relu"), ("hidden_act", "linear"),
    ("hidden_act", "tanh"), ("hidden_dropout_prob", 0), ("attention_probs_dropout_prob", 0.5),
    ("type_vocab_size", 1), ("initializer_range", 1)])
def test_unusual_but_valid_values_are_accepted(tmp_path, key, value):
  p = tmp_path / "bert_config.json"
  p.write_text(json.dumps(dict(TINY_CONFIG, **{key: value})))
  assert getattr(BertConfig.from_json_file(str(p)), key) == value


def test_a_callable_activation_is_accepted_from_code():
  c = BertConfig(vocab_size=10, hidden_size=8, num_attention_heads=2, intermediate_size=8,
                 hidden_act=lambda x: x)
  c.validate()
