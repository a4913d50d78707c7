"""The run_squad job: SQuAD JSON -> features -> train / predict -> answer files.

`run(SquadJob(...))` does what the original run_squad.py `main` does, in the
same order, with the same log lines and output files; run_squad.py only turns
flags into a SquadJob.  What is new about question answering lives in the
sibling modules (examples, features_fast, records, model, postprocess,
evaluate); training, checkpoints, resume, strategies and the runtime options
go through the shared Trainer, restore path and forward loop.

Additions to the original (its files are unchanged):

* every prediction also writes output_dir/logits.npz (the model's raw
  results) and, when the predict file has answers, eval_results.txt with the
  official SQuAD metrics (bert_tf.squad.evaluate);
* `logits_file` makes the prediction post-process such a logits.npz instead
  of running the model (another null_score_diff_threshold in seconds);
* `export_dir` writes a serving SavedModel of the run's weights at the end (raw
  question and context in, the predictions.json answer out:
  bert_tf.interop.squad_serving), checked before any work;
* every input is read and checked before anything is written to output_dir;
* the protections of run_classifier (issue 17): the numeric flags' ranges are
  checked up front (`check_flags`), the run owns output_dir (a lock) from
  start to end, records what it was started with in output_dir/run_config.json
  and refuses to continue a checkpoint made with other settings (RESUME_KEYS)
  or one that does not fit the model, unless --allow_resume_mismatch; the
  initial checkpoint is read in full before the first write; SIGINT/SIGTERM
  stop training with a checkpoint of the step reached (the Trainer).

`--trim_padding` cannot cut positions here as run_classifier does: the
original does not mask the padded positions' logits, so they take part in the
loss's softmax and in the n-best lists.  It cuts the attention's KEYS instead
(modeling.BertModel trim_keys): every position is still computed, but each
batch's attention reads only up to its last real token (rounded up to 16),
whose later keys get weight exactly 0 in the original -- the same logits to
float rounding, less work on windows shorter than max_seq_length.
"""

import dataclasses
import os
from typing import Optional

from absl import logging

from bert_tf import (checkpoints, forward, modeling, optimization, output_dir, restore,
                     tokenization, training)
from bert_tf.configuration import BertConfig
from bert_tf.squad import evaluate as squad_evaluate
from bert_tf.squad import features_fast, postprocess, records
from bert_tf.squad import model as squad_model
from bert_tf.squad.examples import read_squad_examples
from bert_tf.squad.options import (SquadJob, check_before_tensorflow, check_flags,  # noqa: F401
                                   validate)

LOGITS_FILE = "logits.npz"
EVAL_RESULTS_FILE = "eval_results.txt"


@dataclasses.dataclass
class Inputs:
  """What a run reads, all of it read and checked before anything is written."""
  config: BertConfig
  tokenizer: object
  train_examples: Optional[list] = None
  predict_examples: Optional[list] = None
  predict_dataset: Optional[list] = None  # the predict file's "data", to evaluate against
  logits: Optional[list] = None  # RawResults of --logits_file
  predict_features: Optional[list] = None  # converted early only with --logits_file


def _convert(job, tokenizer, examples, is_training, output_fn=None):
  return features_fast.convert_examples_to_features(
      examples, tokenizer, job.max_seq_length, job.doc_stride, job.max_query_length,
      is_training, output_fn=output_fn)


def read_inputs(job):
  """The config, the checks of `validate` and `check_flags`, the tokenizer and every input file, read and
  checked (SquadInputError names the file and the question) before any file is written."""
  config = check_before_tensorflow(job)  # run_squad.py has made these checks already
  if job.export_dir:  # before any work: an export never replaces the user's or the run's files
    checkpoints.check_can_publish(job.export_dir, inputs=(
        ("--output_dir", job.output_dir), ("--train_file", job.train_file),
        ("--predict_file", job.predict_file), ("--init_checkpoint", job.init_checkpoint),
        ("--vocab_file", job.vocab_file), ("--bert_config_file", job.bert_config_file),
        ("--logits_file", job.logits_file)))
  tokenizer = tokenization.load_tokenizer(job.vocab_file, job.do_lower_case, config.vocab_size,
                                          job.bert_config_file)
  inputs = Inputs(config=config, tokenizer=tokenizer)
  if job.do_train:
    inputs.train_examples = read_squad_examples(job.train_file, is_training=True,
                                                version_2_with_negative=job.version_2_with_negative)
  if job.do_predict:
    inputs.predict_examples = read_squad_examples(job.predict_file, is_training=False)
    inputs.predict_dataset = squad_evaluate.load_dataset(job.predict_file)
    if job.logits_file:
      inputs.logits = postprocess.read_logits(job.logits_file)
      inputs.predict_features = _convert(job, tokenizer, inputs.predict_examples, False)
      postprocess.check_logits_match(job.logits_file, inputs.logits, inputs.predict_features)
  return inputs


def _build(job, config, strategy, num_train_steps=0, num_warmup_steps=0):
  rt = job.runtime
  with strategy.scope(), modeling.dtype_policy(rt.dtype):
    model = squad_model.BertForSquad(config, fused_gelu=True, trim_keys=rt.trim)
    model.build()
    optimizer = optimization.create_optimizer(
        rt.optimizer, job.learning_rate, num_train_steps, num_warmup_steps,
        lr_step_offset=rt.lr_step_offset)
  return model, optimizer


def _loss_fn(model):
  def loss_fn(features, training):
    outputs = model(features, training=training)
    return squad_model.squad_loss(outputs, features["start_positions"],
                                  features["end_positions"])
  return loss_fn


def _predict_fn(model):
  def predict_fn(features):
    outputs = model(features, training=False)
    return {"unique_ids": features["unique_ids"], "start_logits": outputs["start_logits"],
            "end_logits": outputs["end_logits"]}
  return predict_fn


def num_train_steps_of(job, inputs):
  """(training steps, warmup steps): counted in examples, not features, as the original;
  0 training steps (too few epochs for the examples and batch size) is a one-line error."""
  num_examples = len(inputs.train_examples)
  num_train_steps = int(num_examples / job.train_batch_size * job.num_train_epochs)
  if num_train_steps < 1:
    raise ValueError(
        "--num_train_epochs=%s with %d training examples and --train_batch_size=%d gives 0 "
        "training steps; pass more epochs or a smaller batch size" %
        (job.num_train_epochs, num_examples, job.train_batch_size))
  return num_train_steps, int(num_train_steps * job.warmup_proportion)


def run(job):
  """Runs the job; returns {"train": Trainer result or None, "predictions": dict or None,
  "eval": metrics or None}.

  Every check that can be made before writing is made before writing: the original's
  checks, the numeric flags, the config, vocab and every input file, the number of
  training steps, the checkpoints (read in full) and, when output_dir already holds a
  checkpoint, that it was made by a run started with the same settings (run_config.json).
  The run owns output_dir (a lock) from start to end.
  """
  inputs = read_inputs(job)
  steps = num_train_steps_of(job, inputs) if job.do_train else (0, 0)
  with output_dir.owned(job.output_dir, lock=training.is_chief(), export_dir=job.export_dir):
    return _run(job, inputs, *steps)


def _run(job, inputs, num_train_steps, num_warmup_steps):
  rt = job.runtime
  if rt.trim:
    logging.info("--trim_padding: every position is computed (the original's padded positions "
                 "take part in the loss and the n-best lists); the attention skips each "
                 "batch's all-padding keys.")
  if rt.seed is not None:
    training.seed_everything(rt.seed)
  init = restore.checkpoint_initializer(job.init_checkpoint)
  strategy = model = None
  # A --logits_file prediction needs no model (an export does).
  if job.do_train or not job.logits_file or job.export_dir:
    strategy = rt.strategy()
    model, optimizer = _build(job, inputs.config, strategy, num_train_steps, num_warmup_steps)
    variables = model.original_variables()
    record = run_record(job, inputs.config)
    latest = _check_checkpoints(job, variables, record, training_run=job.do_train)
  results = {"train": None, "predictions": None, "eval": None}

  if job.do_train:
    train_init = init
    if latest is None and init is not None:
      # The initial weights are read in full now, so that a truncated or damaged
      # --init_checkpoint fails before anything is written; the trainer then has
      # nothing left to load.
      init(variables)
      train_init = None
    output_dir.write_record(job.output_dir, record)
    train_examples = records.shuffle_training_examples(inputs.train_examples)
    train_file = os.path.join(job.output_dir, "train.tf_record")
    with records.FeatureWriter(train_file, is_training=True) as writer:
      _convert(job, inputs.tokenizer, train_examples, True, output_fn=writer.process_feature)
    logging.info("***** Running training *****")
    logging.info("  Num orig examples = %d", len(train_examples))
    logging.info("  Num split examples = %d", writer.num_features)
    logging.info("  Batch size = %d", job.train_batch_size)
    logging.info("  Num steps = %d", num_train_steps)
    dataset = records.make_dataset(train_file, job.max_seq_length, job.train_batch_size,
                                   is_training=True, drop_remainder=True, seed=rt.seed)
    trainer = training.Trainer(
        strategy, model, variables, optimizer, _loss_fn(model),
        job.output_dir, save_checkpoints_steps=rt.save_checkpoints_steps,
        steps_per_loop=rt.steps_per_loop,
        gradient_accumulation_steps=rt.gradient_accumulation_steps, use_xla=rt.use_xla,
        trim=False, loss_scaling=rt.loss_scaling)
    results["train"] = trainer.train(dataset, num_train_steps, job.train_batch_size,
                                     init=train_init)

  if job.do_predict:
    if job.logits_file:
      features, raw_results = inputs.predict_features, inputs.logits
      logging.info("***** Post-processing %s (no model run) *****", job.logits_file)
      logging.info("  Num orig examples = %d", len(inputs.predict_examples))
      logging.info("  Num split examples = %d", len(features))
    else:
      features, raw_results = _predict_with_model(job, inputs, model, strategy, init)
    results["predictions"], results["eval"] = _write_predictions(job, inputs, features,
                                                                 raw_results)

  if job.export_dir:
    results["export"] = _export(job, model, init)
  return results


def _export(job, model, init):
  """The serving SavedModel of the run's weights (bert_tf.interop.squad_serving) at
  job.export_dir, with the run's feature and answer settings."""
  from bert_tf.interop import squad_serving
  # The newest checkpoint in output_dir (the trained one), else --init_checkpoint.
  global_step = restore.load_for_inference(model.original_variables(), job.output_dir, init)
  squad_serving.export_squad(
      model, job.vocab_file, job.export_dir, do_lower_case=job.do_lower_case,
      max_seq_length=job.max_seq_length, doc_stride=job.doc_stride,
      max_query_length=job.max_query_length,
      version_2_with_negative=job.version_2_with_negative,
      null_score_diff_threshold=job.null_score_diff_threshold,
      n_best_size=job.n_best_size, max_answer_length=job.max_answer_length,
      source=restore.latest_in(job.output_dir) or job.init_checkpoint)
  logging.info("Exported the SQuAD model (global_step %d) as a SavedModel to %s", global_step,
               job.export_dir)
  return job.export_dir


# What must agree between the run that wrote output_dir's checkpoints and a run that
# continues (trains) them: the model (config, vocab, casing) and the training features
# (their length, windows and question length, and whether unanswerable questions are
# targets).  A prediction may use other feature settings (USE_KEYS).
RESUME_KEYS = ("script", "bert_config", "vocab_sha256", "do_lower_case", "max_seq_length",
               "doc_stride", "max_query_length", "version_2_with_negative")
USE_KEYS = ("script", "bert_config", "vocab_sha256", "do_lower_case")


def run_record(job, config):
  """What this run was started with (output_dir/run_config.json), compared by the next run
  into output_dir (RESUME_KEYS / USE_KEYS) before it continues or uses the checkpoints."""
  return {"script": "run_squad.py",
          "bert_config_file": os.path.abspath(job.bert_config_file),
          "bert_config": config.to_dict(),
          "vocab_file": os.path.abspath(job.vocab_file),
          "vocab_sha256": output_dir.file_sha256(job.vocab_file),
          "do_lower_case": bool(job.do_lower_case),
          "max_seq_length": int(job.max_seq_length),
          "doc_stride": int(job.doc_stride),
          "max_query_length": int(job.max_query_length),
          "version_2_with_negative": bool(job.version_2_with_negative)}


def _check_checkpoints(job, variables, record, training_run):
  """Every check of the checkpoints this run reads, before anything is written; returns
  output_dir's newest checkpoint (None when there is none).

  --init_checkpoint: its shapes fit the model (name-matched partial load, as the
  original).  output_dir's newest checkpoint: made by a run started with the same
  settings (run_config.json) and fits the model exactly (restore.check_resume);
  --allow_resume_mismatch turns both into warnings.
  """
  allow = job.runtime.allow_resume_mismatch
  if job.init_checkpoint:
    restore.check(variables, job.init_checkpoint)
  latest = restore.latest_in(job.output_dir)
  if latest:
    output_dir.check_resume(job.output_dir, record, RESUME_KEYS if training_run else USE_KEYS,
                            allow_mismatch=allow, checkpoint=latest)
    restore.check_resume(variables, job.output_dir, allow)
  return latest


def _predict_with_model(job, inputs, model, strategy, init):
  """The weights, eval.tf_record, the forward loop over it, and logits.npz:
  (features, RawResults)."""
  rt = job.runtime
  variables = model.original_variables()
  if not restore.latest_in(job.output_dir) and job.init_checkpoint and not any(
      name.startswith(squad_model.HEAD_PREFIX)
      for name, _ in checkpoints.list_variables(job.init_checkpoint)):
    # As the original, the head then keeps its random initialisation; say so.
    logging.warning("%s has no %s* variables (not fine-tuned on SQuAD): the answers come from "
                    "an untrained span head.", job.init_checkpoint, squad_model.HEAD_PREFIX)
  # Every weight is read before eval.tf_record is written (a damaged checkpoint fails first).
  restore.load_for_inference(variables, job.output_dir, init)
  eval_file = os.path.join(job.output_dir, "eval.tf_record")
  features = []
  with records.FeatureWriter(eval_file, is_training=False) as writer:
    def append_feature(feature):
      features.append(feature)
      writer.process_feature(feature)
    _convert(job, inputs.tokenizer, inputs.predict_examples, False, output_fn=append_feature)
  logging.info("***** Running predictions *****")
  logging.info("  Num orig examples = %d", len(inputs.predict_examples))
  logging.info("  Num split examples = %d", len(features))
  logging.info("  Batch size = %d", job.predict_batch_size)
  dataset = records.make_dataset(eval_file, job.max_seq_length, job.predict_batch_size,
                                 is_training=False, drop_remainder=False)
  loop = forward.Forward(_predict_fn(model), strategy=strategy, trim=False,
                         use_xla=rt.use_xla)
  out = loop.run(dataset)
  raw_results = postprocess.results_from_arrays(
      out.get("unique_ids", []), out.get("start_logits", []), out.get("end_logits", []))
  for i in range(0, len(raw_results), 1000):
    logging.info("Processing example: %d" % i)
  path = os.path.join(job.output_dir, LOGITS_FILE)
  postprocess.write_logits(path, raw_results)
  logging.info("Wrote the raw logits to %s (--logits_file re-uses them)", path)
  return features, raw_results


def _write_predictions(job, inputs, features, raw_results):
  """predictions.json, nbest_predictions.json (null_odds.json) and, when the predict file
  has answers, eval_results.txt; returns (predictions, metrics or None)."""
  predictions, _, null_odds = postprocess.write_predictions(
      inputs.predict_examples, features, raw_results, job.n_best_size, job.max_answer_length,
      job.do_lower_case,
      os.path.join(job.output_dir, "predictions.json"),
      os.path.join(job.output_dir, "nbest_predictions.json"),
      os.path.join(job.output_dir, "null_odds.json"),
      version_2_with_negative=job.version_2_with_negative,
      null_score_diff_threshold=job.null_score_diff_threshold,
      verbose_logging=job.verbose_logging)
  if not squad_evaluate.has_gold_answers(inputs.predict_dataset):
    return predictions, None
  unanswerable = (squad_evaluate.unanswerable_ids(inputs.predict_dataset)
                  if not job.version_2_with_negative else [])
  if unanswerable:
    logging.warning("%s: %d questions have no answer (SQuAD 2.0's unanswerable ones, e.g. %s); "
                    "the SQuAD 1.1 metrics cannot score them, so no %s is written. Predict with "
                    "--version_2_with_negative=True for the 2.0 metrics.", job.predict_file,
                    len(unanswerable), unanswerable[0], EVAL_RESULTS_FILE)
    return predictions, None
  metrics = squad_evaluate.evaluate(
      inputs.predict_dataset, predictions, job.version_2_with_negative,
      null_odds=null_odds if job.version_2_with_negative else None)
  logging.info("***** Eval results (official SQuAD %s metrics) *****",
               "2.0" if job.version_2_with_negative else "1.1")
  training.write_key_values(os.path.join(job.output_dir, EVAL_RESULTS_FILE), metrics)
  return predictions, metrics
