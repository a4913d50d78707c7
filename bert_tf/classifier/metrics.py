"""The classifier's evaluation metrics and result files: eval metrics as the original's
tf.metrics computed them, eval_history / TensorBoard summaries, and test_results.tsv."""

import os

import numpy as np
import tensorflow as tf
from absl import logging


def eval_metrics(out, batch_size, is_regression):
  """The original's eval metrics, accumulated batch by batch in float32 like tf.metrics."""
  w = out["is_real_example"].astype(np.float32)
  per_loss = out["per_example_loss"].astype(np.float32)
  result = {}
  if is_regression:
    pred = out["probabilities"].astype(np.float64)
    gold = out["label_ids"].astype(np.float64)
    real = w > 0
    pred, gold = pred[real], gold[real]
    result["eval_pearson"] = np.float32(np.corrcoef(pred, gold)[0, 1]) if len(gold) > 1 else np.float32(0)
    rank = lambda x: _average_ranks(x)
    result["eval_spearman"] = np.float32(np.corrcoef(rank(pred), rank(gold))[0, 1]) if len(gold) > 1 else np.float32(0)
  else:
    correct = (np.argmax(out["logits"], axis=-1) == out["label_ids"]).astype(np.float32)
  acc_total = np.float32(0)
  loss_total = np.float32(0)
  count = np.float32(0)
  batch_loss_sum = np.float32(0)
  n_batches = 0
  for start in range(0, len(w), batch_size):
    sl = slice(start, start + batch_size)
    if not is_regression:
      acc_total = np.float32(acc_total + np.sum(correct[sl] * w[sl], dtype=np.float32))
    loss_total = np.float32(loss_total + np.sum(per_loss[sl] * w[sl], dtype=np.float32))
    count = np.float32(count + np.sum(w[sl], dtype=np.float32))
    batch_loss_sum = np.float32(batch_loss_sum + np.mean(per_loss[sl], dtype=np.float32))
    n_batches += 1
  if not is_regression:
    result["eval_accuracy"] = np.float32(acc_total / count) if count else np.float32(0)
  result["eval_loss"] = np.float32(loss_total / count) if count else np.float32(0)
  result["loss"] = np.float32(batch_loss_sum / n_batches) if n_batches else np.float32(0)
  return result


def _average_ranks(x):
  order = np.argsort(x, kind="mergesort")
  ranks = np.empty(len(x), np.float64)
  ranks[order] = np.arange(len(x), dtype=np.float64)
  # ties get the average rank
  _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
  sums = np.zeros(len(counts))
  np.add.at(sums, inverse, ranks)
  return (sums / counts)[inverse]


def read_metric(path, metric):
  """The value of `metric` in an eval_results.txt, or None."""
  try:
    with open(path, encoding="utf-8") as f:
      for line in f:
        key, _, value = line.strip().partition(" = ")
        if key == metric:
          return float(value)
  except OSError:
    pass
  return None


def append_eval_history(path, metrics):
  """One block of sorted `key = value` lines and a blank line (output_dir/eval_history.txt)."""
  with open(path, "a", encoding="utf-8") as f:
    f.write("".join("%s = %s\n" % (k, str(metrics[k])) for k in sorted(metrics)) + "\n")


def write_test_results(path, probabilities, num_actual):
  """One line per real example, in input order: str() of each float32, tab-separated."""
  logging.info("***** Predict results *****")
  tmp = path + ".tmp"
  num_written = 0
  with open(tmp, "w", encoding="utf-8") as f:
    for i, probs in enumerate(probabilities):
      if i >= num_actual:
        break
      probs = np.atleast_1d(np.asarray(probs, dtype=np.float32))
      f.write("\t".join(str(p) for p in probs) + "\n")
      num_written += 1
  if num_written != num_actual:
    raise RuntimeError("wrote %d predictions for %d examples" % (num_written, num_actual))
  os.replace(tmp, path)


def write_eval_summaries(output_dir, metrics, step):
  """The metrics as TensorBoard scalars in output_dir/eval."""
  writer = tf.summary.create_file_writer(os.path.join(output_dir, "eval"))
  with writer.as_default(step=int(step)):
    for key, value in metrics.items():
      if key != "global_step":
        tf.summary.scalar(key, float(value))
  writer.flush()
