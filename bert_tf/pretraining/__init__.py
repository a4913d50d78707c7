"""Pretraining: the masked-LM + next-sentence data (create_pretraining_data.py) and the run_pretraining job."""
