# The two commands README.md gives: `make book` and `make test`.
# Both create .venv and install the pinned requirements on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: book test lint format set-repo unit chapters site sync bench seeds clean

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -r requirements.txt   # the full lock; torch is pinned there (CPU build) only
	$(BIN)/pip install --no-deps -e .
	touch $(STAMP)

# Build the static site into _build/html (executes every chapter; training is cached).
book: $(STAMP)
	TOYLAB_STATIC=1 TOYLAB_PROGRESS=off $(BIN)/jupyter-book build . --warningiserror --keep-going
	@echo "Open _build/html/index.html"

# Lint and format check, unit tests, every chapter under nbval, the book build and a browser
# check, and the Colab set-up cell in a fresh environment (tests/colab, a few minutes).
test: $(STAMP) lint
	$(BIN)/python -m pytest tests/unit notebooks tests/book tests/colab --nbval-lax --nbval-cell-timeout=1200 -p no:cacheprovider $(PYTEST_ARGS)

# ruff's lint rules and formatter (settings in pyproject.toml; notebooks/ruff.toml for chapters).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/actionlint .github/workflows/*.yml

# Format everything, then refresh the chapters' .ipynb twins.
format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/jupytext --sync notebooks/*.py

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

# One chapter: make chapter NB=notebooks/grokking.ipynb
chapter: $(STAMP)
	$(BIN)/python -m pytest --nbval-lax --nbval-cell-timeout=1200 $(NB)

# After editing a chapter's .py, refresh its .ipynb twin (and vice versa).
sync: $(STAMP)
	$(BIN)/jupytext --sync notebooks/*.py

# Point the book at your fork: make set-repo URL=https://github.com/OWNER/NAME
set-repo: $(STAMP)
	$(BIN)/python scripts/set_repo.py $(URL)
	$(BIN)/jupytext --sync notebooks/*.py

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

# Every chapter again with other seeds, cold cache; a pass/fail table (make seeds SEEDS="4 5").
SEEDS ?= 1 2 3
seeds: $(STAMP)
	$(BIN)/python benchmarks/seeds.py --seeds $(SEEDS) $(if $(CHAPTERS),--chapters $(CHAPTERS))

clean:
	rm -rf _build
