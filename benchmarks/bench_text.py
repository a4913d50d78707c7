"""bert_tf on real text: predict.py's Python path and the serving SavedModel (issue 20).

The model is a fine-tuned-classifier stand-in: the converted MiniLM (common.MINILM)
with a 2-label classifier head of fixed values (normal(0, 0.02) from seed 0, bias 0;
speed does not depend on them), written once as a run_classifier output_dir (a
model.ckpt-1 under the original names + run_config.json) and, for --mode=serving,
exported as a serving SavedModel by bert_tf.interop.export.export_model (what
export_model.py --format=classifier runs).  Both are made by a child process
(--mode=prepare) so that the measured process holds only what a user's would;
with --work_dir they are made once and reused while the model dir and length agree.

  --mode=predict_py: predictor.load_classifier(output_dir) -> ClassifierPredictor (what
                     predict.py runs), loaded once; SST-2 dev sentences (872) and MRPC
                     test pairs (1725); each window is one predictor.predict(texts,
                     batch_size=32) call on the next --texts_per_window texts, so the
                     time includes tokenization and features (texts -> probabilities).
                     One warm-up call on --warmup batches is excluded.
  --mode=serving:    tf.saved_model.load(export_dir) (plain TensorFlow); requests of 1, 8
                     and 32 texts drawn cyclically from SST-2 dev through
                     signatures["serving_default"] (and MRPC test pairs through
                     ["serving_pair"] at --pair_batches), each request = strings ->
                     tf.constant -> signature -> probabilities and labels to numpy;
                     then a long-lived run of --long_requests requests at batch 1
                     (req/s of the first and last --long_window requests, VmRSS at
                     its start and end).

Prints one line `BENCH_JSON {...}`.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(1, os.path.dirname(HERE))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bert_tf import runtime  # noqa: E402

runtime.configure_process()  # TensorFlow's start-up options, before anything imports TF
import common  # noqa: E402

LABELS = ["0", "1"]
HEAD_SEED = 0
STAMP = "bench_text_model.json"


def model_length(max_seq_length):
  """--max_seq_length, or the model's max_position_embeddings when that is shorter (the
  tiny test config has 64)."""
  return min(max_seq_length, common.CONFIG["max_positions"])


# --------------------------------------------------------------------------- prepare


def _stamp(max_seq_length):
  return {"model_dir": os.path.abspath(common.MINILM), "max_seq_length": max_seq_length,
          "head_seed": HEAD_SEED, "labels": LABELS}


def prepared(work_dir, max_seq_length, export):
  """True when work_dir already holds this model (and its export, if asked)."""
  try:
    with open(os.path.join(work_dir, STAMP)) as f:
      if json.load(f) != _stamp(max_seq_length):
        return False
  except (OSError, ValueError):
    return False
  if not os.path.exists(os.path.join(work_dir, "output_dir", "model.ckpt-1.index")):
    return False
  return not export or os.path.exists(os.path.join(work_dir, "export", "saved_model.pb"))


def run_prepare(args):
  """Writes work_dir/output_dir (model.ckpt-1 + run_config.json) and, with --export,
  work_dir/export (the serving SavedModel)."""
  import numpy as np
  from bert_tf import checkpoints, modeling
  from bert_tf.configuration import BertConfig
  from bert_tf.interop import export
  length = model_length(args.max_seq_length)
  work = args.work_dir
  out_dir = os.path.join(work, "output_dir")
  config_file = os.path.join(common.MINILM, "bert_config.json")
  vocab_file = os.path.join(common.MINILM, "vocab.txt")
  if os.path.exists(os.path.join(work, STAMP)):
    os.remove(os.path.join(work, STAMP))  # stale until this run finishes
  if os.path.isdir(out_dir):
    shutil.rmtree(out_dir)
  config = BertConfig.from_json_file(config_file)
  model = modeling.BertClassifier(config, len(LABELS))
  model.build()
  checkpoints.init_from_checkpoint(model.bert.original_variables(),
                                   os.path.join(common.MINILM, "bert_model.ckpt"), log=False)
  rng = np.random.RandomState(HEAD_SEED)
  w = model.head.output_weights
  model.head.output_weights.assign(rng.normal(0.0, 0.02, w.shape).astype(np.float32))
  model.head.output_bias.assign(np.zeros(model.head.output_bias.shape, np.float32))
  prefix = checkpoints.save_checkpoint(out_dir, 1, model.original_variables())
  with open(os.path.join(out_dir, "run_config.json"), "w") as f:
    json.dump({"script": "run_classifier.py", "task_name": "sst-2",
               "bert_config_file": os.path.abspath(config_file),
               "vocab_file": os.path.abspath(vocab_file), "do_lower_case": True,
               "max_seq_length": length, "label_list": LABELS}, f, indent=1)
  if args.export:
    export.export_model("classifier", config_file, prefix, vocab_file, True,
                        os.path.join(work, "export"), label_list=LABELS,
                        max_seq_length=length)
  with open(os.path.join(work, STAMP), "w") as f:
    json.dump(_stamp(length), f)
  return {"mode": "prepare", "work_dir": work}


def ensure_prepared(args, export):
  """(work_dir, temporary?): the model made by a child process unless --work_dir has it."""
  length = model_length(args.max_seq_length)
  work = args.work_dir or tempfile.mkdtemp(prefix="bench_text_")
  if prepared(work, length, export):
    return work, not args.work_dir
  os.makedirs(work, exist_ok=True)
  argv = [sys.executable, os.path.abspath(__file__), "--mode=prepare", "--work_dir", work,
          "--max_seq_length", str(args.max_seq_length)] + (["--export"] if export else [])
  t0 = time.perf_counter()
  subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
  sys.stdout.write("prepared %s in %.1f s\n" % (work, time.perf_counter() - t0))
  return work, not args.work_dir


# --------------------------------------------------------------------------- predict.py


def run_predict_py(args):
  from bert_tf.inference import predictor
  work, temporary = ensure_prepared(args, export=False)
  try:
    t0 = time.perf_counter()
    model = predictor.load_classifier(output_dir=os.path.join(work, "output_dir"))
    load_s = time.perf_counter() - t0
    out = {"system": "bert_tf predict.py (ClassifierPredictor)", "mode": "predict_py",
           "batch": args.batch, "max_seq_length": model.max_seq_length,
           "load_s": round(load_s, 2), "by_dataset": {}}
    for name, texts in common.real_text_sets(args.limit).items():
      per = min(args.texts_per_window, len(texts))
      out["by_dataset"][name] = common.timed_texts(
          lambda chunk: model.predict(chunk, batch_size=args.batch).values, texts,
          args.batch, per, args.windows, args.warmup)
  finally:
    if temporary:
      shutil.rmtree(work, ignore_errors=True)
  return out


# --------------------------------------------------------------------------- serving


def run_serving(args):
  import tensorflow as tf
  work, temporary = ensure_prepared(args, export=True)
  try:
    rss_before_load = common.vm_rss_mb()
    t0 = time.perf_counter()
    loaded = tf.saved_model.load(os.path.join(work, "export"))
    single, pair = loaded.signatures["serving_default"], loaded.signatures["serving_pair"]
    load_s = time.perf_counter() - t0

    def call_single(texts):
      out = single(text_a=tf.constant(texts))
      return out["probabilities"].numpy(), out["label"].numpy()

    def call_pair(pairs):
      out = pair(text_a=tf.constant([a for a, _ in pairs]),
                 text_b=tf.constant([b for _, b in pairs]))
      return out["probabilities"].numpy(), out["label"].numpy()

    data = common.real_text_sets(args.limit)
    out = {"system": "bert_tf serving SavedModel (tf.saved_model.load)", "mode": "serving",
           "max_seq_length": model_length(args.max_seq_length), "load_s": round(load_s, 2),
           "rss_before_load_mb": rss_before_load, "by_batch": {}, "pair_by_batch": {},
           "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS")}
    for b in args.batches:
      out["by_batch"][str(b)] = common.timed_requests(call_single, data["sst2_dev"], b,
                                               args.texts_per_window, args.windows,
                                               args.warmup)
    for b in args.pair_batches:
      out["pair_by_batch"][str(b)] = common.timed_requests(call_pair, data["mrpc_test"], b,
                                                    args.texts_per_window, args.windows,
                                                    args.warmup)
    if args.long_requests:
      out["long_run"] = common.long_run(call_single, data["sst2_dev"], args.long_requests,
                                 args.long_window, args.warmup)
    if args.dump_probabilities:  # for the smoke test: the first texts' outputs
      n = args.dump_probabilities
      out["probabilities"] = {
          "sst2_dev": call_single(data["sst2_dev"][:n])[0].tolist(),
          "mrpc_test": call_pair(data["mrpc_test"][:n])[0].tolist()}
  finally:
    if temporary:
      shutil.rmtree(work, ignore_errors=True)
  return out


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--mode", choices=["predict_py", "serving", "prepare"], required=True)
  p.add_argument("--batch", type=int, default=32, help="predict_py: predict.py --batch_size")
  p.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32],
                 help="serving: texts per request (serving_default, SST-2 dev)")
  p.add_argument("--pair_batches", type=int, nargs="*", default=[32],
                 help="serving: pairs per request (serving_pair, MRPC test)")
  p.add_argument("--max_seq_length", type=int, default=128)
  p.add_argument("--texts_per_window", type=int, default=256)
  p.add_argument("--windows", type=int, default=0,
                 help="predict_py: windows per dataset (0: every full window of the data); "
                      "serving: windows per batch size (0: 3)")
  p.add_argument("--warmup", type=int, default=2,
                 help="predict_py: warm-up batches; serving: warm-up requests")
  p.add_argument("--limit", type=int, default=0, help="use only the first N texts of each set")
  p.add_argument("--long_requests", type=int, default=10000)
  p.add_argument("--long_window", type=int, default=1000)
  p.add_argument("--work_dir", default="",
                 help="where the model is made once and reused (default: a temporary dir)")
  p.add_argument("--export", action="store_true", help="prepare: also the serving export")
  p.add_argument("--dump_probabilities", type=int, default=0,
                 help="serving: also emit the probabilities of the first N texts")
  args = p.parse_args()
  if args.mode == "prepare":
    run_prepare(args)
    return
  if args.mode == "serving" and args.windows <= 0:
    args.windows = 3
  load_start = common.load1()
  out = run_predict_py(args) if args.mode == "predict_py" else run_serving(args)
  out["load1_start"] = load_start
  out["weights"] = "converted MiniLM + fixed 2-label head (%s)" % os.path.basename(
      os.path.normpath(common.MINILM))
  import tensorflow as tf
  out["versions"] = {"tensorflow": tf.__version__}
  common.emit(out)


if __name__ == "__main__":
  main()
