"""bert_tf: the google-research/bert command line on TensorFlow 2.21 + Keras 3."""
import os

from setuptools import find_packages, setup

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "requirements.txt")) as f:
  requirements = [l.strip() for l in f if l.strip() and not l.startswith("#")]

setup(
    name="bert_tf",
    version="0.1.0",
    description="Drop-in TF2/Keras 3 replacement for google-research/bert's scripts",
    packages=find_packages(include=["bert_tf", "bert_tf.*"]),
    python_requires=">=3.11",
    install_requires=requirements,
    license="Apache-2.0",
)
