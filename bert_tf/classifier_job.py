"""The run_classifier job: TSV files -> features -> train / eval / predict -> files.

`run(ClassifierJob(...))` does what the original run_classifier.py `main` does,
in the same order, with the same log lines and output files; run_classifier.py
only turns flags into a ClassifierJob.
"""

import dataclasses
import json
import os
import time
from typing import Optional

import numpy as np
import tensorflow as tf
from absl import logging

from bert_tf import checkpoints, modeling, optimization, tokenization, training
from bert_tf.configuration import BertConfig
from bert_tf.data.examples import pad_examples_for_tpu
from bert_tf.data.features import example_label_id, make_label_map
from bert_tf.data.pipeline import make_dataset
from bert_tf.data.records import file_based_convert_examples_to_features
from bert_tf.data.tasks import get_processor


@dataclasses.dataclass
class ClassifierJob:
  """Arguments of one run_classifier invocation (the original flags + our additions)."""
  data_dir: str
  bert_config_file: str
  task_name: str
  vocab_file: str
  output_dir: str
  init_checkpoint: Optional[str] = None
  do_lower_case: bool = True
  max_seq_length: int = 128
  do_train: bool = False
  do_eval: bool = False
  do_predict: bool = False
  train_batch_size: int = 32
  eval_batch_size: int = 8
  predict_batch_size: int = 8
  learning_rate: float = 5e-5
  num_train_epochs: float = 3.0
  warmup_proportion: float = 0.1
  save_checkpoints_steps: int = 1000
  iterations_per_loop: int = 1000
  use_tpu: bool = False
  tpu_name: Optional[str] = None
  tpu_zone: Optional[str] = None
  gcp_project: Optional[str] = None
  master: Optional[str] = None
  num_tpu_cores: int = 8
  # ---- additive options (defaults keep the original behaviour)
  seed: Optional[int] = None
  lr_schedule: str = "original"      # "original" (schedule(k+1), as TF1 ran it) or "intended"
  optimizer: str = "adamw"
  gradient_accumulation_steps: int = 1
  use_xla: bool = False
  dtype: str = "float32"             # compute dtype: float32, bfloat16 or float16 (mixed)
  distribution: str = "auto"
  trim_padding: bool = True          # skip padded positions (exact); off on TPU (fixed shapes)
  eval_every_steps: int = 0          # evaluate on dev while training (0 = off)
  eval_every_epoch: bool = False
  best_metric: str = ""              # default: eval_accuracy (eval_pearson for regression)
  early_stopping_patience: int = 0   # stop after K evaluations without improvement (0 = off)
  bert_hub_module_handle: Optional[str] = None  # encoder, vocab and casing from a TF Hub module
  export_dir: Optional[str] = None   # also write a serving SavedModel (raw text in) here
  generic_options: dict = dataclasses.field(default_factory=dict)


def _validate(job):
  """The original main's checks, in the original order.

  With a TF Hub module (as run_classifier_with_tfhub.py) the config, vocab and
  casing come from the module and vocab_file / bert_config_file /
  init_checkpoint / do_lower_case are ignored.  Returns (config, processor,
  hub encoder or None).
  """
  encoder = None
  if job.bert_hub_module_handle:
    from bert_tf.interop import hub
    encoder = hub.load_hub_encoder(job.bert_hub_module_handle)
    if not encoder.mappable:
      raise ValueError("%s: this SavedModel's variables do not map to BERT variable names, so "
                       "run_classifier cannot fine-tune it; see "
                       "bert_tf.interop.hub_encoder.SavedModelEncoder for a Keras layer that can"
                       % job.bert_hub_module_handle)
    job.vocab_file = encoder.vocab_file
    if encoder.do_lower_case is not None:
      job.do_lower_case = bool(encoder.do_lower_case)
    job.init_checkpoint = None
  else:
    tokenization.validate_case_matches_checkpoint(job.do_lower_case, job.init_checkpoint)
  if not job.do_train and not job.do_eval and not job.do_predict:
    raise ValueError("At least one of `do_train`, `do_eval` or `do_predict' must be True.")
  config = encoder.config if encoder else BertConfig.from_json_file(job.bert_config_file)
  if job.max_seq_length > config.max_position_embeddings:
    raise ValueError(
        "Cannot use sequence length %d because the BERT model was only trained up to sequence "
        "length %d" % (job.max_seq_length, config.max_position_embeddings))
  try:
    os.makedirs(job.output_dir, exist_ok=True)
  except OSError as e:
    raise ValueError("%s: cannot create output_dir (%s)" % (job.output_dir, e.strerror))
  if not os.access(job.output_dir, os.W_OK):
    raise ValueError("%s: output_dir is not writable" % job.output_dir)
  processor = get_processor(job.task_name.lower(), **job.generic_options)
  return config, processor, encoder


def _read_examples(job, processor, label_list):
  """Reads every split this run uses and checks every label, before any file is written."""
  examples = {}
  if job.do_train:
    examples["train"] = processor.get_train_examples(job.data_dir)
  if job.do_eval:
    examples["eval"] = processor.get_dev_examples(job.data_dir)
  if job.do_predict:
    examples["predict"] = processor.get_test_examples(job.data_dir)
  label_map = make_label_map(label_list)
  for split in examples.values():
    for example in split:
      example_label_id(example, label_map, label_list)
  return examples


def _build(job, config, num_labels, strategy, num_train_steps=0, num_warmup_steps=0):
  with strategy.scope(), modeling.dtype_policy(job.dtype):
    model = modeling.BertClassifier(config, num_labels)
    model.build()
    # Per-token layers on the real tokens only (exact; XLA needs static shapes).
    model.bert.skip_padding = _trim(job) and not job.use_xla
    model.bert.fused_gelu = True  # one XLA kernel per bucketed shape (modeling.gelu)
    optimizer = optimization.create_optimizer(
        job.optimizer, job.learning_rate, num_train_steps, num_warmup_steps,
        lr_step_offset=1 if job.lr_schedule == "original" else 0)
  return model, optimizer


def _trim(job):
  return job.trim_padding and not job.use_tpu


def _loss_fn(model, num_labels):
  def loss_fn(features, training):
    logits = model(features, training=training)
    return modeling.classifier_outputs(logits, features["label_ids"], num_labels)["loss"]
  return loss_fn


def _predict_fn(model, num_labels):
  def predict_fn(features):
    logits = model(features, training=False)
    out = modeling.classifier_outputs(logits, features["label_ids"], num_labels)
    return {"probabilities": out["probabilities"], "per_example_loss": out["per_example_loss"],
            "logits": logits, "label_ids": features["label_ids"],
            "is_real_example": features["is_real_example"]}
  return predict_fn


def _eval_metrics(out, batch_size, is_regression):
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


def run(job):
  """Runs the job; returns {"train": ..., "eval": metrics or None, "predict": path or None}."""
  config, processor, encoder = _validate(job)
  init = job.init_checkpoint
  if encoder is not None:
    def init(variables):
      names = encoder.restore(variables)
      logging.info("Initialised %d variables from the TF Hub module %s", len(names), encoder.path)
  if job.seed is not None:
    training.seed_everything(job.seed)
  label_list = processor.get_labels()
  is_regression = getattr(processor, "is_regression", False)
  num_labels = 1 if is_regression else len(label_list)
  tokenizer = tokenization.FullTokenizer(vocab_file=job.vocab_file,
                                         do_lower_case=job.do_lower_case)
  tokenization.check_vocab_size(tokenizer.vocab, config.vocab_size, job.vocab_file,
                                 job.bert_config_file)
  examples = _read_examples(job, processor, label_list)
  strategy = training.resolve_strategy(job.use_tpu, job.tpu_name, job.tpu_zone, job.gcp_project,
                                       job.master, job.num_tpu_cores, job.distribution)
  results = {"train": None, "eval": None, "predict": None}

  if job.do_train:
    train_examples = examples["train"]
    num_train_steps = int(len(train_examples) / job.train_batch_size * job.num_train_epochs)
    num_warmup_steps = int(num_train_steps * job.warmup_proportion)
    model, optimizer = _build(job, config, num_labels, strategy, num_train_steps, num_warmup_steps)
    training.check_checkpoints(model.original_variables(), job.output_dir, job.init_checkpoint)
    _write_run_config(job, label_list, is_regression)
    train_file = os.path.join(job.output_dir, "train.tf_record")
    file_based_convert_examples_to_features(
        train_examples, label_list, job.max_seq_length, tokenizer, train_file)
    logging.info("***** Running training *****")
    logging.info("  Num examples = %d", len(train_examples))
    logging.info("  Batch size = %d", job.train_batch_size)
    logging.info("  Num steps = %d", num_train_steps)
    dataset = make_dataset(
        train_file, job.max_seq_length, job.train_batch_size, is_training=True,
        drop_remainder=True, is_regression=is_regression, seed=job.seed)
    trainer = training.Trainer(
        strategy, model, model.original_variables(), optimizer, _loss_fn(model, num_labels),
        job.output_dir, save_checkpoints_steps=job.save_checkpoints_steps,
        steps_per_loop=job.iterations_per_loop if job.use_tpu else 1,
        gradient_accumulation_steps=job.gradient_accumulation_steps, use_xla=job.use_xla,
        trim=_trim(job), loss_scaling=job.dtype == "float16")
    every = job.eval_every_steps or (
        max(1, int(len(train_examples) / job.train_batch_size)) if job.eval_every_epoch else 0)
    evaluate_fn = None
    if every:
      evaluate_fn = _evaluator(job, strategy, model, num_labels, is_regression, processor,
                               label_list, tokenizer)
    stop_marker = os.path.join(job.output_dir, "early_stopped.txt")
    if os.path.exists(stop_marker):
      logging.info("Skipping training: early stopping ended it before (%s).", stop_marker)
    else:
      results["train"] = trainer.train(dataset, num_train_steps, job.train_batch_size,
                                       init_checkpoint=init,
                                       evaluate_every=every, evaluate_fn=evaluate_fn)
      if results["train"]["stopped_early"]:
        with open(stop_marker, "w", encoding="utf-8") as f:
          f.write("global_step = %d\n" % results["train"]["global_step"])

  if job.do_eval or job.do_predict or job.export_dir:
    model, _ = _build(job, config, num_labels, strategy)
    variables = model.original_variables()
    training.check_checkpoints(variables, job.output_dir, job.init_checkpoint)
    used, global_step = training.load_for_inference(variables, job.output_dir, init)
    predict_fn = _predict_fn(model, num_labels)

  if job.do_eval:
    eval_examples = examples["eval"]
    num_actual = len(eval_examples)
    if job.use_tpu:
      eval_examples = pad_examples_for_tpu(eval_examples, job.eval_batch_size)
    eval_file = os.path.join(job.output_dir, "eval.tf_record")
    file_based_convert_examples_to_features(
        eval_examples, label_list, job.max_seq_length, tokenizer, eval_file)
    logging.info("***** Running evaluation *****")
    logging.info("  Num examples = %d (%d actual, %d padding)", len(eval_examples), num_actual,
                 len(eval_examples) - num_actual)
    logging.info("  Batch size = %d", job.eval_batch_size)
    dataset = make_dataset(
        eval_file, job.max_seq_length, job.eval_batch_size, is_training=False,
        drop_remainder=job.use_tpu, is_regression=is_regression)
    t0 = time.time()
    out = training.predict_batches(strategy, predict_fn, dataset, trim=_trim(job),
                                   use_xla=job.use_xla)
    metrics = _eval_metrics(out, job.eval_batch_size, is_regression)
    metrics["global_step"] = np.int64(global_step)
    logging.info("Evaluation took %.1f s", time.time() - t0)
    logging.info("***** Eval results *****")
    training.write_key_values(os.path.join(job.output_dir, "eval_results.txt"), metrics)
    _eval_summaries(job.output_dir, metrics, global_step)
    results["eval"] = metrics

  if job.do_predict:
    predict_examples = examples["predict"]
    num_actual = len(predict_examples)
    if job.use_tpu:
      predict_examples = pad_examples_for_tpu(predict_examples, job.predict_batch_size)
    predict_file = os.path.join(job.output_dir, "predict.tf_record")
    file_based_convert_examples_to_features(
        predict_examples, label_list, job.max_seq_length, tokenizer, predict_file)
    logging.info("***** Running prediction*****")
    logging.info("  Num examples = %d (%d actual, %d padding)", len(predict_examples), num_actual,
                 len(predict_examples) - num_actual)
    logging.info("  Batch size = %d", job.predict_batch_size)
    dataset = make_dataset(
        predict_file, job.max_seq_length, job.predict_batch_size, is_training=False,
        drop_remainder=job.use_tpu, is_regression=is_regression)
    out = training.predict_batches(strategy, predict_fn, dataset, trim=_trim(job),
                                   use_xla=job.use_xla)
    path = os.path.join(job.output_dir, "test_results.tsv")
    write_test_results(path, out["probabilities"], num_actual)
    results["predict"] = path

  if job.export_dir:
    from bert_tf.interop import serving
    serving.export_classifier(model, job.vocab_file, job.do_lower_case, job.max_seq_length,
                              label_list, job.export_dir, is_regression=is_regression)
    logging.info("Exported the classifier (global_step %d) as a SavedModel to %s", global_step,
                 job.export_dir)
    results["export"] = job.export_dir
  return results


def _write_run_config(job, label_list, is_regression):
  """output_dir/run_config.json: what predict.py needs to rebuild the features and labels."""
  config = {"task_name": job.task_name,
            "bert_config_file": os.path.abspath(job.bert_config_file) if job.bert_config_file else None,
            "vocab_file": os.path.abspath(job.vocab_file), "do_lower_case": bool(job.do_lower_case),
            "max_seq_length": int(job.max_seq_length),
            "label_list": [] if is_regression else [str(l) for l in label_list]}
  if job.bert_hub_module_handle:
    config["bert_hub_module_handle"] = job.bert_hub_module_handle
  path = os.path.join(job.output_dir, "run_config.json")
  with open(path + ".tmp", "w", encoding="utf-8") as f:
    json.dump(config, f, indent=2, sort_keys=True)
  os.replace(path + ".tmp", path)


def _evaluator(job, strategy, model, num_labels, is_regression, processor, label_list, tokenizer):
  """evaluate_fn(step) for Trainer.train: dev metrics with the current weights, appended to
  eval_history.txt and TensorBoard; the best checkpoint by `best_metric` is kept in
  output_dir/best/ (original names); returns True when early stopping should stop."""
  metric = job.best_metric or ("eval_pearson" if is_regression else "eval_accuracy")
  lower_is_better = metric.endswith("loss")
  eval_examples = processor.get_dev_examples(job.data_dir)
  eval_file = os.path.join(job.output_dir, "eval.tf_record")
  file_based_convert_examples_to_features(
      eval_examples, label_list, job.max_seq_length, tokenizer, eval_file)
  dataset = make_dataset(eval_file, job.max_seq_length, job.eval_batch_size,
                         is_training=False, drop_remainder=False,
                         is_regression=is_regression)
  predict_fn = _predict_fn(model, num_labels)
  best_dir = os.path.join(job.output_dir, "best")
  state = {"best": _read_metric(os.path.join(best_dir, "eval_results.txt"), metric), "bad": 0}

  def evaluate(step):
    out = training.predict_batches(strategy, predict_fn, dataset, trim=_trim(job),
                                   use_xla=job.use_xla)
    metrics = _eval_metrics(out, job.eval_batch_size, is_regression)
    metrics["global_step"] = np.int64(step)
    if metric not in metrics:
      raise ValueError("--best_metric=%s is not an eval metric of this task (%s)" %
                       (metric, ", ".join(sorted(metrics))))
    logging.info("***** Eval results at step %d *****", step)
    with open(os.path.join(job.output_dir, "eval_history.txt"), "a", encoding="utf-8") as f:
      f.write("".join("%s = %s\n" % (k, str(metrics[k])) for k in sorted(metrics)) + "\n")
    _eval_summaries(job.output_dir, metrics, step)
    value = float(metrics[metric])
    improved = state["best"] is None or (value < state["best"] if lower_is_better
                                         else value > state["best"])
    if improved:
      state["best"], state["bad"] = value, 0
      checkpoints.save_checkpoint(best_dir, step, model.original_variables(), max_to_keep=1)
      training.write_key_values(os.path.join(best_dir, "eval_results.txt"), metrics)
      logging.info("New best %s = %s at step %d, saved to %s", metric, metrics[metric], step,
                   best_dir)
    else:
      state["bad"] += 1
      logging.info("%s = %s did not improve on %s (%d evaluation(s) without improvement)",
                   metric, metrics[metric], state["best"], state["bad"])
    return bool(job.early_stopping_patience) and state["bad"] >= job.early_stopping_patience

  return evaluate


def _read_metric(path, metric):
  try:
    with open(path, encoding="utf-8") as f:
      for line in f:
        key, _, value = line.strip().partition(" = ")
        if key == metric:
          return float(value)
  except OSError:
    pass
  return None


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


def _eval_summaries(output_dir, metrics, step):
  writer = tf.summary.create_file_writer(os.path.join(output_dir, "eval"))
  with writer.as_default(step=int(step)):
    for key, value in metrics.items():
      if key != "global_step":
        tf.summary.scalar(key, float(value))
  writer.flush()
