"""bert_tf: google-research/bert's command-line workflow on TensorFlow 2 / Keras 3.

Importing the package sets nothing: the process-wide TensorFlow start-up
options (oneDNN kernels, log level) are set by the runner every script goes
through (bert_tf.cli.run), or by calling bert_tf.runtime.configure_process()
before TensorFlow is imported.
"""
