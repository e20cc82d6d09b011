# Entry points that do all the set-up on a fresh machine:
#   make test   install, lint, unit tests, check the committed weights, execute every chapter (smoke), build the book,
#               grade the classroom edition's solved and stubbed notebooks
#   make book   install, build the dataset, execute every chapter (demo, from the committed weights), build _build/html
#   make classroom  the student notebooks and web edition, and the teacher edition with the autograders
#   make train  retrain every demo model from scratch, rewrite the committed weights, results and README tables
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_VERSION ?= 2.13.0
export MRILAB_DATA ?= $(CURDIR)/data
export MRILAB_RUNS ?= $(CURDIR)/runs
export MRILAB_RESULTS ?= $(CURDIR)/results
export PYTHONHASHSEED = 0

# demo everywhere (a GPU only runs it faster); `make book BOOK_PROFILE=full` asks for the paper-scale experiments
BOOK_PROFILE ?= demo
# chapters executed side by side, one single-threaded kernel each (tools/book.py execute --jobs)
JOBS ?= 2

.PHONY: install lint notebooks-check readme-check unit weights-check chapters nbval book-smoke test data book results \
	train select classroom classroom-check benchmark benchmark-smoke bench gpu-check full-check full-check-ci sync clean mutants

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

notebooks-check: install
	$(PY) tools/book.py check

# the README's results tables must equal the committed results/ files (rewrite them with tools/readme_results.py)
readme-check: install
	$(PY) tools/readme_results.py --check

unit: install
	$(PY) -m pytest

# the committed demo weights must match their recipes, load with weights_only=True and reproduce the committed results
weights-check: install
	$(PY) data_scripts/make_brain_dataset.py --profile demo
	$(PY) tools/pretrained.py check --profile demo

# every chapter in the smoke profile (papermill), then nbval re-runs them and compares the cells marked
# tagged `nbval-check-output` with the first run, then the book is built from those executed notebooks
chapters: install
	$(PY) data_scripts/make_brain_dataset.py --profile smoke
	$(PY) tools/book.py execute --profile smoke --jobs $(JOBS)

nbval: chapters
	MRILAB_PROFILE=smoke $(PY) -m pytest --nbval-lax -p no:cacheprovider _build/executed/smoke/notebooks

book-smoke: chapters
	$(PY) tools/book.py build --executed _build/executed/smoke

# the classroom edition on the smoke profile: student notebooks current, every chapter's solved notebook scores full
# marks and its stubbed one zero (otter-grader, all checks), and no piece of a solution or of a hidden check in the
# student notebooks (the checks their set-up cells write included) or the student web edition
classroom-check: book-smoke
	$(PY) tools/classroom.py check
	$(PY) tools/classroom.py leaks --notebooks classroom
	$(PY) tools/classroom.py verify --profile smoke
	$(PY) tools/book.py build --executed _build/executed/smoke --student
	$(PY) tools/classroom.py leaks _build/html-student
	$(PY) tools/classroom.py leaks _build/html --reading

# every `full` (paper-scale) model takes two training steps and one evaluation on the CPU, on a few slices of the
# full data, with its recipe's batch size (benchmarks/results/full_check.json); `make test` runs the same check
# with one slice per step, which fits CI's memory and time
full-check: install
	$(PY) benchmarks/full_check.py

full-check-ci: install
	$(PY) benchmarks/full_check.py --batch-size 1 --out _build/full_check.json

# every registered method on every task it applies to, from the committed weights (smoke: from the runs the
# chapters just trained), into results/<profile>/benchmark.json; --check compares its rows with the chapters'
benchmark-smoke: chapters
	$(PY) -m mrilab.benchmark --profile smoke --check

benchmark: data
	$(PY) -m mrilab.benchmark --profile $(BOOK_PROFILE) --check

test: lint notebooks-check readme-check unit weights-check chapters nbval book-smoke classroom-check benchmark-smoke \
	full-check-ci

sync: install
	$(PY) tools/book.py sync
	$(PY) tools/classroom.py sync

data: install
	$(PY) data_scripts/make_brain_dataset.py --profile $(BOOK_PROFILE)

# the book's chapters write their tables to _build/results, so that a reader's `make book` never rewrites the
# committed results/ (another machine's kernels can move a retrained model by tenths of a dB)
book: data
	MRILAB_RESULTS=$(CURDIR)/_build/results $(PY) tools/book.py execute --profile $(BOOK_PROFILE) --jobs $(JOBS)
	$(PY) tools/book.py build --executed _build/executed/$(BOOK_PROFILE)

# rewrite the committed demo results: run the chapters in demo into results/, then the README's tables from them
results: data
	$(PY) tools/book.py execute --profile demo --jobs $(JOBS)
	$(PY) tools/readme_results.py

# retrain every demo model from scratch (no committed weights, no old checkpoints), then the results and README tables
train: data
	rm -rf $(CURDIR)/_build/train-runs
	MRILAB_RUNS=$(CURDIR)/_build/train-runs $(PY) tools/pretrained.py train --profile demo --retrain
	MRILAB_RUNS=$(CURDIR)/_build/train-runs $(MAKE) results

# choose the training distribution (on the shifted validation set), the demo training recipes, the classical
# baselines' λ and IFR-CS's λ and V on the validation split; rewrite their records in mrilab/records/
select: data
	$(PY) selection/select_training_data.py --profile demo
	$(PY) selection/select_recipe.py --profile demo
	$(PY) selection/tune_classical.py --profile demo
	$(PY) selection/tune_ifr_cs.py --profile demo

# the classroom edition: student notebooks (classroom/), the student web edition (_build/html-student) and the
# teacher edition with every check and otter's autograder per chapter (_build/classroom/teacher)
classroom: data
	$(PY) tools/classroom.py sync
	MRILAB_RESULTS=$(CURDIR)/_build/results $(PY) tools/book.py execute --profile $(BOOK_PROFILE) --jobs $(JOBS)
	$(PY) tools/book.py build --executed _build/executed/$(BOOK_PROFILE) --student
	$(PY) tools/classroom.py leaks --notebooks classroom
	$(PY) tools/classroom.py leaks _build/html-student
	$(PY) tools/classroom.py teacher

bench: install
	$(PY) benchmarks/bench_ops.py
	$(PY) benchmarks/bench_trainer.py
	$(PY) benchmarks/bench_dataset.py
	$(PY) benchmarks/bench_chapters.py
	$(PY) benchmarks/bench_step.py

# on a CUDA machine: every chapter in demo on the GPU, step and inference times in float32 and autocast, peak memory,
# one demo model retrained and compared with its committed CPU-trained twin (benchmarks/results/gpu.json); on a
# machine without CUDA it runs the float32 demo timings and says which parts it skipped
gpu-check: data
	$(PY) benchmarks/gpu_check.py

# mutation testing of the modules that implement the book's equations ([tool.mutmut] in pyproject.toml lists them):
# mutmut changes one operator or constant at a time and runs the fast unit tests on it; tools/mutants.py prints per
# module the mutants, how many the tests killed, how many survived and timed out, and the run time, and writes
# benchmarks/results/mutants.json
MUTMUT_VERSION ?= 3.8.1
MUTANTS_CHILDREN ?= 1

mutants: install
	$(PY) -m pip install --quiet "mutmut==$(MUTMUT_VERSION)"
	$(PY) tools/mutants.py --max-children $(MUTANTS_CHILDREN)

clean:
	rm -rf _build
