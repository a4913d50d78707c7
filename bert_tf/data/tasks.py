"""The task registry: --task_name -> its DataProcessor (GLUE/XNLI tables or the generic tsv/csv one)."""

from bert_tf.data import glue
from bert_tf.data.generic import GenericProcessor

PROCESSORS = {
    "cola": glue.ColaProcessor,
    "mnli": glue.MnliProcessor,
    "mrpc": glue.MrpcProcessor,
    "xnli": glue.XnliProcessor,
    "sst-2": glue.Sst2Processor,
    "qnli": glue.QnliProcessor,
    "qqp": glue.QqpProcessor,
    "rte": glue.RteProcessor,
    "wnli": glue.WnliProcessor,
    "sts-b": glue.StsbProcessor,
}

# --task_name values served by GenericProcessor, with their reading defaults.
GENERIC_TASKS = {
    "tsv": {"delimiter": "\t", "quotechar": None, "file_extension": "tsv"},
    "csv": {"delimiter": ",", "quotechar": '"', "file_extension": "csv"},
}


def get_processor(task_name, **generic_options):
  """The processor for `task_name` (case-insensitive).

  GLUE/XNLI tasks ignore `generic_options`; "tsv" and "csv" build a
  GenericProcessor from them (see its Args; delimiter/quotechar default to
  tab/none for tsv and comma/'"' for csv).

  Raises:
    ValueError: "Task not found: <name>" (the original's message).
  """
  name = task_name.lower()
  if name in GENERIC_TASKS:
    options = dict(GENERIC_TASKS[name])
    options.update((k, v) for k, v in generic_options.items() if v is not None)
    return GenericProcessor(**options)
  if name not in PROCESSORS:
    raise ValueError("Task not found: %s" % (name))
  return PROCESSORS[name]()
