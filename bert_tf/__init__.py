"""bert_tf: google-research/bert's command-line workflow on TensorFlow 2 / Keras 3.

Importing the package sets one TensorFlow start-up option (before TensorFlow
is imported; an explicit setting in the environment wins):

  TF_ENABLE_ONEDNN_OPTS=1  oneDNN's kernels for TensorFlow's CPU ops.
      TensorFlow turns them on by itself only on CPUs with AVX-512 VNNI /
      AMX; elsewhere (e.g. AVX2 CPUs) its batched matmuls -- the attention's
      scores and context -- run single-threaded Eigen code at 18-35 GFLOP/s
      where oneDNN uses every core at 43-63 (benchmarks/LEVERS.md).  Results
      are the same to float rounding (the parity tests run with it on).
"""

import os

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
