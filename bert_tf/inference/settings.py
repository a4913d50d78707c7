"""The model files every inference tool opens first, checked before a model is built.

`load_config`: bert_config.json, and the max_seq_length it allows
(max_position_embeddings).  `load_tokenizer`: the FullTokenizer of vocab.txt,
whose size must match the config's vocab_size, and the special tokens the tool
needs.  InputError is the inference tools' user error (bad text or settings);
its message is one line.
"""

from bert_tf import tokenization
from bert_tf.configuration import BertConfig
from bert_tf.errors import InputError  # noqa: F401  (the tools' user error, re-exported)

DEFAULT_MAX_SEQ_LENGTH = 128


def load_config(bert_config_file, max_seq_length):
  """BertConfig of `bert_config_file`; ValueError if max_seq_length is longer than it allows."""
  config = BertConfig.from_json_file(bert_config_file)
  config.check_max_seq_length(max_seq_length)
  return config


def load_tokenizer(vocab_file, do_lower_case, config, bert_config_file,
                   needed=tokenization.SPECIAL_TOKENS):
  """FullTokenizer of `vocab_file`, checked against config.vocab_size and for the
  `needed` special tokens."""
  return tokenization.load_tokenizer(vocab_file, do_lower_case, config.vocab_size,
                                    bert_config_file, needed)
