"""Pretraining: masked-LM + next-sentence data and the run_pretraining job."""
