"""bert_tf.data.examples: example types and TPU padding."""

from bert_tf.data.examples import InputExample, PaddingInputExample, pad_examples_for_tpu


def test_pad_examples_for_tpu():
  examples = [InputExample(str(i), "t") for i in range(40)]
  padded = pad_examples_for_tpu(examples, 16)
  assert len(padded) == 48 and len(examples) == 40
  assert padded[:40] == examples
  assert all(isinstance(e, PaddingInputExample) for e in padded[40:])
  assert len(pad_examples_for_tpu(padded, 16)) == 48
  assert len(pad_examples_for_tpu(examples, 8)) == 40
