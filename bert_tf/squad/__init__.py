"""Question answering on SQuAD 1.1 / 2.0, exact to google-research/bert's run_squad.py.

One concept per module, each function taking plain arguments:

* examples:    SquadExample, read_squad_examples (SQuAD JSON, the original
               whitespace rule, training answers, SquadInputError).
* features:    InputFeatures, document windows, and the original
               convert_examples_to_features step by step (the reference).
* features_fast: convert_examples_to_features, the fast path callers use,
               tested to give the same features and log as the reference.
* records:     the train/eval TFRecord schema (FeatureWriter, tf.data
               reader) and the Random(12345) shuffle of training examples.
* postprocess: write_predictions (predictions / n-best / null odds files),
               get_final_text, logits.npz.
* evaluate:    the official SQuAD 1.1 / 2.0 metrics, thresholds in logit
               differences.
* model:       BertForSquad (the cls/squad span head under the original
               names) and the original loss.
* job:         SquadJob and run(job): what run_squad.py's main does (train,
               predict, logits.npz, eval_results.txt, --logits_file).

Deviations from the original (everything else is kept, defects included):
bad input raises a one-line SquadInputError instead of KeyError/IndexError
(a negative answer_start is refused); doc_stride < 1 or a question leaving
no room for the document raise ValueError instead of looping forever; in
SQuAD 2.0 an all-null n-best (#476) or an example without features (#353)
answers "" with a warning instead of crashing; FeatureWriter writes through
a temporary file.
"""
