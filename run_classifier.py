"""BERT fine-tuning runner: google-research/bert's run_classifier.py on TF 2.21 + Keras 3.

The flags below are the original's (same names, types, defaults and help),
followed by bert_tf's additive options whose defaults keep the original
behaviour.  All the work happens in bert_tf.classifier_job.run.
"""

import dataclasses

from absl import flags

from bert_tf import cli

FLAGS = flags.FLAGS

## Required parameters
flags.DEFINE_string(
    "data_dir", None,
    "The input data dir. Should contain the .tsv files (or other data files) "
    "for the task.")
flags.DEFINE_string(
    "bert_config_file", None,
    "The config json file corresponding to the pre-trained BERT model. "
    "This specifies the model architecture.")
flags.DEFINE_string("task_name", None, "The name of the task to train.")
flags.DEFINE_string("vocab_file", None,
                    "The vocabulary file that the BERT model was trained on.")
flags.DEFINE_string(
    "output_dir", None,
    "The output directory where the model checkpoints will be written.")

## Other parameters
flags.DEFINE_string(
    "init_checkpoint", None,
    "Initial checkpoint (usually from a pre-trained BERT model).")
flags.DEFINE_bool(
    "do_lower_case", True,
    "Whether to lower case the input text. Should be True for uncased "
    "models and False for cased models.")
flags.DEFINE_integer(
    "max_seq_length", 128,
    "The maximum total input sequence length after WordPiece tokenization. "
    "Sequences longer than this will be truncated, and sequences shorter "
    "than this will be padded.")
flags.DEFINE_bool("do_train", False, "Whether to run training.")
flags.DEFINE_bool("do_eval", False, "Whether to run eval on the dev set.")
flags.DEFINE_bool(
    "do_predict", False,
    "Whether to run the model in inference mode on the test set.")
flags.DEFINE_integer("train_batch_size", 32, "Total batch size for training.")
flags.DEFINE_integer("eval_batch_size", 8, "Total batch size for eval.")
flags.DEFINE_integer("predict_batch_size", 8, "Total batch size for predict.")
flags.DEFINE_float("learning_rate", 5e-5, "The initial learning rate for Adam.")
flags.DEFINE_float("num_train_epochs", 3.0,
                   "Total number of training epochs to perform.")
flags.DEFINE_float(
    "warmup_proportion", 0.1,
    "Proportion of training to perform linear learning rate warmup for. "
    "E.g., 0.1 = 10% of training.")
flags.DEFINE_integer("save_checkpoints_steps", 1000,
                     "How often to save the model checkpoint.")
flags.DEFINE_integer("iterations_per_loop", 1000,
                     "How many steps to make in each estimator call.")
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
flags.DEFINE_integer("seed", None, "[bert_tf] Random seed for initialisation, dropout and "
                     "shuffling; with it, two runs give identical results.")
flags.DEFINE_enum("lr_schedule", "original", ["original", "intended"],
                  "[bert_tf] 'original': the step that starts at global_step k uses the "
                  "learning rate of step k+1, as the TF1 code actually ran (its global_step "
                  "race, google-research/bert #1050); 'intended': step k uses schedule(k), so "
                  "the first update has learning rate 0.")
flags.DEFINE_enum("optimizer", "adamw", ["adamw", "lamb"],
                  "[bert_tf] adamw = the original AdamWeightDecayOptimizer; lamb = LAMB.")
flags.DEFINE_integer("gradient_accumulation_steps", 1,
                     "[bert_tf] Accumulate gradients over N batches of train_batch_size before "
                     "each update (same update as one N-times larger batch).")
flags.DEFINE_bool("use_xla", False, "[bert_tf] Compile the training step and the eval/predict "
                  "forward pass with XLA.")
flags.DEFINE_enum("dtype", "float32", ["float32", "bfloat16", "float16"],
                  "[bert_tf] Compute dtype. bfloat16/float16 = mixed precision: matmuls and "
                  "activations in 16 bits, variables, optimizer and checkpoints float32 under "
                  "the original names; float16 adds dynamic loss scaling. Pays on GPUs/TPUs "
                  "with 16-bit units, not on CPUs without them.")
flags.DEFINE_enum("distribution", "auto", ["auto", "default", "mirrored", "multi_worker"],
                  "[bert_tf] tf.distribute strategy when not on TPU. auto: MultiWorkerMirrored "
                  "if TF_CONFIG names several workers, Mirrored if several GPUs are visible, "
                  "else one device.")
flags.DEFINE_bool("trim_padding", True,
                  "[bert_tf] Cut each batch to its longest real sequence (rounded up to a "
                  "multiple of 16) before the model. Exact: padded keys are masked, so results "
                  "do not change; only wasted work goes. Ignored on TPU (fixed shapes).")
flags.DEFINE_integer("eval_every_steps", 0,
                     "[bert_tf] Evaluate on the dev set every N training steps (0 = off). Each "
                     "result is appended to output_dir/eval_history.txt and TensorBoard, and the "
                     "best checkpoint is kept in output_dir/best/.")
flags.DEFINE_bool("eval_every_epoch", False,
                  "[bert_tf] Evaluate on the dev set at the end of every epoch (see "
                  "--eval_every_steps).")
flags.DEFINE_string("best_metric", "",
                    "[bert_tf] Metric that picks the best checkpoint: eval_accuracy (default), "
                    "eval_loss (lower is better), eval_pearson/eval_spearman (regression).")
flags.DEFINE_integer("early_stopping_patience", 0,
                     "[bert_tf] With evaluation during training: stop after this many "
                     "evaluations without improvement of --best_metric (0 = never).")

## bert_tf: --task_name=tsv / csv for your own data (ignored by the GLUE tasks)
flags.DEFINE_string("text_a_column", None, "[bert_tf] tsv/csv: column of the first text "
                    "(0-based number or header name; default 0).")
flags.DEFINE_string("text_b_column", None, "[bert_tf] tsv/csv: column of the second text, for "
                    "sentence-pair data (optional).")
flags.DEFINE_string("label_column", None, "[bert_tf] tsv/csv: column of the label (default 1). "
                    "Test files need none.")
flags.DEFINE_string("guid_column", None, "[bert_tf] tsv/csv: column of the example id (optional).")
flags.DEFINE_bool("has_header", True, "[bert_tf] tsv/csv: the first row of each file is a header.")
flags.DEFINE_string("labels", None, "[bert_tf] tsv/csv: comma-separated label list fixing the "
                    "output order (default: sorted labels of train.<ext>, saved to "
                    "output_dir/label_list.txt and reused by later runs).")
flags.DEFINE_bool("regression", False, "[bert_tf] tsv/csv: labels are float scores (one output, "
                  "MSE loss, Pearson/Spearman in eval_results.txt).")

flags.DEFINE_string("bert_hub_module_handle", None,
                    "[bert_tf] A TF Hub module (local directory; TF1 hub module, TF2 SavedModel "
                    "encoder or keras-hub preset) to fine-tune instead of --init_checkpoint; its "
                    "vocab and casing replace --vocab_file, --bert_config_file and "
                    "--do_lower_case (as run_classifier_with_tfhub.py).")
flags.DEFINE_string("export_dir", None,
                    "[bert_tf] After training/eval/predict, write a serving SavedModel of the "
                    "classifier here: raw text in (serving_default: text_a; serving_pair: "
                    "text_a, text_b), probabilities out; tokenization runs in the graph.")


def job_from_flags():
  from bert_tf.classifier_job import ClassifierJob
  names = [f.name for f in dataclasses.fields(ClassifierJob) if f.name in FLAGS]
  job = ClassifierJob(**{n: FLAGS[n].value for n in names})
  job.generic_options = {
      "text_a_column": FLAGS.text_a_column, "text_b_column": FLAGS.text_b_column,
      "label_column": FLAGS.label_column, "guid_column": FLAGS.guid_column,
      "has_header": FLAGS.has_header, "labels": FLAGS.labels, "is_regression": FLAGS.regression,
      "data_dir": FLAGS.data_dir, "output_dir": FLAGS.output_dir}
  return job


def main(_):
  from bert_tf import classifier_job
  classifier_job.run(job_from_flags())


if __name__ == "__main__":
  for name in ("data_dir", "task_name", "vocab_file", "bert_config_file", "output_dir"):
    flags.mark_flag_as_required(name)
  cli.run(main)
