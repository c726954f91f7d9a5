# Two entry points on a fresh machine with Python 3.11: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= 4
# A local data copy in the book's layout, used in place of downloads when it exists
# (tests and CI read ../shared/data); without one, `make run` downloads the raw data.
DATA ?= $(abspath ../shared/data)
ifneq ($(wildcard $(DATA)/p1ch4),)
export DLWPT_DATA ?= $(DATA)
export DLWPT_CIFAR10 ?= $(DATA)/cifar10-jpeg
endif

.PHONY: run test lint bench setup clean

$(BIN)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $@

setup: $(BIN)/.installed

run: setup
	$(BIN)/snakemake --cores $(CORES) --resources gpu=1

lint: setup
	$(BIN)/ruff check .
	$(BIN)/snakefmt --check Snakefile rules/
	$(BIN)/snakemake --lint

# Two workers (pytest-xdist): the Snakemake workflow tests in one, in order, and the Slurm tests
# (mostly waiting on the queue) with the rest in the other (groups: tests/conftest.py).
TEST_WORKERS ?= 2
test: setup lint
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup

bench: setup
	$(BIN)/python bench/bench_train.py

clean:
	rm -rf results benchmarks logs .snakemake
