"""The model files every inference tool opens first, checked before a model is built.

`load_config`: bert_config.json, checked against the max_seq_length a user asked
for (max_position_embeddings); `model_length`: the length a tool uses when none
was asked for.  `load_tokenizer`: the FullTokenizer of vocab.txt,
whose size must match the config's vocab_size, and the special tokens the tool
needs.
InputError is the inference tools' user error (bad text or settings);
its message is one line.
"""

from bert_tf import tokenization
from bert_tf.configuration import BertConfig
from bert_tf.errors import InputError  # noqa: F401  (the tools' user error, re-exported)

# extract_features.py's default (the original's); predict.py and fill_mask.py size themselves.
DEFAULT_MAX_SEQ_LENGTH = 128


def load_config(bert_config_file, max_seq_length=None, source=None):
  """BertConfig of `bert_config_file`, checked against a max_seq_length someone asked for.

  max_seq_length None means "not asked for": the tool sizes itself (model_length)
  and nothing is checked.  A length longer than the model's position table is a
  one-line InputError naming the file and the key; `source` names a file the
  length came from (None: the --max_seq_length flag).
  """
  config = BertConfig.from_json_file(bert_config_file)
  if max_seq_length is not None:
    config.check_requested_length(max_seq_length, bert_config_file, source)
  return config


def model_length(config, max_seq_length=None, default=None):
  """The max_seq_length a tool uses: the one asked for, else `default` (extract_features'
  original 128) capped at the model's max_position_embeddings, else the model's
  max_position_embeddings -- fill_mask pads each batch only to its longest text and
  predict trims the padding, so this costs nothing and truncates nothing the model
  could take."""
  if max_seq_length is not None:
    return max_seq_length
  limit = config.max_position_embeddings
  return min(default, limit) if default else limit


def load_tokenizer(vocab_file, do_lower_case, config, bert_config_file,
                   needed=tokenization.SPECIAL_TOKENS):
  """FullTokenizer of `vocab_file`, checked against config.vocab_size and for the
  `needed` special tokens."""
  return tokenization.load_tokenizer(vocab_file, do_lower_case, config.vocab_size,
                                    bert_config_file, needed)
