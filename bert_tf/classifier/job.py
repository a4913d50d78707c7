"""The run_classifier job: TSV files -> features -> train / eval / predict -> files.

`run(ClassifierJob(...))` does what the original run_classifier.py `main` does,
in the same order, with the same log lines and output files; run_classifier.py
only turns flags into a ClassifierJob.  The job is never modified: what a run
actually uses (the hub module's vocab and casing, the initial weights) is
worked out once into a `Resolved`.
"""

import dataclasses
import os
import time
from typing import Any, Callable, Optional

import numpy as np
from absl import logging

from bert_tf import (checkpoints, forward, modeling, optimization, output_dir, restore,
                     tokenization, training)
from bert_tf.classifier import metrics as classifier_metrics
from bert_tf.configuration import BertConfig
from bert_tf.data.examples import pad_examples_for_tpu
from bert_tf.data.features import example_label_id, make_label_map
from bert_tf.data.pipeline import make_dataset
from bert_tf.data.records import file_based_convert_examples_to_features
from bert_tf.data.tasks import get_processor
from bert_tf.classifier.options import ClassifierJob, check_before_tensorflow  # noqa: F401


@dataclasses.dataclass(frozen=True)
class Resolved:
  """What a run uses, worked out from the job by `resolve` (the job itself is not changed).

  With a TF Hub module the config, vocab and casing are the module's and the
  initial weights come from it (init_checkpoint is None); otherwise they are
  the job's files.  `init(variables)` loads the initial weights into
  {original_name: variable}, or is None (random initialisation).
  """
  config: BertConfig
  processor: Any
  vocab_file: str
  do_lower_case: bool
  init_checkpoint: Optional[str]
  init: Optional[Callable[[dict], None]]


def resolve(job):
  """The original main's checks, in the original order, and what the run uses.

  With a TF Hub module (as run_classifier_with_tfhub.py) the config, vocab and
  casing come from the module and vocab_file / bert_config_file /
  init_checkpoint / do_lower_case are ignored.  Reads, writes nothing (the
  output_dir is created and locked by `run`).  The checks that need no TensorFlow
  (options.check_before_tensorflow: the flags, the casing, that there is something
  to do, bert_config.json) come first; run_classifier.py has made them already,
  before importing TensorFlow.
  """
  config = check_before_tensorflow(job)
  encoder = None
  vocab_file, do_lower_case = job.vocab_file, job.do_lower_case
  init_checkpoint = job.init_checkpoint
  if job.bert_hub_module_handle:
    from bert_tf.interop import hub
    encoder = hub.load_hub_encoder(job.bert_hub_module_handle)
    if not encoder.mappable:
      raise ValueError("%s: this SavedModel's variables do not map to BERT variable names, so "
                       "run_classifier cannot fine-tune it; see "
                       "bert_tf.interop.hub_encoder.SavedModelEncoder for a Keras layer that can" % job.bert_hub_module_handle)
    vocab_file = encoder.vocab_file
    if encoder.do_lower_case is not None:
      do_lower_case = bool(encoder.do_lower_case)
    init_checkpoint = None
    init = _hub_initializer(encoder)
  else:
    init = restore.checkpoint_initializer(job.init_checkpoint)
  if encoder:
    config = encoder.config
    config.check_max_seq_length(job.max_seq_length)
  if job.export_dir:  # before any work: an export never replaces the user's or the run's files
    checkpoints.check_can_publish(job.export_dir, inputs=(
        ("--output_dir", job.output_dir), ("--data_dir", job.data_dir),
        ("--init_checkpoint", job.init_checkpoint), ("--vocab_file", vocab_file),
        ("--bert_config_file", job.bert_config_file),
        ("--bert_hub_module_handle", job.bert_hub_module_handle)))
  # label_list.txt (tsv/csv tasks) is written by `run` once every check has passed.
  processor = get_processor(job.task_name.lower(),
                            **dict(job.generic_options, defer_label_list=True))
  return Resolved(config=config, processor=processor, vocab_file=vocab_file,
                  do_lower_case=do_lower_case, init_checkpoint=init_checkpoint, init=init)


def _hub_initializer(encoder):
  """Loads a TF Hub module's encoder weights into {original_name: variable}."""
  def init(variables):
    names = encoder.restore(variables)
    logging.info("Initialised %d variables from the TF Hub module %s", len(names), encoder.path)
  return init


def _read_examples(job, config, processor, label_list):
  """Reads every split this run uses and checks every label (and that a model with one
  token type gets no sentence pairs), before any file is written."""
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
  if config.type_vocab_size < 2:
    pair = next((e for split in examples.values() for e in split if e.text_b), None)
    config.check_pairs(job.bert_config_file, pair and _where(pair),
                       fix="use a single-sentence task, or a model with two token types")
  return examples


def _where(example):
  """Where an example was read: "<file> line N", or its guid when it was built by hand."""
  if example.source_file:
    return "%s line %s" % (example.source_file, example.source_line)
  return "example %s" % example.guid


def _build(job, config, num_labels, strategy, num_train_steps=0, num_warmup_steps=0):
  rt = job.runtime
  with strategy.scope(), modeling.dtype_policy(rt.dtype):
    model = modeling.BertClassifier(
        config, num_labels,
        # Per-token layers on the real tokens only (exact; XLA needs static shapes).
        skip_padding=rt.trim and not rt.use_xla,
        fused_gelu=True)  # one XLA kernel per bucketed shape (modeling.gelu)
    model.build()
    optimizer = optimization.create_optimizer(
        rt.optimizer, job.learning_rate, num_train_steps, num_warmup_steps,
        lr_step_offset=rt.lr_step_offset)
  return model, optimizer


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


def run(job):
  """Runs the job; returns {"train": ..., "eval": metrics or None, "predict": path or None}.

  Every check that can be made before writing is made before writing: the flags, the
  config, the data and labels, the vocab, the checkpoints (read in full) and, when
  output_dir already holds a checkpoint, that it was made by a run started with the same
  settings (run_config.json).  The run owns output_dir (a lock) from start to end.
  """
  resolved = resolve(job)
  with output_dir.owned(job.output_dir, lock=training.is_chief(), export_dir=job.export_dir):
    return _run(job, resolved)


def _run(job, resolved):
  rt = job.runtime
  config, processor = resolved.config, resolved.processor
  if rt.seed is not None:
    training.seed_everything(rt.seed)
  label_list = processor.get_labels()
  is_regression = getattr(processor, "is_regression", False)
  num_labels = 1 if is_regression else len(label_list)
  tokenizer = tokenization.load_tokenizer(resolved.vocab_file, resolved.do_lower_case,
                                         config.vocab_size, job.bert_config_file)
  examples = _read_examples(job, config, processor, label_list)
  strategy = rt.strategy()
  record = _run_record(job, resolved, label_list, is_regression)
  results = {"train": None, "eval": None, "predict": None}

  if job.do_train:
    train_examples = examples["train"]
    num_train_steps = int(len(train_examples) / job.train_batch_size * job.num_train_epochs)
    num_warmup_steps = int(num_train_steps * job.warmup_proportion)
    if num_train_steps < 1:
      raise ValueError(
          "--num_train_epochs=%s with %d training examples and --train_batch_size=%d gives 0 "
          "training steps; pass more epochs or a smaller batch size" %
          (job.num_train_epochs, len(train_examples), job.train_batch_size))
    model, optimizer = _build(job, config, num_labels, strategy, num_train_steps, num_warmup_steps)
    variables = model.original_variables()
    latest = _check_checkpoints(job, resolved, variables, record, label_list, training_run=True)
    init = resolved.init
    if latest is None and init is not None:
      # The initial weights are read in full now, so that a truncated or damaged
      # --init_checkpoint fails before anything is written; the trainer then has
      # nothing left to load.
      init(variables)
      init = None
    _write_label_list(processor)
    output_dir.write_record(job.output_dir, record)
    train_file = os.path.join(job.output_dir, "train.tf_record")
    file_based_convert_examples_to_features(
        train_examples, label_list, job.max_seq_length, tokenizer, train_file)
    logging.info("***** Running training *****")
    logging.info("  Num examples = %d", len(train_examples))
    logging.info("  Batch size = %d", job.train_batch_size)
    logging.info("  Num steps = %d", num_train_steps)
    dataset = make_dataset(
        train_file, job.max_seq_length, job.train_batch_size, is_training=True,
        drop_remainder=True, is_regression=is_regression, seed=rt.seed)
    trainer = training.Trainer(
        strategy, model, variables, optimizer, _loss_fn(model, num_labels),
        job.output_dir, save_checkpoints_steps=rt.save_checkpoints_steps,
        steps_per_loop=rt.steps_per_loop,
        gradient_accumulation_steps=rt.gradient_accumulation_steps, use_xla=rt.use_xla,
        trim=rt.trim, loss_scaling=rt.loss_scaling)
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
                                       init=init,
                                       evaluate_every=every, evaluate_fn=evaluate_fn)
      if results["train"]["stopped_early"]:
        with open(stop_marker, "w", encoding="utf-8") as f:
          f.write("global_step = %d\n" % results["train"]["global_step"])

  if job.do_eval or job.do_predict or job.export_dir:
    model, _ = _build(job, config, num_labels, strategy)
    variables = model.original_variables()
    latest = _check_checkpoints(job, resolved, variables, record, label_list,
                                training_run=False)
    _warn_if_random_head(job, resolved, latest)
    # Reads every weight (a damaged checkpoint fails here, before eval/predict write).
    global_step = restore.load_for_inference(variables, job.output_dir, resolved.init)
    _write_label_list(processor)
    loop = forward.Forward(_predict_fn(model, num_labels), strategy=strategy, trim=rt.trim,
                           use_xla=rt.use_xla)

  if job.do_eval:
    out, _, seconds = _run_split(job, "eval", examples["eval"], job.eval_batch_size,
                                 label_list, tokenizer, is_regression, loop)
    metrics = classifier_metrics.eval_metrics(out, job.eval_batch_size, is_regression)
    metrics["global_step"] = np.int64(global_step)
    logging.info("Evaluation took %.1f s", seconds)
    logging.info("***** Eval results *****")
    training.write_key_values(os.path.join(job.output_dir, "eval_results.txt"), metrics)
    classifier_metrics.write_eval_summaries(job.output_dir, metrics, global_step)
    results["eval"] = metrics

  if job.do_predict:
    out, num_actual, _ = _run_split(job, "predict", examples["predict"], job.predict_batch_size,
                                    label_list, tokenizer, is_regression, loop)
    path = os.path.join(job.output_dir, "test_results.tsv")
    classifier_metrics.write_test_results(path, out["probabilities"], num_actual)
    results["predict"] = path

  if job.export_dir:
    from bert_tf.interop import serving
    serving.export_classifier(model, resolved.vocab_file, resolved.do_lower_case,
                              job.max_seq_length,
                              label_list, job.export_dir, is_regression=is_regression)
    logging.info("Exported the classifier (global_step %d) as a SavedModel to %s", global_step,
                 job.export_dir)
    results["export"] = job.export_dir
  return results


# What must agree between the run that wrote output_dir's checkpoints and a run that
# continues (trains) them or uses them (eval/predict: the input length may differ).
RESUME_KEYS = ("task_name", "label_list", "bert_config", "vocab_sha256", "do_lower_case",
               "max_seq_length")
USE_KEYS = ("task_name", "label_list", "bert_config", "vocab_sha256", "do_lower_case")


def _comparable(record):
  out = dict(record)
  if isinstance(out.get("task_name"), str):
    out["task_name"] = out["task_name"].lower()  # --task_name is case-insensitive
  return out


def _check_checkpoints(job, resolved, variables, record, label_list, training_run):
  """Every check of the checkpoints this run reads, before anything is written; returns
  output_dir's newest checkpoint (None when there is none).

  --init_checkpoint: its head fits the labels and its shapes the model (name-matched, as
  the original).  output_dir's newest checkpoint: made by a run started with the same
  settings (run_config.json), its head fits the labels, and it fits the model exactly
  (restore.check_resume).  --allow_resume_mismatch turns the last two into warnings.
  """
  allow = job.runtime.allow_resume_mismatch
  num_outputs = int(variables["output_bias"].shape[0])
  if resolved.init_checkpoint:
    _check_head(resolved.init_checkpoint, num_outputs, label_list, job, "--init_checkpoint")
    restore.check(variables, resolved.init_checkpoint)
  latest = restore.latest_in(job.output_dir)
  if latest:
    output_dir.check_resume(job.output_dir, record, RESUME_KEYS if training_run else USE_KEYS,
                            allow_mismatch=allow, checkpoint=latest, normalize=_comparable)
    _check_head(latest, num_outputs, label_list, job, "--output_dir")
    restore.check_resume(variables, job.output_dir, allow)
  return latest


def _check_head(checkpoint, num_outputs, label_list, job, where):
  """A fine-tuned checkpoint's classifier head has as many outputs as the task has labels
  (one for regression); said in terms of labels, not of variable shapes."""
  outputs = restore.classifier_outputs_of(checkpoint, required=False)
  if outputs is None or outputs == num_outputs:
    return
  prefix = checkpoints.resolve_checkpoint(checkpoint)
  what = ("1 output (regression)" if num_outputs == 1 else
          "%d labels %s" % (num_outputs, [str(l) for l in label_list]))
  raise checkpoints.CheckpointError(
      "%s: the checkpoint's classifier head (output_weights) has %d outputs but task %s has "
      "%s; %s" % (prefix, outputs, job.task_name, what,
                  "pass a pre-trained checkpoint (bert_model.ckpt) or one fine-tuned on the same "
                  "labels" if where == "--init_checkpoint" else
                  "it was trained on other labels: pass a new --output_dir, or the task and "
                  "labels it was trained with"))


def _warn_if_random_head(job, resolved, latest):
  """A WARNING when eval/predict/export will use an untrained classifier head: the weights
  come from a checkpoint (or TF Hub module) without output_weights/output_bias."""
  source = latest or resolved.init_checkpoint
  if source:
    if restore.classifier_outputs_of(source, required=False) is not None:
      return
    what = checkpoints.resolve_checkpoint(source)
  elif job.bert_hub_module_handle:
    what = "the TF Hub module %s" % job.bert_hub_module_handle
  else:
    return  # no weights at all: load_for_inference says so
  uses = [name for name, on in (("evaluation", job.do_eval), ("prediction", job.do_predict),
                                ("the export", bool(job.export_dir))) if on]
  logging.warning("%s has no classifier head (output_weights/output_bias): %s use%s a random, "
                  "untrained head, so the results are meaningless; fine-tune first (--do_train "
                  "into this --output_dir), or pass a checkpoint fine-tuned by run_classifier.py",
                  what, " and ".join(uses), "s" if len(uses) == 1 else "")


def _write_label_list(processor):
  """label_list.txt of a tsv/csv task, which `resolve` deferred until the checks passed."""
  write = getattr(processor, "write_label_list", None)
  if write is not None:
    write()


_SPLIT_TITLES = {"eval": "***** Running evaluation *****",
                 "predict": "***** Running prediction*****"}  # sic, the original's lines


def _run_split(job, split, examples, batch_size, label_list, tokenizer, is_regression, loop):
  """One split for eval/predict as the original: padded to whole batches on TPU, written to
  <split>.tf_record, read back and run through the forward loop.  Returns (outputs, number
  of real examples, seconds in the forward loop)."""
  num_actual = len(examples)
  if job.runtime.use_tpu:
    examples = pad_examples_for_tpu(examples, batch_size)
  record_file = os.path.join(job.output_dir, split + ".tf_record")
  file_based_convert_examples_to_features(
      examples, label_list, job.max_seq_length, tokenizer, record_file)
  logging.info(_SPLIT_TITLES[split])
  logging.info("  Num examples = %d (%d actual, %d padding)", len(examples), num_actual,
               len(examples) - num_actual)
  logging.info("  Batch size = %d", batch_size)
  dataset = make_dataset(record_file, job.max_seq_length, batch_size, is_training=False,
                         drop_remainder=job.runtime.use_tpu, is_regression=is_regression)
  t0 = time.time()
  out = loop.run(dataset)
  return out, num_actual, time.time() - t0


def _run_record(job, resolved, label_list, is_regression):
  """What this run was started with, for output_dir/run_config.json: predict.py reads the
  settings it needs to rebuild the features and labels from it (task_name,
  bert_config_file, vocab_file, do_lower_case, max_seq_length, label_list), and the next
  run into output_dir compares it (RESUME_KEYS: also the config's contents and the
  vocab's sha256) before it continues the checkpoints."""
  record = {"script": "run_classifier.py",
            "task_name": job.task_name,
            "bert_config_file": (os.path.abspath(job.bert_config_file)
                                 if job.bert_config_file else None),
            "bert_config": resolved.config.to_dict(),
            "vocab_file": os.path.abspath(resolved.vocab_file),
            "vocab_sha256": output_dir.file_sha256(resolved.vocab_file),
            "do_lower_case": bool(resolved.do_lower_case),
            "max_seq_length": int(job.max_seq_length),
            "label_list": [] if is_regression else [str(l) for l in label_list]}
  if job.bert_hub_module_handle:
    record["bert_hub_module_handle"] = job.bert_hub_module_handle
  return record


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
  loop = forward.Forward(_predict_fn(model, num_labels), strategy=strategy,
                         trim=job.runtime.trim, use_xla=job.runtime.use_xla)  # traced once
  best_dir = os.path.join(job.output_dir, "best")
  state = {"best": classifier_metrics.read_metric(os.path.join(best_dir, "eval_results.txt"), metric), "bad": 0}

  def evaluate(step):
    out = loop.run(dataset)
    metrics = classifier_metrics.eval_metrics(out, job.eval_batch_size, is_regression)
    metrics["global_step"] = np.int64(step)
    if metric not in metrics:
      raise ValueError("--best_metric=%s is not an eval metric of this task (%s)" %
                       (metric, ", ".join(sorted(metrics))))
    logging.info("***** Eval results at step %d *****", step)
    classifier_metrics.append_eval_history(os.path.join(job.output_dir, "eval_history.txt"),
                                           metrics)
    classifier_metrics.write_eval_summaries(job.output_dir, metrics, step)
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
