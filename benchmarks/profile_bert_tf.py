"""Where bert_tf's training step goes: forward vs backward vs optimizer vs the whole
Trainer step, and the raw GEMM speed of this machine at the model's shapes.

  gemm        tf.matmul GFLOP/s for the encoder's matrix shapes (B*S x H @ H x H, H x I,
              I x H, and the batched attention products): the ceiling for any framework
              on this CPU with TensorFlow's kernels.
  step_variants  the Trainer step vs the same fwd+bwd+apply in one tf.function, with and
              without the tf.range (while_loop) wrapper (see step_variants()).
  components  tf.functions of (1) forward with dropout (training=True) + loss,
              (2) forward + backward (tape.gradient), (3) the optimizer's apply_gradients
              on fixed gradients (clip + AdamW), (4) the Trainer's full step; each with
              jit_compile off and on.  backward = (2) - (1); overhead = (4) - (2) - (3).

Prints one line `BENCH_JSON {...}`; run_all.py --parts profile puts it in RESULTS.md.
"""

import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bert_tf import runtime  # noqa: E402

runtime.configure_process()  # TensorFlow's start-up options, before anything imports TF
import common  # noqa: E402

import tensorflow as _tf  # noqa: E402
_tf.get_logger().setLevel("ERROR")  # the gemm section's per-shape retracing warnings


def timeit(fn, reps, warmup=2):
  for _ in range(warmup):
    fn()
  walls, cpus = [], []
  for _ in range(reps):
    with common.Window() as w:
      fn()
    walls.append(w.wall)
    cpus.append(w.cpu)
  return {"ms_median": 1000 * statistics.median(walls), "ms_min": 1000 * min(walls),
          "cpu_util": statistics.median(c / w for c, w in zip(cpus, walls))}


def gemm(args):
  import tensorflow as tf
  c = common.CONFIG
  t = args.batch * args.seq
  H, I, A, S = c["hidden"], c["intermediate"], c["heads"], args.seq
  d = H // A
  shapes = {
      "qkv/out proj [T,H]x[H,H]": ((t, H), (H, H)),
      "intermediate [T,H]x[H,I]": ((t, H), (H, I)),
      "output [T,I]x[I,H]": ((t, I), (I, H)),
      "fused qkv [T,H]x[H,3H]": ((t, H), (H, 3 * H)),
      "scores [BA,S,d]x[BA,d,S]": ((args.batch * A, S, d), (args.batch * A, d, S)),
      "context [BA,S,S]x[BA,S,d]": ((args.batch * A, S, S), (args.batch * A, S, d)),
  }
  out = {}
  for name, (sa, sb) in shapes.items():
    a = tf.random.normal(sa)
    b = tf.random.normal(sb)
    f = tf.function(lambda a=a, b=b: tf.matmul(a, b))
    flops = 2.0 * sa[-2] * sa[-1] * sb[-1] * (sa[0] if len(sa) == 3 else 1)
    r = timeit(lambda: f().numpy(), args.reps)
    r["gflops"] = flops / (r["ms_median"] / 1000) / 1e9
    out[name] = r
  return out


def components(args):
  import tensorflow as tf
  from bert_tf import checkpoints, training
  from bert_tf.classifier import job as classifier_job
  sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
  import bench_bert_tf
  strategy = training.resolve_strategy()
  _, model, optimizer = bench_bert_tf.build(strategy, num_train_steps=1000, num_warmup_steps=100)
  checkpoints.init_from_checkpoint(model.original_variables(),
                                   os.path.join(common.MINILM, "bert_model.ckpt"), log=False)
  batch = common.random_batch(args.batch, args.seq)
  batch["is_real_example"] = tf.ones([args.batch], tf.int32).numpy()
  features = {k: tf.constant(v) for k, v in batch.items()}
  loss_fn = classifier_job._loss_fn(model, common.NUM_LABELS)
  variables = model.original_variables()
  names = sorted(n for n, v in variables.items() if v.trainable)
  train_vars = [variables[n] for n in names]
  optimizer.build({n: variables[n] for n in names})
  out = {}
  for jit in (False, True):
    tag = "jit" if jit else "graph"
    fwd = tf.function(lambda: loss_fn(features, training=True), jit_compile=jit)

    def _fwd_bwd():
      with tf.GradientTape() as tape:
        loss = loss_fn(features, training=True)
      return loss, tape.gradient(loss, train_vars)

    fwd_bwd = tf.function(_fwd_bwd, jit_compile=jit)
    grads = [tf.convert_to_tensor(g) for g in fwd_bwd()[1]]
    apply = tf.function(lambda: optimizer.apply_gradients(dict(zip(names, grads))),
                        jit_compile=False)
    r = {"forward": timeit(lambda: fwd().numpy(), args.reps),
         "forward+backward": timeit(lambda: fwd_bwd()[0].numpy(), args.reps)}
    if not jit:
      r["optimizer (clip + AdamW, dense grads)"] = timeit(
          lambda: (apply(), optimizer.global_step.numpy()), args.reps)
    out[tag] = r
  for jit in (False, True):
    import tempfile
    d = tempfile.mkdtemp(prefix="profile_bert_tf_")
    trainer = training.Trainer(strategy, model, variables, optimizer, loss_fn, d,
                               save_checkpoints_steps=0, use_xla=jit, summaries=False)
    fn = trainer._build_train_fn()
    it = iter(tf.data.Dataset.from_tensors(features).repeat())
    one = tf.constant(1, tf.int32)
    out["jit" if jit else "graph"]["Trainer step"] = timeit(lambda: fn(it, one)[0].numpy(),
                                                            args.reps)
  for tag, r in out.items():
    f, fb, step = (r["forward"]["ms_median"], r["forward+backward"]["ms_median"],
                   r["Trainer step"]["ms_median"])
    opt = out["graph"]["optimizer (clip + AdamW, dense grads)"]["ms_median"]
    r["derived_ms"] = {"backward": fb - f, "step - fwd_bwd - optimizer": step - fb - opt}
    r["gflops"] = {
        "forward": args.batch * common.flops_per_example(args.seq, False) / (f / 1000) / 1e9,
        "forward+backward": args.batch * common.flops_per_example(args.seq, True)
                            / (fb / 1000) / 1e9,
        "Trainer step": args.batch * common.flops_per_example(args.seq, True)
                        / (step / 1000) / 1e9}
  return out


def step_variants(args):
  """Is the Trainer's step slower than forward + backward + optimizer, and why?

  A: one tf.function: tape, gradients (IndexedSlices for the word embeddings, as in the
     Trainer), optimizer.apply_gradients -- no loop.
  B: the same body inside `for i in tf.range(n)` (a tf.while_loop, as Trainer.train_steps),
     n = 1.
  C: the Trainer's own train function (strategy.run, reduce, TensorArray, iterator), n = 1.
  """
  import tempfile
  import tensorflow as tf
  from bert_tf import checkpoints, training
  from bert_tf.classifier import job as classifier_job
  import bench_bert_tf
  strategy = training.resolve_strategy()
  _, model, optimizer = bench_bert_tf.build(strategy, num_train_steps=1000, num_warmup_steps=100)
  checkpoints.init_from_checkpoint(model.original_variables(),
                                   os.path.join(common.MINILM, "bert_model.ckpt"), log=False)
  batch = common.random_batch(args.batch, args.seq)
  batch["is_real_example"] = tf.ones([args.batch], tf.int32).numpy()
  features = {k: tf.constant(v) for k, v in batch.items()}
  loss_fn = classifier_job._loss_fn(model, common.NUM_LABELS)
  variables = model.original_variables()
  names = sorted(n for n, v in variables.items() if v.trainable)
  train_vars = [variables[n] for n in names]
  optimizer.build({n: variables[n] for n in names})

  def body():
    with tf.GradientTape() as tape:
      loss = loss_fn(features, training=True)
    grads = tape.gradient(loss, train_vars)
    optimizer.apply_gradients(dict(zip(names, grads)))
    return loss

  step_a = tf.function(body)

  @tf.function
  def step_b(n):
    loss = tf.constant(0.0)
    for _ in tf.range(n):
      loss = body()
    return loss

  trainer = training.Trainer(strategy, model, variables, optimizer, loss_fn,
                             tempfile.mkdtemp(prefix="profile_bert_tf_"),
                             save_checkpoints_steps=0, summaries=False)
  fn_c = trainer._build_train_fn()
  it = iter(tf.data.Dataset.from_tensors(features).repeat())
  one = tf.constant(1, tf.int32)
  out = {}
  # Interleaved rounds so that a change of load hits every variant alike.
  for _ in range(args.rounds):
    for name, fn in (("A: fwd+bwd+apply, one tf.function", lambda: step_a().numpy()),
                     ("B: same inside tf.range loop (while_loop)", lambda: step_b(one).numpy()),
                     ("C: Trainer train fn", lambda: fn_c(it, one)[0].numpy())):
      r = timeit(fn, args.reps, warmup=1 if name in out else 2)
      out.setdefault(name, []).append(r["ms_median"])
  return {k: {"ms_median": statistics.median(v), "ms_rounds": [round(x) for x in v],
              "gflops": args.batch * common.flops_per_example(args.seq, True)
                        / (statistics.median(v) / 1000) / 1e9} for k, v in out.items()}


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--batch", type=int, default=32)
  p.add_argument("--seq", type=int, default=128)
  p.add_argument("--reps", type=int, default=5)
  p.add_argument("--rounds", type=int, default=2)
  p.add_argument("--sections", default="gemm,components,step_variants")
  args = p.parse_args()
  out = {"system": "bert_tf profile", "mode": "profile", "batch": args.batch, "seq": args.seq,
         "load1_start": common.load1()}
  sections = args.sections.split(",")
  if "gemm" in sections:
    out["gemm"] = gemm(args)
  if "components" in sections:
    out["components"] = components(args)
  if "step_variants" in sections:
    out["step_variants"] = step_variants(args)
  common.emit(out)


if __name__ == "__main__":
  main()
