"""pyproject.toml's console commands: each resolves to an importable callable and lists
the same flags as its script.

(A real `pip install .` into a fresh venv takes minutes with TensorFlow; these
check what it would wire up, from the working tree.)"""
import importlib
import os
import subprocess
import sys
import tomllib

import pytest

from helpers import ROOT

with open(os.path.join(ROOT, "pyproject.toml"), "rb") as _f:
  PYPROJECT = tomllib.load(_f)
SCRIPTS = PYPROJECT["project"]["scripts"]

# Every top-level script has its command.
COMMANDS = {
    "run_classifier.py": "bert-run-classifier",
    "run_pretraining.py": "bert-run-pretraining",
    "create_pretraining_data.py": "bert-create-pretraining-data",
    "run_classifier_with_tfhub.py": "bert-run-classifier-with-tfhub",
    "extract_features.py": "bert-extract-features",
    "predict.py": "bert-predict",
    "fill_mask.py": "bert-fill-mask",
    "export_model.py": "bert-export-model",
    "run_squad.py": "bert-run-squad",
    "answer.py": "bert-answer",
}
# Flags each program lists under its own heading in --helpfull.
KEY_FLAGS = {
    "run_classifier.py": ("--bert_config_file:", "--[no]use_tpu:"),
    "run_pretraining.py": ("--bert_config_file:", "--[no]use_tpu:"),
    "create_pretraining_data.py": ("--vocab_file:", "--num_workers:"),
    "run_classifier_with_tfhub.py": ("--bert_hub_module_handle:", "--[no]use_tpu:"),
    "extract_features.py": ("--bert_config_file:", "--[no]use_tpu:"),
    "predict.py": ("--saved_model_dir:", "--output_format:"),
    "fill_mask.py": ("--init_checkpoint:", "--top_k:"),
    "export_model.py": ("--format:", "--export_dir:"),
    "run_squad.py": ("--bert_config_file:", "--null_score_diff_threshold:", "--logits_file:",
                     "--[no]use_tpu:"),
    "answer.py": ("--saved_model_dir:", "--question:", "--null_score_diff_threshold:"),
}
# Programs that define no flags of their own: run_classifier_with_tfhub.py lists
# run_classifier's under `run_classifier:`, as the original (which imports it) does.
BORROWED_HEADING = {"run_classifier_with_tfhub.py": "run_classifier"}


def test_every_top_level_script_has_a_console_command():
  for script, command in COMMANDS.items():
    assert os.path.exists(os.path.join(ROOT, script)), script
    assert command in SCRIPTS, command
  assert sorted(SCRIPTS) == sorted(COMMANDS.values())


@pytest.mark.parametrize("command", sorted(COMMANDS.values()))
def test_console_command_resolves_to_a_callable(command):
  module_name, _, attr = SCRIPTS[command].partition(":")
  module = importlib.import_module(module_name)
  assert callable(getattr(module, attr))


def _entry_point_run(command, *args):
  """What the installed console script does: sys.argv[0] = the command, then main()."""
  module_name, _, attr = SCRIPTS[command].partition(":")
  code = ("import sys\n"
          "sys.argv = %r\n"
          "from %s import %s\n"
          "sys.exit(%s())\n" % ([command] + list(args), module_name, attr, attr))
  return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                        timeout=300)


def _script_run(script, *args):
  return subprocess.run([sys.executable, script] + list(args), capture_output=True, text=True,
                        cwd=ROOT, timeout=300)


def _section(help_text, heading):
  """The flag lines --helpfull lists under `heading:`."""
  return help_text.split("\n%s:\n" % heading, 1)[1].split("\n\n", 1)[0]


@pytest.mark.parametrize("script", sorted(COMMANDS))
def test_console_command_lists_the_same_flags_as_the_script(script):
  command = COMMANDS[script]
  by_command = _entry_point_run(command, "--helpfull")
  by_script = _script_run(script, "--helpfull")
  assert by_command.returncode == by_script.returncode == 1, by_command.stderr[-2000:]
  if script in BORROWED_HEADING:
    # No heading names the program: the two list exactly the same text.
    heading = BORROWED_HEADING[script]
    assert "\n%s:\n" % script not in by_script.stdout
    assert by_command.stdout == by_script.stdout
  else:
    # The same usage text and flags; only the main module's heading names the program.
    heading = script
    assert "\n%s:\n" % command in by_command.stdout
    assert "\n%s:\n" % script in by_script.stdout
    assert by_command.stdout.replace("\n%s:\n" % command, "\n%s:\n" % script) == by_script.stdout
  for flag in KEY_FLAGS[script]:
    assert flag in by_command.stdout
    assert flag in _section(by_script.stdout, heading), (flag, heading)


def test_console_command_one_line_error_names_the_command(tmp_path):
  proc = _entry_point_run("bert-run-classifier", "--data_dir=%s" % tmp_path, "--task_name=MRPC",
                          "--vocab_file=v", "--bert_config_file=c",
                          "--output_dir=%s" % tmp_path)
  assert proc.returncode == 1
  assert proc.stderr.strip().splitlines()[-1] == (
      "bert-run-classifier: error: At least one of `do_train`, `do_eval` or `do_predict' must "
      "be True.")


def test_create_pretraining_data_command_one_line_error_names_the_command(tmp_path):
  text = tmp_path / "text.txt"
  text.write_text("One sentence .\nAnother one .\n")
  proc = _entry_point_run("bert-create-pretraining-data", "--input_file=%s" % text,
                          "--output_file=%s" % (tmp_path / "out.tfrecord"),
                          "--vocab_file=%s" % (tmp_path / "missing_vocab.txt"))
  assert proc.returncode == 1
  assert proc.stderr.strip().splitlines()[-1] == (
      "bert-create-pretraining-data: error: %s: vocab file not found; pass the vocab.txt that "
      "came with the checkpoint (--vocab_file)" % (tmp_path / "missing_vocab.txt"))
