"""The run_pretraining job: TFRecords of MLM+NSP instances -> train / eval -> files.

Same input pipeline, losses, metrics, checkpoints and log lines as the original
run_pretraining.py; the training loop, resume and strategy handling are the
shared bert_tf.training.Trainer.
"""

import dataclasses
import glob
import os
from typing import Optional

import numpy as np
import tensorflow as tf
from absl import logging

from bert_tf import checkpoints, modeling, optimization, training
from bert_tf.data import pipeline
from bert_tf.configuration import BertConfig


class PretrainingDataError(ValueError):
  """Pretraining input that cannot be used; one line naming the file."""


@dataclasses.dataclass
class PretrainingJob:
  bert_config_file: str
  input_file: str
  output_dir: str
  init_checkpoint: Optional[str] = None
  max_seq_length: int = 128
  max_predictions_per_seq: int = 20
  do_train: bool = False
  do_eval: bool = False
  train_batch_size: int = 32
  eval_batch_size: int = 8
  learning_rate: float = 5e-5
  num_train_steps: int = 100000
  num_warmup_steps: int = 10000
  save_checkpoints_steps: int = 1000
  iterations_per_loop: int = 1000
  max_eval_steps: int = 100
  use_tpu: bool = False
  tpu_name: Optional[str] = None
  tpu_zone: Optional[str] = None
  gcp_project: Optional[str] = None
  master: Optional[str] = None
  num_tpu_cores: int = 8
  # ---- additive options
  seed: Optional[int] = None
  lr_schedule: str = "original"
  optimizer: str = "adamw"
  gradient_accumulation_steps: int = 1
  use_xla: bool = False
  dtype: str = "float32"
  distribution: str = "auto"
  trim_padding: bool = True


def expand_input_files(pattern_list):
  """A comma-separated list of files or globs -> the files, in the order given."""
  files = []
  for pattern in pattern_list.split(","):
    pattern = pattern.strip()
    if not pattern:
      continue
    matched = sorted(glob.glob(pattern))
    if not matched:
      raise PretrainingDataError("%s: no input file matches this pattern (--input_file)" %
                                 pattern)
    files.extend(matched)
  if not files:
    raise PretrainingDataError("--input_file is empty")
  return files


def feature_spec(max_seq_length, max_predictions_per_seq):
  L, M = max_seq_length, max_predictions_per_seq
  return {
      "input_ids": tf.io.FixedLenFeature([L], tf.int64),
      "input_mask": tf.io.FixedLenFeature([L], tf.int64),
      "segment_ids": tf.io.FixedLenFeature([L], tf.int64),
      "masked_lm_positions": tf.io.FixedLenFeature([M], tf.int64),
      "masked_lm_ids": tf.io.FixedLenFeature([M], tf.int64),
      "masked_lm_weights": tf.io.FixedLenFeature([M], tf.float32),
      "next_sentence_labels": tf.io.FixedLenFeature([1], tf.int64),
  }


def check_input_files(files, max_seq_length, max_predictions_per_seq):
  """Fails early, naming the file, when a record does not fit the flags (or a file is empty)."""
  want = {"input_ids": max_seq_length, "masked_lm_positions": max_predictions_per_seq}
  flag = {"input_ids": "max_seq_length", "masked_lm_positions": "max_predictions_per_seq"}
  nonempty = 0
  for path in files:
    try:
      first = next(iter(tf.data.TFRecordDataset(path).take(1)), None)
    except tf.errors.OpError as e:
      raise PretrainingDataError("%s: not a readable TFRecord file (%s)" %
                                 (path, e.message.splitlines()[0]))
    if first is None:
      logging.warning("%s: no records", path)
      continue
    nonempty += 1
    example = tf.train.Example.FromString(first.numpy())
    feats = example.features.feature
    for key, n in want.items():
      if key not in feats:
        raise PretrainingDataError("%s: record 0 has no feature %r; is this a "
                                   "create_pretraining_data.py output?" % (path, key))
      have = len(feats[key].int64_list.value)
      if have != n:
        raise PretrainingDataError(
            "%s: records have %s of length %d but --%s=%d; pass the value used by "
            "create_pretraining_data.py" % (path, key, have, flag[key], n))
  if not nonempty:
    raise PretrainingDataError("%s: the input files hold no records" % ",".join(files))


def _parse(spec):
  def parse(record):
    example = tf.io.parse_single_example(record, spec)
    return {k: tf.cast(v, tf.int32) if v.dtype == tf.int64 else v for k, v in example.items()}
  return parse


def make_dataset(files, max_seq_length, max_predictions_per_seq, batch_size, is_training,
                 seed=None):
  """The original input_fn.

  Training: shuffle the file list each epoch, read up to 4 files interleaved
  (non-deterministic, like `sloppy=True`), shuffle(100), batch with
  drop_remainder.  Eval: the same files in order, repeated, batched.
  """
  spec = feature_spec(max_seq_length, max_predictions_per_seq)
  if is_training:
    d = tf.data.Dataset.from_tensor_slices(tf.constant(files))
    d = d.repeat().shuffle(buffer_size=len(files), seed=seed)
    cycle = min(4, len(files))
    d = d.interleave(tf.data.TFRecordDataset, cycle_length=cycle,
                     num_parallel_calls=min(2, cycle), deterministic=seed is not None)
    d = d.shuffle(buffer_size=100, seed=seed)
  else:
    d = tf.data.TFRecordDataset(files).repeat()
  d = d.map(_parse(spec), num_parallel_calls=2)
  d = d.batch(batch_size, drop_remainder=True)
  return pipeline.without_autotune(d)


def _outputs(model, features, training):
  out = model(features, training=training)
  losses = modeling.pretraining_losses(out, features["masked_lm_ids"],
                                       features["masked_lm_weights"],
                                       features["next_sentence_labels"])
  return out, losses


def _eval_metrics(batches):
  """masked_lm_accuracy/loss (weighted), next_sentence_accuracy/loss, loss: as tf.metrics."""
  f32 = np.float32
  acc = dict(mlm_correct=f32(0), mlm_loss=f32(0), mlm_w=f32(0), nsp_correct=f32(0),
             nsp_loss=f32(0), nsp_n=f32(0), loss=f32(0), n=0)
  for b in batches:
    w = b["masked_lm_weights"].reshape(-1).astype(f32)
    acc["mlm_correct"] = f32(acc["mlm_correct"] + np.sum(
        (b["mlm_pred"] == b["masked_lm_ids"].reshape(-1)) * w, dtype=f32))
    acc["mlm_loss"] = f32(acc["mlm_loss"] + np.sum(b["mlm_example_loss"] * w, dtype=f32))
    acc["mlm_w"] = f32(acc["mlm_w"] + np.sum(w, dtype=f32))
    labels = b["next_sentence_labels"].reshape(-1)
    acc["nsp_correct"] = f32(acc["nsp_correct"] + np.sum(b["nsp_pred"] == labels, dtype=f32))
    acc["nsp_loss"] = f32(acc["nsp_loss"] + np.sum(b["nsp_example_loss"], dtype=f32))
    acc["nsp_n"] = f32(acc["nsp_n"] + f32(len(labels)))
    acc["loss"] = f32(acc["loss"] + f32(b["total_loss"]))
    acc["n"] += 1
  div = lambda a, c: f32(a / c) if c else f32(0)
  return {"masked_lm_accuracy": div(acc["mlm_correct"], acc["mlm_w"]),
          "masked_lm_loss": div(acc["mlm_loss"], acc["mlm_w"]),
          "next_sentence_accuracy": div(acc["nsp_correct"], acc["nsp_n"]),
          "next_sentence_loss": div(acc["nsp_loss"], acc["nsp_n"]),
          "loss": div(acc["loss"], acc["n"])}


def run(job):
  """Runs the job; returns {"train": ..., "eval": metrics or None}."""
  if not job.do_train and not job.do_eval:
    raise ValueError("At least one of `do_train` or `do_eval` must be True.")
  config = BertConfig.from_json_file(job.bert_config_file)
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
  files = expand_input_files(job.input_file)
  logging.info("*** Input Files ***")
  for f in files:
    logging.info("  %s", f)
  check_input_files(files, job.max_seq_length, job.max_predictions_per_seq)
  if job.seed is not None:
    training.seed_everything(job.seed)
  strategy = training.resolve_strategy(job.use_tpu, job.tpu_name, job.tpu_zone, job.gcp_project,
                                       job.master, job.num_tpu_cores, job.distribution)
  trim = job.trim_padding and not job.use_tpu
  with strategy.scope(), modeling.dtype_policy(job.dtype):
    model = modeling.BertPretrainer(config)
    model.build()
    model.bert.fused_gelu = True  # fixed [B,S,I] shapes: one XLA kernel (modeling.gelu)
    optimizer = optimization.create_optimizer(
        job.optimizer, job.learning_rate, job.num_train_steps, job.num_warmup_steps,
        lr_step_offset=1 if job.lr_schedule == "original" else 0)
  variables = model.original_variables()
  training.check_checkpoints(variables, job.output_dir, job.init_checkpoint)
  results = {"train": None, "eval": None}

  if job.do_train:
    logging.info("***** Running training *****")
    logging.info("  Batch size = %d", job.train_batch_size)
    if job.init_checkpoint and not checkpoints.latest_checkpoint(job.output_dir):
      names = {n for n, _ in checkpoints.list_variables(job.init_checkpoint)}
      if not any(n.startswith("cls/") for n in names):
        logging.info("%s has no cls/* variables: the MLM and NSP heads start from the "
                     "original initialisation.", job.init_checkpoint)

    def loss_fn(features, training):
      return _outputs(model, features, training)[1]["total_loss"]

    dataset = make_dataset(files, job.max_seq_length, job.max_predictions_per_seq,
                           job.train_batch_size, is_training=True, seed=job.seed)
    trainer = training.Trainer(
        strategy, model, variables, optimizer, loss_fn, job.output_dir,
        save_checkpoints_steps=job.save_checkpoints_steps,
        steps_per_loop=job.iterations_per_loop if job.use_tpu else 1,
        gradient_accumulation_steps=job.gradient_accumulation_steps, use_xla=job.use_xla,
        trim=trim, loss_scaling=job.dtype == "float16")
    results["train"] = trainer.train(dataset, job.num_train_steps, job.train_batch_size,
                                     init_checkpoint=job.init_checkpoint)

  if job.do_eval:
    logging.info("***** Running evaluation *****")
    logging.info("  Batch size = %d", job.eval_batch_size)
    _, global_step = training.load_for_inference(variables, job.output_dir, job.init_checkpoint)

    def predict_fn(features):
      if trim:
        features = training.trim_padding(features)
      out, losses = _outputs(model, features, training=False)
      return {"mlm_pred": tf.argmax(out["masked_lm_log_probs"], axis=-1, output_type=tf.int32),
              "mlm_example_loss": losses["masked_lm_example_loss"],
              "nsp_pred": tf.argmax(out["next_sentence_log_probs"], axis=-1,
                                    output_type=tf.int32),
              "nsp_example_loss": losses["next_sentence_example_loss"],
              "total_loss": losses["total_loss"][tf.newaxis],
              "masked_lm_ids": features["masked_lm_ids"],
              "masked_lm_weights": features["masked_lm_weights"],
              "next_sentence_labels": features["next_sentence_labels"]}

    dataset = make_dataset(files, job.max_seq_length, job.max_predictions_per_seq,
                           job.eval_batch_size, is_training=False).take(job.max_eval_steps)
    @tf.function
    def step_fn(features):
      return strategy.run(predict_fn, args=(features,))

    batches = []
    for features in training.distribute_dataset(strategy, dataset):
      per_replica = step_fn(features)
      parts = {k: [p.numpy() for p in strategy.experimental_local_results(v)]
               for k, v in per_replica.items()}
      batches.append({k: (np.float32(np.mean(v)) if k == "total_loss"
                          else np.concatenate(v, axis=0)) for k, v in parts.items()})
    metrics = _eval_metrics(batches)
    metrics["global_step"] = np.int64(global_step)
    logging.info("***** Eval results *****")
    training.write_key_values(os.path.join(job.output_dir, "eval_results.txt"), metrics)
    results["eval"] = metrics
  return results
