# Two entry points for a fresh machine: `make demo` and `make test`.
# The CPU build of torch is pinned in requirements/torch-cpu.txt so no multi-GB CUDA build is pulled;
# the package metadata itself keeps the range torch>=2.2 for users with GPUs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.resode-installed

.PHONY: install demo test lint format bench clean

$(STAMP): pyproject.toml requirements/torch-cpu.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements/torch-cpu.txt
	$(BIN)/python -m pip install --quiet -c requirements/torch-cpu.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/resode reproduce

test: install
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/python -m pytest -n 2 --dist loadgroup

lint: install
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts

format: install
	$(BIN)/ruff format src tests benchmarks scripts
	$(BIN)/ruff check --fix src tests benchmarks scripts

bench: install
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
