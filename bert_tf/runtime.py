"""Runtime options: where and how a training script runs, defined once.

The options every training job shares -- checkpoint cadence, the original's TPU
flags, and bert_tf's additive ones (seed, optimizer, learning-rate schedule,
gradient accumulation, XLA, compute dtype, tf.distribute strategy, padding
trimming) -- are one `RuntimeOptions` dataclass nested in each job
(`ClassifierJob.runtime`, `PretrainingJob.runtime`), defined as absl flags by
one helper (`define_runtime_flags`) and read back by `runtime_options_from_flags`.

`configure_process()` holds the process-wide TensorFlow start-up settings; the
runner (bert_tf.cli.run) calls it first thing, and so do tests and benchmarks,
before anything imports TensorFlow.  Importing bert_tf sets nothing.

This module imports no TensorFlow.
"""

import dataclasses
import math
import os
from typing import Optional

from absl import flags

# The original flags' help texts (google-research/bert), then bert_tf's additions.
_HELP = {
    "save_checkpoints_steps": "How often to save the model checkpoint.",
    "iterations_per_loop": "How many steps to make in each estimator call.",
    "use_tpu": "Whether to use TPU or GPU/CPU.",
    "tpu_name": ("The Cloud TPU to use for training. This should be either the name "
                 "used when creating the Cloud TPU, or a grpc://ip.address.of.tpu:8470 "
                 "url."),
    "tpu_zone": ("[Optional] GCE zone where the Cloud TPU is located in. If not "
                 "specified, we will attempt to automatically detect the GCE project from "
                 "metadata."),
    "gcp_project": ("[Optional] Project name for the Cloud TPU-enabled project. If not "
                    "specified, we will attempt to automatically detect the GCE project from "
                    "metadata."),
    "master": "[Optional] TensorFlow master URL.",
    "num_tpu_cores": "Only used if `use_tpu` is True. Total number of TPU cores to use.",
    "seed": ("[bert_tf] Random seed for initialisation, dropout and "
             "shuffling; with it, two runs give identical results."),
    "lr_schedule": ("[bert_tf] 'original': the step that starts at global_step k uses the "
                    "learning rate of step k+1, as the TF1 code actually ran (its global_step "
                    "race, google-research/bert #1050); 'intended': step k uses schedule(k), so "
                    "the first update has learning rate 0."),
    "optimizer": "[bert_tf] adamw = the original AdamWeightDecayOptimizer; lamb = LAMB.",
    "gradient_accumulation_steps": (
        "[bert_tf] Accumulate gradients over N batches of train_batch_size before "
        "each update (same update as one N-times larger batch)."),
    "use_xla": ("[bert_tf] Compile the training step and the eval/predict "
                "forward pass with XLA."),
    "dtype": ("[bert_tf] Compute dtype. bfloat16/float16 = mixed precision: matmuls and "
              "activations in 16 bits, variables, optimizer and checkpoints float32 under "
              "the original names; float16 adds dynamic loss scaling. Pays on GPUs/TPUs "
              "with 16-bit units, not on CPUs without them."),
    "distribution": ("[bert_tf] tf.distribute strategy when not on TPU. auto: MultiWorkerMirrored "
                     "if TF_CONFIG names several workers, Mirrored if several GPUs are visible, "
                     "else one device."),
    "trim_padding": ("[bert_tf] Cut each batch to its longest real sequence (rounded up to a "
                     "multiple of 16) before the model. Exact: padded keys are masked, so results "
                     "do not change; only wasted work goes. Ignored on TPU (fixed shapes)."),
    "allow_resume_mismatch": (
        "[bert_tf] Continue the checkpoint in --output_dir even though it was made by a run "
        "started with other settings (task, labels, bert_config.json, vocab, casing, "
        "max_seq_length; see output_dir/run_config.json) or does not fit the model: what "
        "fits is loaded, the rest starts from its initial value. Without it such a resume "
        "is refused."),
}

LR_SCHEDULES = ("original", "intended")
OPTIMIZERS = ("adamw", "lamb")
DTYPES = ("float32", "bfloat16", "float16")
DISTRIBUTIONS = ("auto", "default", "mirrored", "multi_worker")


@dataclasses.dataclass
class RuntimeOptions:
  """Where and how a job runs; the defaults are the original's behaviour."""
  save_checkpoints_steps: int = 1000
  iterations_per_loop: int = 1000
  use_tpu: bool = False
  tpu_name: Optional[str] = None
  tpu_zone: Optional[str] = None
  gcp_project: Optional[str] = None
  master: Optional[str] = None
  num_tpu_cores: int = 8
  # ---- additive options (defaults keep the original behaviour)
  seed: Optional[int] = None
  lr_schedule: str = "original"      # "original" (schedule(k+1), as TF1 ran it) or "intended"
  optimizer: str = "adamw"
  gradient_accumulation_steps: int = 1
  use_xla: bool = False
  dtype: str = "float32"             # compute dtype: float32, bfloat16 or float16 (mixed)
  distribution: str = "auto"
  trim_padding: bool = True          # skip padded positions (exact); off on TPU (fixed shapes)
  allow_resume_mismatch: bool = False  # continue an output_dir's checkpoint made otherwise

  def check(self):
    """The numeric options' ranges (check_flag): one-line ValueError naming the flag."""
    check_flag("save_checkpoints_steps", self.save_checkpoints_steps, minimum=1)
    check_flag("gradient_accumulation_steps", self.gradient_accumulation_steps, minimum=1)
    if self.use_tpu:
      check_flag("iterations_per_loop", self.iterations_per_loop, minimum=1)
      check_flag("num_tpu_cores", self.num_tpu_cores, minimum=1)
    if self.seed is not None:
      check_flag("seed", self.seed, minimum=0, maximum=2 ** 32 - 1)

  @property
  def trim(self):
    """Whether batches are cut to their longest real sequence (never on TPU: fixed shapes)."""
    return self.trim_padding and not self.use_tpu

  @property
  def steps_per_loop(self):
    """Train steps per host call: iterations_per_loop on TPU, else 1."""
    return self.iterations_per_loop if self.use_tpu else 1

  @property
  def lr_step_offset(self):
    return 1 if self.lr_schedule == "original" else 0

  @property
  def loss_scaling(self):
    return self.dtype == "float16"

  def strategy(self):
    """The tf.distribute strategy these options name (bert_tf.training.resolve_strategy)."""
    from bert_tf import training
    return training.resolve_strategy(self.use_tpu, self.tpu_name, self.tpu_zone,
                                     self.gcp_project, self.master, self.num_tpu_cores,
                                     self.distribution)


FIELDS = tuple(f.name for f in dataclasses.fields(RuntimeOptions))


def define_runtime_flags(module_name, help_texts=None, flag_values=flags.FLAGS):
  """Defines RuntimeOptions' fields as absl flags: the original's (checkpoint cadence
  and TPU), then bert_tf's additions.

  module_name: the module --help lists them under (the script's: sys.argv[0]
  when it runs as the program).  help_texts: {name: text} where a script words
  a flag differently from the default text.
  """
  text = dict(_HELP, **(help_texts or {}))
  kw = dict(flag_values=flag_values, module_name=module_name)
  flags.DEFINE_integer("save_checkpoints_steps", 1000, text["save_checkpoints_steps"], **kw)
  flags.DEFINE_integer("iterations_per_loop", 1000, text["iterations_per_loop"], **kw)
  flags.DEFINE_bool("use_tpu", False, text["use_tpu"], **kw)
  flags.DEFINE_string("tpu_name", None, text["tpu_name"], **kw)
  flags.DEFINE_string("tpu_zone", None, text["tpu_zone"], **kw)
  flags.DEFINE_string("gcp_project", None, text["gcp_project"], **kw)
  flags.DEFINE_string("master", None, text["master"], **kw)
  flags.DEFINE_integer("num_tpu_cores", 8, text["num_tpu_cores"], **kw)
  # bert_tf additions (defaults keep the original behaviour)
  flags.DEFINE_integer("seed", None, text["seed"], **kw)
  flags.DEFINE_enum("lr_schedule", "original", list(LR_SCHEDULES), text["lr_schedule"], **kw)
  flags.DEFINE_enum("optimizer", "adamw", list(OPTIMIZERS), text["optimizer"], **kw)
  flags.DEFINE_integer("gradient_accumulation_steps", 1,
                       text["gradient_accumulation_steps"], **kw)
  flags.DEFINE_bool("use_xla", False, text["use_xla"], **kw)
  flags.DEFINE_enum("dtype", "float32", list(DTYPES), text["dtype"], **kw)
  flags.DEFINE_enum("distribution", "auto", list(DISTRIBUTIONS), text["distribution"], **kw)
  flags.DEFINE_bool("trim_padding", True, text["trim_padding"], **kw)
  flags.DEFINE_bool("allow_resume_mismatch", False, text["allow_resume_mismatch"], **kw)


def runtime_options_from_flags(flag_values=flags.FLAGS):
  """The parsed runtime flags as RuntimeOptions."""
  return RuntimeOptions(**{name: flag_values[name].value for name in FIELDS})


def job_from_flags(job_class, flag_values=flags.FLAGS):
  """A job dataclass (ClassifierJob, SquadJob, PretrainingJob) from the parsed flags of its
  fields' names; its `runtime` from the runtime flags."""
  names = [f.name for f in dataclasses.fields(job_class)
           if f.name != "runtime" and f.name in flag_values]
  return job_class(**{n: flag_values[n].value for n in names},
                   runtime=runtime_options_from_flags(flag_values))


def check_flag(name, value, minimum=None, maximum=None, above=None, why=""):
  """A numeric flag's range, checked before any work: ValueError
  "--name=value: must be ... [why]" otherwise (also for NaN/Inf).

  minimum/maximum: inclusive bounds; above: an exclusive lower bound.  why: what the
  flag is for, appended to the message ("the examples per training step").
  """
  bad = isinstance(value, float) and not math.isfinite(value)
  needs = []
  if above is not None:
    needs.append("> %s" % (above,))
    bad = bad or not value > above
  if minimum is not None:
    needs.append(">= %s" % (minimum,))
    bad = bad or not value >= minimum
  if maximum is not None:
    needs.append("<= %s" % (maximum,))
    bad = bad or not value <= maximum
  if bad:
    must = " and ".join(needs)
    if isinstance(value, float):  # finite as well (and only that when there are no bounds)
      must = ("a finite number " + must).strip()
    raise ValueError("--%s=%s: must be %s%s" % (name, value, must, "; " + why if why else ""))


def configure_process():
  """TensorFlow's process-wide start-up settings; call before TensorFlow is imported.

  An explicit setting in the environment wins.

    TF_CPP_MIN_LOG_LEVEL=2   no C++ INFO/WARNING chatter at start-up.
    TF_ENABLE_ONEDNN_OPTS=1  oneDNN's kernels for TensorFlow's CPU ops.
        TensorFlow turns them on by itself only on CPUs with AVX-512 VNNI /
        AMX; elsewhere (e.g. AVX2 CPUs) its batched matmuls -- the attention's
        scores and context -- run single-threaded Eigen code at 18-35 GFLOP/s
        where oneDNN uses every core at 43-63 (benchmarks/LEVERS.md).  Results
        are the same to float rounding (the parity tests run with it on).
  """
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
