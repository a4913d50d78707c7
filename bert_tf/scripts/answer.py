"""Answer questions about passages you give, with a model fine-tuned by run_squad.py.

JSON lines {"question": ..., "context": ...} (an optional "id" is passed
through) on stdin or --input_file, or one question with --question and
--context.  Prints one JSON line per question: the answer, its character
offsets start/end in the context (context[start:end] == answer), its score
and, for a SQuAD 2.0 model, null_score_diff and has_answer.  Long contexts are
split into windows exactly as run_squad.py does; the answer to a SQuAD
question is the one of run_squad's predictions.json for the same model.

  python answer.py --output_dir=$SQUAD_OUT \\
    --question="Who ruled the duchy?" --context="The duchy was ruled by Richard I."
  python answer.py --output_dir=$SQUAD_OUT --input_file=questions.jsonl \\
    --output_file=answers.jsonl

The model comes from a run_squad.py --output_dir (its newest model.ckpt-N; the
settings from its run_config.json), an --init_checkpoint with the settings as
flags, or a serving SavedModel (--saved_model_dir, run_squad.py --export_dir).
All the work happens in bert_tf.inference.answer.
"""

import sys

from absl import flags, logging

from bert_tf import cli

FLAGS = flags.FLAGS

# The flags a SavedModel replaces: it holds the weights, the vocab and its settings.
MODEL_FLAGS = ("output_dir", "init_checkpoint", "bert_config_file", "vocab_file",
               "do_lower_case", "max_seq_length", "doc_stride", "max_query_length",
               "version_2_with_negative", "n_best_size", "max_answer_length",
               "null_score_diff_threshold")


def define_flags(module_name):
  """Defines answer's flags, listed under `module_name` in --help."""
  kw = dict(module_name=module_name)

  ## The model: a run_squad output_dir, a fine-tuned checkpoint, or a SavedModel
  flags.DEFINE_string(
      "output_dir", None,
      "A run_squad.py --output_dir: its newest model.ckpt-N is used, with the settings of "
      "its run_config.json (written by --do_train) for the flags not given.", **kw)
  flags.DEFINE_string(
      "init_checkpoint", None,
      "A checkpoint fine-tuned by run_squad.py (prefix, file or directory); used instead of "
      "the newest checkpoint of --output_dir.", **kw)
  flags.DEFINE_string(
      "saved_model_dir", None,
      "A serving SavedModel written by run_squad.py --export_dir; replaces the model flags "
      "(it holds the weights, the vocab and its settings).", **kw)

  ## The fine-tuning run's settings (as for run_squad.py; read from output_dir/run_config.json
  ## when a flag is not given, else run_squad.py's defaults)
  flags.DEFINE_string("bert_config_file", None,
                      "The config json file of the fine-tuned model.", **kw)
  flags.DEFINE_string("vocab_file", None,
                      "The vocabulary file that the BERT model was trained on.", **kw)
  flags.DEFINE_bool("do_lower_case", None,
                    "Whether to lower case the input text (default True). Must match the "
                    "fine-tuning run.", **kw)
  flags.DEFINE_integer("max_seq_length", None,
                       "Tokens per window (default: the run's, else 384).", **kw)
  flags.DEFINE_integer("doc_stride", None,
                       "How far each window of a long context moves on (default: the run's, "
                       "else 128).", **kw)
  flags.DEFINE_integer("max_query_length", None,
                       "Question tokens kept per window (default: the run's, else 64).", **kw)
  flags.DEFINE_bool("version_2_with_negative", None,
                    "A SQuAD 2.0 model: report null_score_diff and has_answer, and answer \"\" "
                    "when the null answer wins (default: the run's, else false).", **kw)
  flags.DEFINE_integer("n_best_size", 20,
                       "The best start and end positions considered per window, as "
                       "run_squad.py's.", **kw)
  flags.DEFINE_integer("max_answer_length", 30,
                       "The longest answer in tokens, as run_squad.py's.", **kw)
  flags.DEFINE_float("null_score_diff_threshold", 0.0,
                     "SQuAD 2.0: no answer when null score - best non-null score is above it "
                     "(e.g. eval_results.txt's best_f1_thresh).", **kw)
  flags.DEFINE_integer("predict_batch_size", 8, "Windows (SavedModel: questions) per model "
                       "call.", **kw)

  ## Input and output
  flags.DEFINE_string("input_file", None,
                      'JSON lines {"question": ..., "context": ...} (optional "id"); default: '
                      "stdin.", **kw)
  flags.DEFINE_string("question", None, "One question (with --context) instead of JSON lines.",
                      **kw)
  flags.DEFINE_string("context", None, "The passage --question is about.", **kw)
  flags.DEFINE_string("output_file", None,
                      "Write the answers (JSON lines) to this file, replaced at the end; "
                      "default: stdout.", **kw)


def _check_flag_combinations():
  one = FLAGS.question is not None or FLAGS.context is not None
  if one and FLAGS.input_file:
    raise ValueError("--question/--context give one question, --input_file JSON lines; pass "
                     "one or the other")
  if FLAGS.saved_model_dir:
    given = [name for name in MODEL_FLAGS if FLAGS[name].present]
    if given:
      raise ValueError(
          "--saved_model_dir replaces --%s: the SavedModel holds the model and the settings "
          "it was exported with (squad_settings.json); leave out --%s, or pass the "
          "run_squad.py --output_dir instead of --saved_model_dir" % (given[0], given[0]))


def run(argv):
  if len(argv) > 1:
    raise ValueError("unexpected arguments %s; questions are read from stdin, --input_file or "
                     "--question/--context" % " ".join(argv[1:]))
  _check_flag_combinations()
  from bert_tf.inference import answer  # pylint: disable=g-import-not-at-top
  # The question flags and a named file are read first (a bad line fails at once); stdin
  # after the model has loaded, so that a bad model flag fails before the pipe is read.
  questions = None
  if FLAGS.question is not None or FLAGS.context is not None:
    questions = [answer.one_question(FLAGS.question, FLAGS.context)]
  elif FLAGS.input_file and FLAGS.input_file != "-":
    questions = answer.read_questions(FLAGS.input_file)
  if FLAGS.output_file:
    answer.check_output_file(FLAGS.output_file)
  if FLAGS.saved_model_dir:
    model = answer.SavedModelAnswerer(FLAGS.saved_model_dir, FLAGS.predict_batch_size)
  else:
    model = answer.load_answerer(
        output_dir_path=FLAGS.output_dir, init_checkpoint=FLAGS.init_checkpoint,
        bert_config_file=FLAGS.bert_config_file, vocab_file=FLAGS.vocab_file,
        do_lower_case=FLAGS.do_lower_case, max_seq_length=FLAGS.max_seq_length,
        doc_stride=FLAGS.doc_stride, max_query_length=FLAGS.max_query_length,
        version_2_with_negative=FLAGS.version_2_with_negative,
        n_best_size=FLAGS.n_best_size, max_answer_length=FLAGS.max_answer_length,
        null_score_diff_threshold=FLAGS.null_score_diff_threshold,
        batch_size=FLAGS.predict_batch_size)
  if questions is None:
    questions = answer.read_questions(None)
  lines = answer.answer_lines(model.answer(questions))
  if FLAGS.output_file:
    answer.write_lines(lines, FLAGS.output_file)
    logging.info("Wrote %d answers to %s", len(lines), FLAGS.output_file)
  else:
    for line in lines:
      sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main(argv=None):
  """The program: `python answer.py` and the `bert-answer` command."""
  define_flags(sys.argv[0])
  cli.run(run, argv=argv, doc=__doc__)
