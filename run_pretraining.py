"""Masked-LM + next-sentence pretraining: google-research/bert's run_pretraining.py on TF 2.21.

The original flags (same names, types, defaults, help) and bert_tf's additive
options; all the work happens in bert_tf.pretraining_job.run.
"""

import dataclasses

from absl import flags

from bert_tf import cli

FLAGS = flags.FLAGS

## Required parameters
flags.DEFINE_string(
    "bert_config_file", None,
    "The config json file corresponding to the pre-trained BERT model. "
    "This specifies the model architecture.")
flags.DEFINE_string(
    "input_file", None,
    "Input TF example files (can be a glob or comma separated).")
flags.DEFINE_string(
    "output_dir", None,
    "The output directory where the model checkpoints will be written.")

## Other parameters
flags.DEFINE_string(
    "init_checkpoint", None,
    "Initial checkpoint (usually from a pre-trained BERT model).")
flags.DEFINE_integer(
    "max_seq_length", 128,
    "The maximum total input sequence length after WordPiece tokenization. "
    "Sequences longer than this will be truncated, and sequences shorter "
    "than this will be padded. Must match data generation.")
flags.DEFINE_integer(
    "max_predictions_per_seq", 20,
    "Maximum number of masked LM predictions per sequence. "
    "Must match data generation.")
flags.DEFINE_bool("do_train", False, "Whether to run training.")
flags.DEFINE_bool("do_eval", False, "Whether to run eval on the dev set.")
flags.DEFINE_integer("train_batch_size", 32, "Total batch size for training.")
flags.DEFINE_integer("eval_batch_size", 8, "Total batch size for eval.")
flags.DEFINE_float("learning_rate", 5e-5, "The initial learning rate for Adam.")
flags.DEFINE_integer("num_train_steps", 100000, "Number of training steps.")
flags.DEFINE_integer("num_warmup_steps", 10000, "Number of warmup steps.")
flags.DEFINE_integer("save_checkpoints_steps", 1000,
                     "How often to save the model checkpoint.")
flags.DEFINE_integer("iterations_per_loop", 1000,
                     "How many steps to make in each estimator call.")
flags.DEFINE_integer("max_eval_steps", 100, "Maximum number of eval steps.")
flags.DEFINE_bool("use_tpu", False, "Whether to use TPU or GPU/CPU.")
flags.DEFINE_string(
    "tpu_name", None,
    "The Cloud TPU to use for training. This should be either the name "
    "used when creating the Cloud TPU, or a grpc://ip.address.of.tpu:8470 "
    "url.")
flags.DEFINE_string(
    "tpu_zone", None,
    "[Optional] GCE zone where the Cloud TPU is located in. If not "
    "specified, we will attempt to automatically detect the GCE project from "
    "metadata.")
flags.DEFINE_string(
    "gcp_project", None,
    "[Optional] Project name for the Cloud TPU-enabled project. If not "
    "specified, we will attempt to automatically detect the GCE project from "
    "metadata.")
flags.DEFINE_string("master", None, "[Optional] TensorFlow master URL.")
flags.DEFINE_integer(
    "num_tpu_cores", 8,
    "Only used if `use_tpu` is True. Total number of TPU cores to use.")

## bert_tf additions (defaults keep the original behaviour)
flags.DEFINE_integer("seed", None, "[bert_tf] Random seed (initialisation, dropout, input "
                     "order); with it, two runs give identical results.")
flags.DEFINE_enum("lr_schedule", "original", ["original", "intended"],
                  "[bert_tf] 'original': the update at global_step k uses the learning rate of "
                  "step k+1, as the TF1 code ran; 'intended': schedule(k).")
flags.DEFINE_enum("optimizer", "adamw", ["adamw", "lamb"],
                  "[bert_tf] adamw = the original AdamWeightDecayOptimizer; lamb = LAMB.")
flags.DEFINE_integer("gradient_accumulation_steps", 1,
                     "[bert_tf] Accumulate gradients over N batches before each update.")
flags.DEFINE_bool("use_xla", False, "[bert_tf] Compile the training step with XLA.")
flags.DEFINE_enum("dtype", "float32", ["float32", "bfloat16", "float16"],
                  "[bert_tf] Compute dtype. bfloat16/float16 = mixed precision: matmuls and "
                  "activations in 16 bits, variables, optimizer and checkpoints float32 under "
                  "the original names; float16 adds dynamic loss scaling. Pays on GPUs/TPUs "
                  "with 16-bit units, not on CPUs without them.")
flags.DEFINE_enum("distribution", "auto", ["auto", "default", "mirrored", "multi_worker"],
                  "[bert_tf] tf.distribute strategy when not on TPU (see run_classifier.py).")
flags.DEFINE_bool("trim_padding", True,
                  "[bert_tf] Cut each batch to its longest real sequence (exact). Ignored on TPU.")

flags.mark_flag_as_required("input_file")
flags.mark_flag_as_required("bert_config_file")
flags.mark_flag_as_required("output_dir")


def main(_):
  from bert_tf import pretraining_job
  names = [f.name for f in dataclasses.fields(pretraining_job.PretrainingJob) if f.name in FLAGS]
  pretraining_job.run(pretraining_job.PretrainingJob(**{n: FLAGS[n].value for n in names}))


if __name__ == "__main__":
  cli.run(main)
