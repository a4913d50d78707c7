"""The run_pretraining job: TFRecords of MLM+NSP instances -> train / eval -> files.

Same input pipeline, losses, metrics, checkpoints and log lines as the original
run_pretraining.py; the training loop, resume and strategy handling are the
shared bert_tf.training.Trainer.
"""

import os

import numpy as np
import tensorflow as tf
from absl import logging

from bert_tf import (checkpoints, forward, modeling, optimization, output_dir, restore,
                     training)
from bert_tf.pretraining.dataset import check_input_files, expand_input_files, make_dataset
from bert_tf.pretraining.options import PretrainingJob, check_before_tensorflow  # noqa: F401


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


# What must agree between the run that wrote output_dir's checkpoints and one that continues
# them (training) or evaluates them.
RESUME_KEYS = ("bert_config", "max_seq_length", "max_predictions_per_seq")
USE_KEYS = ("bert_config",)


def run_record(job, config):
  """What this run was started with (output_dir/run_config.json), compared by the next run
  into output_dir before it continues the checkpoints."""
  return {"script": "run_pretraining.py",
          "bert_config_file": os.path.abspath(job.bert_config_file),
          "bert_config": config.to_dict(),
          "max_seq_length": int(job.max_seq_length),
          "max_predictions_per_seq": int(job.max_predictions_per_seq)}


def run(job):
  """Runs the job; returns {"train": ..., "eval": metrics or None}.

  Every check that can be made before writing is made before writing (flags, config,
  input records, the checkpoints read in full, and that output_dir's checkpoint was made
  by a run started with the same settings); the run owns output_dir (a lock) throughout.
  """
  config = check_before_tensorflow(job)  # run_pretraining.py has made these checks already
  files = expand_input_files(job.input_file)
  logging.info("*** Input Files ***")
  for f in files:
    logging.info("  %s", f)
  check_input_files(files, job.max_seq_length, job.max_predictions_per_seq)
  with output_dir.owned(job.output_dir, lock=training.is_chief()):
    return _run(job, config, files)


def _run(job, config, files):
  rt = job.runtime
  if rt.seed is not None:
    training.seed_everything(rt.seed)
  strategy = rt.strategy()
  trim = rt.trim
  init = restore.checkpoint_initializer(job.init_checkpoint)
  with strategy.scope(), modeling.dtype_policy(rt.dtype):
    # fused_gelu: fixed [B,S,I] shapes, one XLA kernel (modeling.gelu)
    model = modeling.BertPretrainer(config, fused_gelu=True)
    model.build()
    optimizer = optimization.create_optimizer(
        rt.optimizer, job.learning_rate, job.num_train_steps, job.num_warmup_steps,
        lr_step_offset=rt.lr_step_offset)
  variables = model.original_variables()
  record = run_record(job, config)
  if job.init_checkpoint:
    restore.check(variables, job.init_checkpoint)
  latest = restore.latest_in(job.output_dir)
  if latest:
    output_dir.check_resume(job.output_dir, record, RESUME_KEYS if job.do_train else USE_KEYS,
                            allow_mismatch=rt.allow_resume_mismatch, checkpoint=latest)
    restore.check_resume(variables, job.output_dir, rt.allow_resume_mismatch)
  results = {"train": None, "eval": None}

  if job.do_train:
    logging.info("***** Running training *****")
    logging.info("  Batch size = %d", job.train_batch_size)
    if job.init_checkpoint and not latest:
      names = {n for n, _ in checkpoints.list_variables(job.init_checkpoint)}
      if not any(n.startswith("cls/") for n in names):
        logging.info("%s has no cls/* variables: the MLM and NSP heads start from the "
                     "original initialisation.", job.init_checkpoint)
    if not latest and init is not None:
      # Read in full now: a truncated or damaged --init_checkpoint fails before anything
      # is written; the trainer then has nothing left to load.
      init(variables)
      init = None
    output_dir.write_record(job.output_dir, record)

    def loss_fn(features, training):
      return _outputs(model, features, training)[1]["total_loss"]

    dataset = make_dataset(files, job.max_seq_length, job.max_predictions_per_seq,
                           job.train_batch_size, is_training=True, seed=rt.seed)
    trainer = training.Trainer(
        strategy, model, variables, optimizer, loss_fn, job.output_dir,
        save_checkpoints_steps=rt.save_checkpoints_steps, steps_per_loop=rt.steps_per_loop,
        gradient_accumulation_steps=rt.gradient_accumulation_steps, use_xla=rt.use_xla,
        trim=trim, loss_scaling=rt.loss_scaling)
    results["train"] = trainer.train(dataset, job.num_train_steps, job.train_batch_size,
                                     init=init)

  if job.do_eval:
    logging.info("***** Running evaluation *****")
    logging.info("  Batch size = %d", job.eval_batch_size)
    global_step = restore.load_for_inference(variables, job.output_dir, init)

    def predict_fn(features):
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
    loop = forward.Forward(predict_fn, strategy=strategy, trim=trim)
    batches = [dict(b, total_loss=np.float32(np.mean(b["total_loss"])))
               for b in loop.iterate(dataset)]
    metrics = _eval_metrics(batches)
    metrics["global_step"] = np.int64(global_step)
    logging.info("***** Eval results *****")
    training.write_key_values(os.path.join(job.output_dir, "eval_results.txt"), metrics)
    results["eval"] = metrics
  return results
