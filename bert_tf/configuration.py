"""BertConfig: the model hyper-parameters of a `bert_config.json`."""

import copy
import json

from bert_tf.errors import InputError


class BertConfig(object):
  """Configuration of a BERT model, with the original google-research/bert defaults.

  Note the original default type_vocab_size is 16; every released
  bert_config.json overrides it with 2.
  """

  def __init__(self,
               vocab_size,
               hidden_size=768,
               num_hidden_layers=12,
               num_attention_heads=12,
               intermediate_size=3072,
               hidden_act="gelu",
               hidden_dropout_prob=0.1,
               attention_probs_dropout_prob=0.1,
               max_position_embeddings=512,
               type_vocab_size=16,
               initializer_range=0.02):
    self.vocab_size = vocab_size
    self.hidden_size = hidden_size
    self.num_hidden_layers = num_hidden_layers
    self.num_attention_heads = num_attention_heads
    self.hidden_act = hidden_act
    self.intermediate_size = intermediate_size
    self.hidden_dropout_prob = hidden_dropout_prob
    self.attention_probs_dropout_prob = attention_probs_dropout_prob
    self.max_position_embeddings = max_position_embeddings
    self.type_vocab_size = type_vocab_size
    self.initializer_range = initializer_range

  @classmethod
  def from_dict(cls, json_object):
    """Starts from the defaults and copies every key, known or not (as the original)."""
    config = BertConfig(vocab_size=None)
    for key, value in json_object.items():
      config.__dict__[key] = value
    return config

  @classmethod
  def from_json_file(cls, json_file):
    """Reads a bert_config.json; bad input raises a one-line ValueError naming the file."""
    try:
      with open(json_file, "r", encoding="utf-8") as reader:
        text = reader.read()
    except FileNotFoundError:
      raise ValueError("%s: bert_config_file not found" % json_file)
    except IsADirectoryError:
      raise ValueError("%s: is a directory, expected bert_config.json" % json_file)
    except UnicodeDecodeError:
      raise ValueError("%s: bert_config_file is not UTF-8 text" % json_file)
    try:
      obj = json.loads(text)
    except json.JSONDecodeError as e:
      raise ValueError("%s: not valid JSON (line %d column %d: %s)" %
                       (json_file, e.lineno, e.colno, e.msg))
    if not isinstance(obj, dict):
      raise ValueError("%s: expected a JSON object of BERT hyper-parameters" % json_file)
    if obj.get("vocab_size") is None:
      raise ValueError("%s: missing required key \"vocab_size\" (it must equal the "
                       "number of lines of vocab.txt)" % json_file)
    config = cls.from_dict(obj)
    config.validate(json_file)
    return config

  def validate(self, source="bert_config"):
    """Checks the values the model code relies on; raises a one-line ValueError."""
    for key in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                "intermediate_size", "max_position_embeddings", "type_vocab_size"):
      value = getattr(self, key)
      if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError("%s: \"%s\" must be a positive integer, got %r" % (source, key, value))
    if self.hidden_size % self.num_attention_heads != 0:
      raise ValueError(
          "%s: The hidden size (%d) is not a multiple of the number of attention heads (%d)" %
          (source, self.hidden_size, self.num_attention_heads))

  def check_max_seq_length(self, max_seq_length):
    """The original's check that sequences fit the position table (one-line InputError,
    a ValueError as the original's)."""
    if max_seq_length > self.max_position_embeddings:
      raise InputError(
          "Cannot use sequence length %d because the BERT model was only trained up to sequence "
          "length %d" % (max_seq_length, self.max_position_embeddings))

  def to_dict(self):
    return copy.deepcopy(self.__dict__)

  def to_json_string(self):
    return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"
