"""google-research/bert's run_squad.py: the program is bert_tf.scripts.run_squad."""

from bert_tf.scripts import run_squad

if __name__ == "__main__":
  run_squad.main()
else:  # imported for its flags, as the original's users do
  run_squad.define_flags(__name__)
  job_from_flags = run_squad.job_from_flags
