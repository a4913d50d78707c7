"""bert_tf at fixed shape: fine-tuning (the Trainer run_classifier uses) and predict.

  --mode=train:   BertClassifier + optimization.create_optimizer("adamw", ...) +
                  training.Trainer built exactly as classifier.job.run builds it
                  (steps_per_loop=1, summaries on, trim off: the random ids are
                  all real), driven through Trainer.train() on one fixed random
                  batch repeated; a step-end timestamp is taken through the
                  Trainer's own evaluate_fn hook (evaluate_every=1, a no-op).
  --mode=predict: the tf.function forward of bert_tf.forward.Forward over a
                  tf.data pipeline of fixed random batches, outputs fetched to numpy.

Weights: the converted MiniLM checkpoint (checkpoints/minilm_L6_H384_A12).
Prints one line `BENCH_JSON {...}`.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bert_tf import runtime  # noqa: E402

runtime.configure_process()  # TensorFlow's start-up options, before anything imports TF
import common  # noqa: E402


def build(strategy, num_train_steps=0, num_warmup_steps=0, dtype="float32", use_xla=False):
  from bert_tf import configuration
  from bert_tf.classifier import job as classifier_job
  config = configuration.BertConfig.from_json_file(os.path.join(common.MINILM,
                                                                "bert_config.json"))
  job = classifier_job.ClassifierJob(
      data_dir="", bert_config_file="", task_name="mrpc", vocab_file="", output_dir="",
      learning_rate=2e-5, runtime=runtime.RuntimeOptions(dtype=dtype, use_xla=use_xla))
  model, optimizer = classifier_job._build(job, config, common.NUM_LABELS, strategy,
                                           num_train_steps, num_warmup_steps)
  return job, model, optimizer


def run_train(args):
  import tensorflow as tf
  from bert_tf import restore, training
  from bert_tf.classifier import job as classifier_job
  strategy = training.resolve_strategy()
  total_steps = args.warmup + args.steps * args.windows
  job, model, optimizer = build(strategy, num_train_steps=1000, num_warmup_steps=100,
                                dtype=args.dtype, use_xla=args.use_xla)
  batch = common.random_batch(args.batch, args.seq)
  batch["is_real_example"] = tf.ones([args.batch], tf.int32).numpy()
  dataset = tf.data.Dataset.from_tensors(batch).repeat()
  output_dir = tempfile.mkdtemp(prefix="bench_bert_tf_")
  try:
    trainer = training.Trainer(
        strategy, model, model.original_variables(), optimizer,
        classifier_job._loss_fn(model, common.NUM_LABELS), output_dir,
        save_checkpoints_steps=0, steps_per_loop=1, gradient_accumulation_steps=1,
        use_xla=args.use_xla, trim=False, loss_scaling=args.dtype == "float16")
    marks = common.Marks()
    t0, c0 = time.perf_counter(), time.process_time()

    def on_step(step):
      if not marks.t:  # first call = end of step 1; mark 0 = the start of train()
        marks.t.append(t0)
        marks.c.append(c0)
      return marks(step)

    result = trainer.train(dataset, total_steps, args.batch,
                           init=restore.checkpoint_initializer(
                               os.path.join(common.MINILM, "bert_model.ckpt")),
                           evaluate_every=1, evaluate_fn=on_step)
    t_first = marks.t[1] - marks.t[0]  # build + restore + save ckpt-0 + trace + step 1
  finally:
    shutil.rmtree(output_dir, ignore_errors=True)
  windows = common.windows_from_marks(marks.t, args.warmup, args.steps, args.windows)
  flops = common.flops_per_example(args.seq, training=True)
  out = {"system": "bert_tf" + (" --use_xla" if args.use_xla else "") +
                   (" --dtype=%s" % args.dtype if args.dtype != "float32" else ""),
         "mode": "train",
         "batch": args.batch, "seq": args.seq, "warmup_steps": args.warmup,
         "first_step_s_incl_setup": round(t_first, 2),
         "final_loss": result["loss"], "weights": "converted MiniLM (bert_model.ckpt)"}
  cpu = common.windows_from_marks(marks.c, args.warmup, args.steps, args.windows)
  out.update(common.summarize(windows, args.batch * args.steps, flops,
                              common.step_times(marks.t, args.warmup), cpu))
  return out


def run_predict(args):
  import numpy as np
  import tensorflow as tf
  from bert_tf import checkpoints, training
  from bert_tf.classifier import job as classifier_job
  from bert_tf.data import pipeline
  strategy = training.resolve_strategy()
  job, model, _ = build(strategy, use_xla=args.use_xla)  # (XLA: no skip_padding)
  checkpoints.init_from_checkpoint(model.original_variables(),
                                   os.path.join(common.MINILM, "bert_model.ckpt"), log=False)
  predict_fn = classifier_job._predict_fn(model, common.NUM_LABELS)
  # bert_tf.forward.Forward's step (the job builds it per eval/predict run; built once
  # here so that the windows time the steady state, not tracing).
  fn = tf.function(lambda f: strategy.run(predict_fn, args=(f,)), jit_compile=args.use_xla)
  label = {"library": "", "autotune": ", tf.data autotune on (stall check)",
           "direct": ", no tf.data (tensors fed directly)"}[args.input]
  results = {"system": "bert_tf" + (" --use_xla" if args.use_xla else "") + label,
             "mode": "predict", "input": args.input,
             "seq": args.seq, "weights": "converted MiniLM (bert_model.ckpt)", "by_batch": {}}
  a, b = tf.random.normal([4096, 384]), tf.random.normal([384, 1536])
  results["gemm_gflops"] = common.gemm_ceiling(lambda: tf.matmul(a, b).numpy())
  flops = common.flops_per_example(args.seq, training=False)
  for batch_size in args.batches:
    batch = common.random_batch(batch_size, args.seq, seed=1)
    batch["is_real_example"] = np.ones([batch_size], np.int32)
    n = max(1, args.examples_per_window // batch_size)
    tensors = {k: tf.constant(v) for k, v in batch.items()}

    def batches(num_batches):
      if args.input == "direct":  # the same tensors each step, no tf.data iterator
        return (tensors for _ in range(num_batches))
      ds = tf.data.Dataset.from_tensors(batch).repeat(num_batches)
      if args.input == "autotune":  # the stall experiment: tf.data's autotuner on
        return ds.prefetch(2)
      return pipeline.without_autotune(ds)  # what bert_tf.data.pipeline.make_dataset does

    def one_pass(num_batches):
      for features in batches(num_batches):
        yield [p.numpy() for value in fn(features).values()
               for p in strategy.experimental_local_results(value)]

    results["by_batch"][str(batch_size)] = common.timed_batches(
        one_pass, n, args.windows, args.warmup, batch_size, flops)
  return results


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--mode", choices=["train", "predict"], required=True)
  p.add_argument("--batch", type=int, default=32)
  p.add_argument("--batches", type=int, nargs="+", default=[32, 128])
  p.add_argument("--seq", type=int, default=128)
  p.add_argument("--warmup", type=int, default=2)
  p.add_argument("--steps", type=int, default=6)
  p.add_argument("--windows", type=int, default=3)
  p.add_argument("--examples_per_window", type=int, default=384)
  p.add_argument("--use_xla", action="store_true")
  p.add_argument("--input", default="library", choices=["library", "autotune", "direct"],
                 help="predict: batches through the library's tf.data pipeline (default), "
                      "through tf.data with its autotuner on (the stall experiment), or as "
                      "tensors fed directly (no tf.data)")
  p.add_argument("--autotune", action="store_const", dest="input", const="autotune",
                 help="predict: same as --input=autotune")
  p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"],
                 help="train: run_classifier.py --dtype")
  args = p.parse_args()
  load_start = common.load1()
  out = run_train(args) if args.mode == "train" else run_predict(args)
  out["load1_start"] = load_start
  import tensorflow as tf
  out["versions"] = {"tensorflow": tf.__version__}
  common.emit(out)


if __name__ == "__main__":
  main()
