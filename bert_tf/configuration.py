"""BertConfig: the model hyper-parameters of a `bert_config.json`."""

import copy
import json
import math
import os

from bert_tf.errors import InputError

# The keys that are sizes (positive integers), and the hidden_act values get_activation knows
# (case-insensitive, as the original).
SIZE_KEYS = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
             "intermediate_size", "max_position_embeddings", "type_vocab_size")
ACTIVATIONS = ("gelu", "relu", "tanh", "linear")


def _is_number(value):
  return isinstance(value, (int, float)) and not isinstance(value, bool) and \
      not math.isnan(value)


def _shown(value):
  """A config value as the JSON file spells it (null, true, "text", 0.5)."""
  try:
    return json.dumps(value)
  except (TypeError, ValueError):
    return repr(value)


def _physical_memory():
  """Bytes of RAM, or None where the OS does not say."""
  try:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
  except (AttributeError, ValueError, OSError):
    return None


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
    """Checks every value the model code relies on, so that no bad value reaches Keras or
    TensorFlow (whose errors name neither the file nor the key); raises a one-line
    ValueError naming `source` (the file) and the key."""
    for key in SIZE_KEYS:
      value = getattr(self, key)
      if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError("%s: \"%s\" must be a positive integer, got %s" %
                         (source, key, _shown(value)))
    if self.hidden_size % self.num_attention_heads != 0:
      raise ValueError(
          "%s: The hidden size (%d) is not a multiple of the number of attention heads (%d) "
          "(\"hidden_size\", \"num_attention_heads\")" %
          (source, self.hidden_size, self.num_attention_heads))
    for key in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
      value = getattr(self, key)
      if not _is_number(value) or not 0 <= value < 1:
        raise ValueError("%s: \"%s\" must be a probability in [0, 1), got %s" %
                         (source, key, _shown(value)))
    act = self.hidden_act
    if not callable(act) and (not isinstance(act, str) or act.lower() not in ACTIVATIONS):
      raise ValueError("%s: \"hidden_act\" must be one of %s, got %s" %
                       (source, ", ".join(ACTIVATIONS), _shown(act)))
    value = self.initializer_range
    if not _is_number(value) or not 0 < value < float("inf"):
      raise ValueError("%s: \"initializer_range\" must be a positive number (the standard "
                       "deviation of the initial weights, 0.02 in Google's models), got %s" %
                       (source, _shown(value)))
    self._check_fits_in_memory(source)

  def _check_fits_in_memory(self, source):
    """A size typo (hidden_size 76800) would otherwise end in an allocation failure or an
    out-of-memory kill long after start; refuse weights larger than the machine's memory."""
    h, i = self.hidden_size, self.intermediate_size
    parts = [(("vocab_size", "hidden_size"), self.vocab_size * h),
             (("max_position_embeddings", "hidden_size"), self.max_position_embeddings * h),
             (("type_vocab_size", "hidden_size"), self.type_vocab_size * h),
             (("num_hidden_layers", "hidden_size", "intermediate_size"),
              self.num_hidden_layers * (4 * h * h + 2 * h * i))]
    params = sum(n for _, n in parts)
    memory = _physical_memory()
    if not memory or params * 4 <= memory:
      return
    keys, _ = max(parts, key=lambda part: part[1])
    raise ValueError(
        "%s: these sizes make a model of %.3g parameters (%.3g GB of float32 weights), more "
        "than this machine's memory (%.1f GB); most of it comes from %s: check those keys" %
        (source, params, params * 4 / 1e9, memory / 1e9,
         ", ".join("\"%s\" = %d" % (k, getattr(self, k)) for k in keys)))

  def check_max_seq_length(self, max_seq_length):
    """The original's check that sequences fit the position table (one-line InputError,
    a ValueError as the original's)."""
    if max_seq_length > self.max_position_embeddings:
      raise InputError(
          "Cannot use sequence length %d because the BERT model was only trained up to sequence "
          "length %d" % (max_seq_length, self.max_position_embeddings))

  def check_requested_length(self, max_seq_length, config_file, source=None):
    """check_max_seq_length for the tools that can size themselves: a one-line InputError
    naming the file and the key, and the fix (`source`: a file the length was read from;
    None: the --max_seq_length flag)."""
    limit = self.max_position_embeddings
    if max_seq_length > limit:
      fix = ("pass --max_seq_length=%d or less, or leave it out to fit the input" % limit
             if source is None else "%s asks for %d: pass that run's bert_config.json, or "
             "--max_seq_length=%d or less" % (source, max_seq_length, limit))
      raise InputError(
          "Cannot use sequence length %d because the BERT model was only trained up to "
          "sequence length %d (\"max_position_embeddings\" in %s); %s" %
          (max_seq_length, limit, config_file, fix))

  def check_pairs(self, config_file, first_pair, fix="give one text per line"):
    """InputError when a sentence pair (`first_pair`: where the first one is, or None) meets a
    model with one token type: its second text would get token type 1, which the model has
    no embedding for (the one-hot lookup silently gives a zero vector)."""
    if first_pair is not None and self.type_vocab_size < 2:
      raise InputError(
          "%s: a sentence pair needs token type 1, but %s has \"type_vocab_size\" = %d (the "
          "model takes single texts only); %s" %
          (first_pair, config_file, self.type_vocab_size, fix))

  def to_dict(self):
    return copy.deepcopy(self.__dict__)

  def to_json_string(self):
    return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"
