# Two entry points do all the set-up on a fresh machine:
#   make test   install, lint, unit tests, then execute every chapter (smoke) and build the book from them
#   make book   install, build the dataset, execute every chapter (demo on CPU, full with CUDA), build _build/html
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_VERSION ?= 2.13.0
export MRILAB_DATA ?= $(CURDIR)/data
export PYTHONHASHSEED = 0

.PHONY: install lint unit test data book bench clean

# torch goes in first, pinned, unless the interpreter already has one (Colab, a CUDA install): requirements.txt
# and pyproject.toml only ask for `torch>=2.1`, which the installed build satisfies, so nothing replaces it.
$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv --system-site-packages $(VENV)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install "torch==$(TORCH_VERSION)"
	$(PY) -m pip install -r requirements.txt
	$(PY) -m pip install -e .
	touch $@

install: $(VENV)/.installed

lint: install
	$(PY) -m ruff check .

unit: install
	$(PY) -m pytest

test: lint unit

data: install
	$(PY) data_scripts/make_brain_dataset.py --profile $${MRILAB_PROFILE:-demo}

book: data
	$(PY) -m jupyter_book build . --warningiserror --keep-going

bench: install
	$(PY) benchmarks/bench_ops.py
	$(PY) benchmarks/bench_trainer.py
	$(PY) benchmarks/bench_dataset.py

clean:
	rm -rf _build
