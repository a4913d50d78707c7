"""Classifier data: from users' and GLUE's files to batches of tensors.

The data half of google-research/bert's run_classifier.py, one concept per module:

* `examples`      InputExample / PaddingInputExample / InputFeatures, the regression label list;
* `readers`       the original's TSV reading (csv module), used by the GLUE tasks;
* `processor`     the DataProcessor interface (data_dir -> examples);
* `glue`          the GLUE/XNLI tasks as tables of columns, read by one interpreter;
* `generic`       `--task_name=tsv|csv`: users' own files, read with pandas;
* `tasks`         the task registry (`get_processor`);
* `features`      the `[CLS] a [SEP] b [SEP]` layout, pair truncation and the
                  reference per-example featurization;
* `features_fast` the batched featurization, tested equal to `features`;
* `records`       the classifier TFRecord schema: writer and reader;
* `pipeline`      the tf.data input pipeline;
* `tfrecord`      the schema-independent TFRecord level (varints, CRC32C, framing, atomic files).

Its user error, DataError, is in bert_tf.errors with the others.
"""
