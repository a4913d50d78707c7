"""Masked-LM / next-sentence pre-training: the data it reads (create_pretraining_data.py) and the job."""
