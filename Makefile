# The two commands README.md gives: `make book` and `make test`.
# Both create .venv with Python 3.11 or newer and install the pinned requirements on first use.

# The first of these that runs and is 3.11 or newer; or name one: `make book PYTHON=python3.12`.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3 python; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && { echo $$p; break; }; done)
# Optional: a package index for torch's CPU build, e.g. PyTorch's CPU index on Linux, where the
# public index's torch is the CUDA build (several GB): make book TORCH_INDEX=<index URL>
TORCH_INDEX ?=
VENV   := .venv
BIN    := $(VENV)/$(if $(filter Windows_NT,$(OS)),Scripts,bin)
STAMP  := $(VENV)/.installed
PHASE  := $(BIN)/python scripts/phase.py   # runs a command and prints its time
BUILD  := env TOYLAB_STATIC=1 TOYLAB_PROGRESS=off $(BIN)/jupyter-book build . --warningiserror --keep-going

.PHONY: book test lint format set-repo unit lock-check chapter browser colab sync bench seeds margins lock clean
.NOTPARALLEL:

# --no-compile: Python compiles what the chapters import when they first import it, instead of
# pip compiling every file of ~200 packages up front.
$(STAMP): requirements.txt pyproject.toml
	@test -n "$(PYTHON)" || { echo "toylab needs Python 3.11 or newer (3.11-3.13 are tested);" \
	  "python3 here is: $$(python3 --version 2>&1 || echo none). Install one, or name it:" \
	  "make book PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install --no-compile -r requirements.txt $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install --no-compile --no-deps -e .
	touch $(STAMP)

# Build the static site into _build/html. Every chapter is executed once (two at a time) into
# the book's execution cache, and the build takes its outputs from there; training is cached
# too. A rebuild executes a chapter again only if its cells, toylab or the lock changed.
book: $(STAMP)
	$(PHASE) chapters $(BIN)/python scripts/execute.py --book
	$(PHASE) build $(BUILD)
	@echo "Open _build/html/index.html"

# Lint and format check, unit tests, the lock resolving for other platforms, every
# chapter executed once through the book build, a browser check of the built site, and the
# Colab set-up cell in a fresh environment (tests/colab, a few minutes).
test: lint unit lock-check book browser colab

# ruff's lint rules and formatter (settings in pyproject.toml; notebooks/ruff.toml for chapters).
lint: $(STAMP)
	$(PHASE) lint sh -c '$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/actionlint .github/workflows/*.yml'

unit: $(STAMP)
	$(PHASE) unit $(BIN)/python -m pytest tests/unit -p no:cacheprovider $(PYTEST_ARGS)

# requirements.txt resolves from the public index for every platform and Python the README names.
lock-check: $(STAMP)
	$(PHASE) lock $(BIN)/python -m pytest tests/install -p no:cacheprovider $(PYTEST_ARGS)

# The built site in headless Chromium (run after `make book`; it rebuilds if a page changed).
browser: $(STAMP)
	$(PHASE) browser $(BIN)/python -m pytest tests/book -p no:cacheprovider $(PYTEST_ARGS)

colab: $(STAMP)
	$(PHASE) colab $(BIN)/python -m pytest tests/colab -p no:cacheprovider $(PYTEST_ARGS)

# One chapter at its default seed, alone, even if unchanged (into the book's execution cache):
# make chapter NB=grokking
chapter: $(STAMP)
	$(BIN)/python scripts/execute.py --book --jobs 1 --force --chapters $(basename $(notdir $(NB)))

# ruff's formatter, then refresh the chapters' .ipynb twins.
format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/jupytext --sync notebooks/*.py

# After editing a chapter's .py, refresh its .ipynb twin (and vice versa).
sync: $(STAMP)
	$(BIN)/jupytext --sync notebooks/*.py

# Point the book at your fork: make set-repo URL=https://github.com/OWNER/NAME
set-repo: $(STAMP)
	$(BIN)/python scripts/set_repo.py $(URL)
	$(BIN)/jupytext --sync notebooks/*.py

# Every chapter alone and cold, training against analysis (writes benchmarks/profile.md, about
# 20 minutes), then the training loop's and the ensembles' speed.
bench: $(STAMP)
	$(BIN)/python benchmarks/chapter_profile.py
	$(BIN)/python benchmarks/run.py

# Every chapter again with other seeds, each seed on an empty run cache; a pass/fail table
# (make seeds SEEDS="4 5"; CHAPTERS=grokking for one chapter).
SEEDS ?= 1 2 3
seeds: $(STAMP)
	$(BIN)/python benchmarks/seeds.py --seeds $(SEEDS) $(if $(CHAPTERS),--chapters $(CHAPTERS))

# Every claim's margin over many seeds: run the chapters at SEEDS recording every claim (in
# benchmarks/claims/, one file per chapter and seed), then tabulate all that is recorded into
# benchmarks/margins.md and the book's page book/margins.md. A sweep can be run in parts.
margins: $(STAMP)
	$(BIN)/python benchmarks/seeds.py --seeds $(SEEDS) --keep-going --claims benchmarks/claims \
	  $(if $(CHAPTERS),--chapters $(CHAPTERS)); s=$$?; $(BIN)/python benchmarks/margins.py && exit $$s

# Regenerate requirements.txt from requirements.in: one lock for Linux, macOS and Windows and
# Python 3.11+. torch's CUDA libraries are left out: torch's own metadata pins them where its
# build needs them, so its CPU build installs nothing more.
TORCH_CUDA_DEPS := cuda-bindings cuda-pathfinder cuda-toolkit nvidia-cublas nvidia-cuda-cupti \
	nvidia-cuda-nvrtc nvidia-cuda-runtime nvidia-cudnn-cu13 nvidia-cufft nvidia-cufile \
	nvidia-curand nvidia-cusolver nvidia-cusparse nvidia-cusparselt-cu13 nvidia-nccl-cu13 \
	nvidia-nvjitlink nvidia-nvshmem-cu13 nvidia-nvtx triton
lock: $(STAMP)
	$(BIN)/uv pip compile requirements.in --universal --python-version 3.11 \
	  --custom-compile-command "make lock" $(addprefix --no-emit-package ,$(TORCH_CUDA_DEPS)) \
	  -o requirements.txt

clean:
	rm -rf _build
