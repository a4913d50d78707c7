"""bert_tf.runtime: the runtime options defined once, as flags and as a dataclass."""
import dataclasses

from absl import flags

from bert_tf import runtime


def _flag_values(**help_texts):
  fv = flags.FlagValues()
  runtime.define_runtime_flags("prog.py", help_texts=help_texts, flag_values=fv)
  return fv


def test_flags_and_dataclass_have_the_same_names_and_defaults():
  fv = _flag_values()
  defaults = runtime.RuntimeOptions()
  assert [f.name for f in fv.flags_by_module_dict()["prog.py"]] == list(runtime.FIELDS)
  for field in dataclasses.fields(runtime.RuntimeOptions):
    assert fv[field.name].default == getattr(defaults, field.name), field.name


def test_options_from_parsed_flags():
  fv = _flag_values()
  fv(["prog.py", "--use_tpu", "--seed=7", "--dtype=bfloat16", "--lr_schedule=intended",
      "--iterations_per_loop=50", "--notrim_padding"])
  options = runtime.runtime_options_from_flags(fv)
  assert options == runtime.RuntimeOptions(use_tpu=True, seed=7, dtype="bfloat16",
                                           lr_schedule="intended", iterations_per_loop=50,
                                           trim_padding=False)
  assert options.steps_per_loop == 50 and options.lr_step_offset == 0
  assert not options.trim and not options.loss_scaling


def test_derived_options_off_tpu():
  options = runtime.RuntimeOptions(dtype="float16")
  assert options.trim and options.steps_per_loop == 1 and options.lr_step_offset == 1
  assert options.loss_scaling
  assert not runtime.RuntimeOptions(use_tpu=True).trim  # fixed shapes on TPU


def test_a_script_may_word_a_flag_its_own_way():
  fv = _flag_values(use_xla="[bert_tf] Compile the training step with XLA.")
  assert fv["use_xla"].help == "[bert_tf] Compile the training step with XLA."
  assert fv["seed"].help.startswith("[bert_tf] Random seed for initialisation")
