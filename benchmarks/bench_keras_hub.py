"""keras-hub 0.32 BertTextClassifier: fit / predict at fixed shape, and the MRPC job.

Model: BertBackbone(vocabulary_size=30522, num_layers=6, num_heads=12,
hidden_dim=384, intermediate_dim=1536, max_sequence_length=512) inside
BertTextClassifier(num_classes=2, dropout=0.1), with the converted MiniLM weights
(checkpoints/minilm_L6_H384_A12/bert_model.ckpt) loaded through the mapping of
docs/peers.md section 3.2 (q/k/v kernels reshaped to [H,A,H/A], biases to
[A,H/A], the attention-output kernel to [A,H/A,H]); the classifier layer keeps
its random init, as in run_classifier.  The same FLOPs as bert_tf.

Optimizer: keras.optimizers.AdamW(2e-5, weight_decay=0.01, epsilon=1e-6,
global_clipnorm=1.0), i.e. the original's update (clip + decoupled decay), loss
SparseCategoricalCrossentropy(from_logits=True), metric
SparseCategoricalAccuracy (keras-hub's default compile adds it).
--jit: compile(jit_compile=True); without it, jit_compile=False (what "auto"
resolves to on a CPU-only host).

  --mode=train:    fit() on a fixed random batch repeated; one warm-up fit call,
                   then one fit call of `windows` epochs of `steps` steps;
                   step ends timed with a batch callback.
  --mode=predict:  predict() on a dataset of fixed random batches, per window.
  --mode=real_job: MRPC with keras-hub's own pipeline: BertTokenizer(vocab.txt,
                   lowercase=True) + BertTextClassifierPreprocessor(seq 128),
                   fit 3 epochs batch 32 on train, evaluate dev, predict test
                   (batch 32, keras' default), each stage timed.
Prints one line `BENCH_JSON {...}`.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import common  # noqa: E402


def keras_path(name):
  """Original TF1 name -> (keras-hub variable path, transform) or None (skipped)."""
  import numpy as np
  p = name.split("/")
  if p[0] != "bert":
    return None
  if p[1] == "embeddings":
    table = {"word_embeddings": "token_embedding/embeddings",
             "position_embeddings": "position_embedding/embeddings",
             "token_type_embeddings": "segment_embedding/embeddings"}
    if p[2] in table:
      return table[p[2]], None
    return "embeddings_layer_norm/" + p[3], None  # LayerNorm/{gamma,beta}
  if p[1] == "pooler":
    return "pooled_dense/" + p[3], None
  i = int(p[2][len("layer_"):])
  t = "transformer_layer_%d/" % i
  rest = "/".join(p[3:])
  a, h = common.CONFIG["heads"], common.CONFIG["hidden"]
  for qkv in ("query", "key", "value"):
    if rest == "attention/self/%s/kernel" % qkv:
      return t + "self_attention_layer/%s/kernel" % qkv, lambda x: np.reshape(x, (h, a, -1))
    if rest == "attention/self/%s/bias" % qkv:
      return t + "self_attention_layer/%s/bias" % qkv, lambda x: np.reshape(x, (a, -1))
  mapping = {
      "attention/output/dense/kernel": ("self_attention_layer/attention_output/kernel",
                                        lambda x: np.reshape(x, (a, -1, h))),
      "attention/output/dense/bias": ("self_attention_layer/attention_output/bias", None),
      "attention/output/LayerNorm/gamma": ("self_attention_layer_norm/gamma", None),
      "attention/output/LayerNorm/beta": ("self_attention_layer_norm/beta", None),
      "intermediate/dense/kernel": ("feedforward_intermediate_dense/kernel", None),
      "intermediate/dense/bias": ("feedforward_intermediate_dense/bias", None),
      "output/dense/kernel": ("feedforward_output_dense/kernel", None),
      "output/dense/bias": ("feedforward_output_dense/bias", None),
      "output/LayerNorm/gamma": ("feedforward_layer_norm/gamma", None),
      "output/LayerNorm/beta": ("feedforward_layer_norm/beta", None),
  }
  path, fn = mapping[rest]
  return t + path, fn


def load_original_checkpoint(backbone, ckpt):
  import tensorflow as tf
  reader = tf.train.load_checkpoint(ckpt)
  by_path = {v.path: v for v in backbone.weights}
  loaded = 0
  for name in sorted(reader.get_variable_to_shape_map()):
    target = keras_path(name)
    if target is None:
      continue
    path, fn = target
    value = reader.get_tensor(name)
    if fn is not None:
      value = fn(value)
    var = by_path[path]
    if tuple(var.shape) != value.shape:
      raise ValueError("%s -> %s: shape %s vs %s" % (name, path, value.shape, var.shape))
    var.assign(value)
    loaded += 1
  if loaded != len(by_path):
    raise ValueError("loaded %d of %d backbone variables" % (loaded, len(by_path)))
  return loaded


def build_classifier(preprocessor=None, jit=False, learning_rate=2e-5):
  import keras
  import keras_hub
  c = common.CONFIG
  backbone = keras_hub.models.BertBackbone(
      vocabulary_size=c["vocab_size"], num_layers=c["num_layers"], num_heads=c["heads"],
      hidden_dim=c["hidden"], intermediate_dim=c["intermediate"],
      max_sequence_length=c["max_positions"])
  load_original_checkpoint(backbone, os.path.join(common.MINILM, "bert_model.ckpt"))
  model = keras_hub.models.BertTextClassifier(backbone, num_classes=common.NUM_LABELS,
                                              preprocessor=preprocessor, dropout=0.1)
  model.compile(
      optimizer=keras.optimizers.AdamW(learning_rate=learning_rate, weight_decay=0.01,
                                       epsilon=1e-6, global_clipnorm=1.0),
      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
      metrics=[keras.metrics.SparseCategoricalAccuracy()],
      jit_compile=bool(jit))
  return model


def keras_inputs(batch):
  return {"token_ids": batch["input_ids"], "segment_ids": batch["segment_ids"],
          "padding_mask": batch["input_mask"].astype(bool)}


def run_train(args):
  import keras
  import tensorflow as tf
  model = build_classifier(jit=args.jit)
  batch = common.random_batch(args.batch, args.seq)
  ds = tf.data.Dataset.from_tensors((keras_inputs(batch), batch["label_ids"])).repeat()
  marks = common.Marks()

  class StepTimer(keras.callbacks.Callback):
    def on_train_batch_end(self, step, logs=None):
      marks()

  t0 = time.perf_counter()
  model.fit(ds, epochs=1, steps_per_epoch=args.warmup, verbose=0)
  t_first = time.perf_counter() - t0
  marks()  # start of the timed fit call
  history = model.fit(ds, epochs=args.windows, steps_per_epoch=args.steps, verbose=0,
                      callbacks=[StepTimer()])
  windows = common.windows_from_marks(marks.t, 0, args.steps, args.windows)
  cpu = common.windows_from_marks(marks.c, 0, args.steps, args.windows)
  flops = common.flops_per_example(args.seq, training=True)
  out = {"system": "keras-hub fit" + (" jit" if args.jit else ""), "mode": "train",
         "batch": args.batch, "seq": args.seq, "warmup_steps": args.warmup,
         "warmup_fit_s_incl_trace": round(t_first, 2),
         "final_loss": float(history.history["loss"][-1]),
         "weights": "converted MiniLM via peers.md 3.2 mapping"}
  out.update(common.summarize(windows, args.batch * args.steps, flops,
                              common.step_times(marks.t, 0), cpu))
  return out


def run_predict(args):
  import tensorflow as tf
  model = build_classifier(jit=args.jit)
  flops = common.flops_per_example(args.seq, training=False)
  results = {"system": "keras-hub predict" + (" jit" if args.jit else ""), "mode": "predict",
             "seq": args.seq, "weights": "converted MiniLM via peers.md 3.2 mapping",
             "by_batch": {}}
  for batch_size in args.batches:
    batch = common.random_batch(batch_size, args.seq, seed=1)
    x = keras_inputs(batch)
    n = max(1, args.examples_per_window // batch_size)
    model.predict(tf.data.Dataset.from_tensors(x).repeat(args.warmup), verbose=0)
    windows, cpu = [], []
    for _ in range(args.windows):
      with common.Window() as w:
        model.predict(tf.data.Dataset.from_tensors(x).repeat(n), verbose=0)
      windows.append(w.wall)
      cpu.append(w.cpu)
    results["by_batch"][str(batch_size)] = common.summarize(windows, n * batch_size, flops,
                                                            cpu_seconds=cpu)
  return results


def run_real_job(args):
  import numpy as np
  import tensorflow as tf
  import keras_hub
  clock = common.StageClock()
  tokenizer = keras_hub.models.BertTokenizer(
      vocabulary=os.path.join(common.MINILM, "vocab.txt"), lowercase=True)
  preprocessor = keras_hub.models.BertTextClassifierPreprocessor(tokenizer,
                                                                 sequence_length=args.seq)
  model = build_classifier(preprocessor=preprocessor, jit=args.jit)
  clock.lap("setup")

  a, b, y = common.read_mrpc("train")
  n_train = len(y)
  train = tf.data.Dataset.from_tensor_slices(((a, b), np.array(y, np.int32)))
  train = train.shuffle(len(y), seed=0).batch(args.batch)
  if float(args.epochs).is_integer():
    hist = model.fit(train, epochs=int(args.epochs), verbose=0)
  else:  # fractional epochs (smoke runs): the original's int(N / B * epochs) steps
    steps = max(1, int(n_train / args.batch * args.epochs))
    hist = model.fit(train.repeat(), epochs=1, steps_per_epoch=steps, verbose=0)
  clock.lap("train")

  a, b, y = common.read_mrpc("dev")
  dev = tf.data.Dataset.from_tensor_slices(((a, b), np.array(y, np.int32))).batch(args.eval_batch)
  metrics = model.evaluate(dev, verbose=0, return_dict=True)
  clock.lap("eval")

  a, b, _ = common.read_mrpc("test")
  test = tf.data.Dataset.from_tensor_slices((a, b)).batch(args.eval_batch)
  logits = model.predict(test, verbose=0)
  probs = tf.nn.softmax(logits).numpy()
  with open(os.devnull, "w") as f:
    for row in probs:
      f.write("\t".join(str(p) for p in row) + "\n")
  clock.lap("predict")
  return {"system": "keras-hub", "mode": "real_job", "stages_s": clock.stages,
          "train_examples": n_train, "epochs": args.epochs,
          "eval_accuracy": float(metrics.get("sparse_categorical_accuracy", float("nan"))),
          "final_train_loss": float(hist.history["loss"][-1]),
          "pipeline": "BertTokenizer + BertTextClassifierPreprocessor(seq %d) in tf.data, "
                      "fit batch %d x %g epochs, evaluate/predict batch %d"
                      % (args.seq, args.batch, args.epochs, args.eval_batch)}


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--mode", choices=["train", "predict", "real_job"], required=True)
  p.add_argument("--jit", action="store_true")
  p.add_argument("--batch", type=int, default=32)
  p.add_argument("--eval_batch", type=int, default=32)
  p.add_argument("--batches", type=int, nargs="+", default=[32, 128])
  p.add_argument("--seq", type=int, default=128)
  p.add_argument("--warmup", type=int, default=2)
  p.add_argument("--steps", type=int, default=6)
  p.add_argument("--windows", type=int, default=3)
  p.add_argument("--epochs", type=float, default=3.0)
  p.add_argument("--examples_per_window", type=int, default=384)
  args = p.parse_args()
  load_start = common.load1()
  out = {"train": run_train, "predict": run_predict, "real_job": run_real_job}[args.mode](args)
  out["load1_start"] = load_start
  import keras
  import keras_hub
  import tensorflow as tf
  out["versions"] = {"tensorflow": tf.__version__, "keras": keras.__version__,
                     "keras_hub": keras_hub.__version__}
  common.emit(out)


if __name__ == "__main__":
  main()
