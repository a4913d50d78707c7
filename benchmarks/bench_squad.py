"""bert_tf's SQuAD model at fixed shape (seq 384): fine-tuning and predict.

  --mode=train:   BertForSquad + optimization.create_optimizer + training.Trainer built
                  as bert_tf.squad.job builds them (squad.job._build, squad.job._loss_fn;
                  trim off, as run_squad: the padded positions take part in the loss),
                  driven through Trainer.train() on one fixed random batch repeated
                  (random ids, random start/end positions); step-end timestamps from
                  the Trainer's evaluate_fn hook, as bench_bert_tf.py's train mode.
  --mode=predict: squad.job._predict_fn (start/end logits + unique ids) in the
                  tf.function(strategy.run(...)) step of bert_tf.forward over a tf.data
                  pipeline of fixed random batches, outputs fetched to numpy.
  --mode=profile: attention's share of the time at this length: the model's forward
                  (dropout off) and forward + backward (dropout on, the span loss) at
                  [batch, seq], against the attention core alone -- per layer
                  Q K^T, + mask, softmax, (dropout,) P V on [B, A, S, d] tensors, chained
                  through the num_hidden_layers layers -- in three variants: the two
                  batched matmuls only, + mask + softmax, + dropout.

The real job (run_squad.py itself) is run by run_all.py (`--parts squad`).
Weights: the converted MiniLM checkpoint (or BENCH_MODEL_DIR).  Prints one line
`BENCH_JSON {...}`.
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


def build(strategy, num_train_steps=0, num_warmup_steps=0, use_xla=False):
  from bert_tf import configuration
  from bert_tf.squad import job as squad_job
  config = configuration.BertConfig.from_json_file(os.path.join(common.MINILM,
                                                                "bert_config.json"))
  job = squad_job.SquadJob(bert_config_file="", vocab_file="", output_dir="",
                           learning_rate=3e-5, runtime=runtime.RuntimeOptions(use_xla=use_xla))
  model, optimizer = squad_job._build(job, config, strategy, num_train_steps, num_warmup_steps)
  return job, model, optimizer


def squad_batch(batch_size, seq_len, seed):
  """common.random_batch plus what run_squad's records hold: start/end positions for
  training, unique ids for predict."""
  import numpy as np
  batch = common.random_batch(batch_size, seq_len, seed=seed)
  rng = np.random.RandomState(seed + 2)
  start = rng.randint(1, seq_len - 1, size=(batch_size,))
  batch["start_positions"] = start.astype(np.int32)
  batch["end_positions"] = np.minimum(start + rng.randint(0, 5, size=(batch_size,)),
                                      seq_len - 1).astype(np.int32)
  batch["unique_ids"] = np.arange(batch_size, dtype=np.int32) + 1000000000
  del batch["label_ids"]
  return batch


def run_train(args):
  import tensorflow as tf
  from bert_tf import restore, training
  from bert_tf.squad import job as squad_job
  strategy = training.resolve_strategy()
  total_steps = args.warmup + args.steps * args.windows
  _, model, optimizer = build(strategy, num_train_steps=1000, num_warmup_steps=100,
                              use_xla=args.use_xla)
  batch = squad_batch(args.batch, args.seq, seed=0)
  del batch["unique_ids"]
  dataset = tf.data.Dataset.from_tensors(batch).repeat()
  output_dir = tempfile.mkdtemp(prefix="bench_squad_")
  try:
    trainer = training.Trainer(
        strategy, model, model.original_variables(), optimizer, squad_job._loss_fn(model),
        output_dir, save_checkpoints_steps=0, steps_per_loop=1, gradient_accumulation_steps=1,
        use_xla=args.use_xla, trim=False, loss_scaling=False)
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
    t_first = marks.t[1] - marks.t[0]
  finally:
    shutil.rmtree(output_dir, ignore_errors=True)
  windows = common.windows_from_marks(marks.t, args.warmup, args.steps, args.windows)
  cpu = common.windows_from_marks(marks.c, args.warmup, args.steps, args.windows)
  out = {"system": "bert_tf BertForSquad" + (" --use_xla" if args.use_xla else ""),
         "mode": "train", "batch": args.batch, "seq": args.seq, "warmup_steps": args.warmup,
         "first_step_s_incl_setup": round(t_first, 2), "final_loss": result["loss"],
         "weights": "converted MiniLM (bert_model.ckpt)"}
  out.update(common.summarize(windows, args.batch * args.steps,
                              common.flops_per_example(args.seq, training=True),
                              common.step_times(marks.t, args.warmup), cpu))
  return out


def run_predict(args):
  import tensorflow as tf
  from bert_tf import checkpoints, training
  from bert_tf.data import pipeline
  from bert_tf.squad import job as squad_job
  strategy = training.resolve_strategy()
  _, model, _ = build(strategy, use_xla=args.use_xla)
  checkpoints.init_from_checkpoint(model.original_variables(),
                                   os.path.join(common.MINILM, "bert_model.ckpt"), log=False)
  predict_fn = squad_job._predict_fn(model)
  fn = tf.function(lambda f: strategy.run(predict_fn, args=(f,)), jit_compile=args.use_xla)
  results = {"system": "bert_tf BertForSquad" + (" --use_xla" if args.use_xla else ""),
             "mode": "predict", "seq": args.seq,
             "weights": "converted MiniLM (bert_model.ckpt)", "by_batch": {}}
  flops = common.flops_per_example(args.seq, training=False)
  for batch_size in args.batches:
    batch = squad_batch(batch_size, args.seq, seed=1)
    n = max(1, args.examples_per_window // batch_size)

    def one_pass(num_batches):
      ds = pipeline.without_autotune(tf.data.Dataset.from_tensors(batch).repeat(num_batches))
      for features in ds:
        yield [p.numpy() for value in fn(features).values()
               for p in strategy.experimental_local_results(value)]

    results["by_batch"][str(batch_size)] = common.timed_batches(
        one_pass, n, args.windows, args.warmup, batch_size, flops)
  return results


def run_profile(args):
  import math
  import statistics
  import tensorflow as tf
  from bert_tf import checkpoints, training
  from bert_tf.squad import model as squad_model
  strategy = training.resolve_strategy()
  _, model, _ = build(strategy)
  checkpoints.init_from_checkpoint(model.original_variables(),
                                   os.path.join(common.MINILM, "bert_model.ckpt"), log=False)
  b, s = args.batch, args.seq
  batch = {k: tf.constant(v) for k, v in squad_batch(b, s, seed=0).items()}
  cfg = common.CONFIG
  heads, layers = cfg["heads"], cfg["num_layers"]
  d = cfg["hidden"] // heads

  @tf.function
  def forward():
    return model(batch, training=False)["start_logits"]

  @tf.function
  def forward_backward():
    with tf.GradientTape() as tape:
      loss = squad_model.squad_loss(model(batch, training=True), batch["start_positions"],
                                    batch["end_positions"])
    grads = tape.gradient(loss, model.trainable_variables)
    # every gradient used (an unused one would be pruned from the graph)
    return tf.add_n([tf.reduce_sum(g.values if isinstance(g, tf.IndexedSlices) else g)
                     for g in grads if g is not None])

  rng = tf.random.Generator.from_seed(0)
  q0, k0, v0 = (tf.Variable(rng.normal([b, heads, s, d])) for _ in range(3))
  adder = tf.zeros([b, 1, 1, s])

  def core(variant, training):
    # Each layer's context feeds the next layer's query: a dependency chain, so the
    # graph optimizer cannot merge the layers' identical products.
    x = q0
    for _ in range(layers):
      scores = tf.matmul(x * (1.0 / math.sqrt(d)), k0, transpose_b=True)  # [B,A,S,S]
      if variant != "matmuls":
        scores = tf.nn.softmax(scores + adder)
      if variant == "+ dropout" and training:
        scores = tf.nn.dropout(scores, rate=0.1)
      x = tf.matmul(scores, v0)  # [B,A,S,d]
    return x

  def core_fn(variant, training):
    if not training:
      return tf.function(lambda: core(variant, False))

    def fwd_bwd():
      with tf.GradientTape() as tape:
        loss = tf.reduce_sum(core(variant, True))
      return tf.add_n([tf.reduce_sum(g) for g in tape.gradient(loss, [q0, k0, v0])])
    return tf.function(fwd_bwd)

  def time_ms(fn):
    for _ in range(2):
      fn().numpy()
    walls = []
    for _ in range(args.reps):
      with common.Window() as w:
        fn().numpy()
      walls.append(w.wall * 1000)
    return round(statistics.median(walls), 1)

  out = {"system": "bert_tf BertForSquad", "mode": "profile", "batch": b, "seq": s,
         "attention_flop_share": 2.0 * s * cfg["hidden"] / (
             4 * cfg["hidden"] ** 2 + 2 * cfg["hidden"] * cfg["intermediate"] +
             2 * s * cfg["hidden"]), "ms": {}, "share": {}}
  for name, whole, with_grad in (("forward", forward, False),
                                 ("forward+backward", forward_backward, True)):
    total = time_ms(whole)
    out["ms"][name] = total
    for variant in ("matmuls", "+ mask + softmax", "+ dropout"):
      if variant == "+ dropout" and not with_grad:
        continue
      ms = time_ms(core_fn(variant, with_grad))
      out["ms"]["%s: attention %s" % (name, variant)] = ms
      out["share"]["%s: attention %s" % (name, variant)] = round(ms / total, 3)
  return out


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--mode", choices=["train", "predict", "profile"], required=True)
  p.add_argument("--batch", type=int, default=12)
  p.add_argument("--batches", type=int, nargs="+", default=[12, 32])
  p.add_argument("--seq", type=int, default=384)
  p.add_argument("--warmup", type=int, default=2)
  p.add_argument("--steps", type=int, default=6)
  p.add_argument("--windows", type=int, default=3)
  p.add_argument("--examples_per_window", type=int, default=96)
  p.add_argument("--use_xla", action="store_true")
  p.add_argument("--reps", type=int, default=5, help="profile: timed repeats")
  args = p.parse_args()
  load_start = common.load1()
  out = {"train": run_train, "predict": run_predict, "profile": run_profile}[args.mode](args)
  out["load1_start"] = load_start
  import tensorflow as tf
  out["versions"] = {"tensorflow": tf.__version__}
  common.emit(out)


if __name__ == "__main__":
  main()
