# Two entry points on a fresh machine with Python 3.11: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= 4
# A local data copy in the book's layout, used in place of downloads when it exists; without
# one, `make run` downloads the raw data. Its CIFAR-10 image tree is used when it holds one, else
# CIFAR-10 comes from `data.cifar10` or the official archive.
DATA ?= $(abspath ../shared/data)
ifneq ($(wildcard $(DATA)/p1ch4),)
export DLWPT_DATA ?= $(DATA)
ifneq ($(wildcard $(DATA)/cifar10-jpeg),)
export DLWPT_CIFAR10 ?= $(DATA)/cifar10-jpeg
endif
endif
# Without such a copy the tests and the lint read what `make test-data` fetched.
ifeq ($(DLWPT_DATA),)
test test-data lint: export DLWPT_DATA := $(abspath .cache/test-data)
test test-data lint: export DLWPT_CIFAR10 ?= $(abspath .cache/test-data)/cifar10-jpeg
endif

.PHONY: run test test-data lint bench calibrate setup clean runs diff

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

# The Slurm tests mostly wait on their test cluster's queue: they run beside the rest, in a
# second pytest (its output follows the first's), from a private copy of the checkout.
SLURM_TESTS := tests/test_slurm.py
test: setup test-data lint
	@$(BIN)/pytest $(SLURM_TESTS) -p no:cacheprovider --basetemp=$${TMPDIR:-/tmp}/dlwpt-pytest-slurm \
	  > .pytest-slurm.log 2>&1 & slurm=$$!; \
	$(BIN)/pytest --ignore=$(SLURM_TESTS); rest=$$?; \
	wait $$slurm; slurm_rc=$$?; echo "--- $(SLURM_TESTS)"; cat .pytest-slurm.log; \
	if [ $$rest -ne 0 ] || [ $$slurm_rc -ne 0 ]; then exit 1; fi

# The data the tests read: DLWPT_DATA, ../shared/data, or fetched once into .cache/test-data/
# (tests/helpers/fetch_data.py); offline with none of these, one line and exit 1.
test-data: setup
	@$(BIN)/python -m tests.helpers.fetch_data

bench: setup
	$(BIN)/python bench/bench_train.py

# False-positive rate and power of the report's comparisons, by simulation (docs/statistics.md).
calibrate: setup
	$(BIN)/python bench/calibrate_comparisons.py

# The run history (results/history): every published run, and what changed between two.
# `make runs ARGS=--all`, `make diff ARGS="<old id> <new id>"` (default: the last two entries).
# An existing venv as it is (a look at the history never reinstalls it; `runs: | setup` would,
# whenever requirements.txt is newer); setup only where there is none.
runs:
	@[ -x $(BIN)/python ] || $(MAKE) --no-print-directory setup
	@$(BIN)/python -m dlwpt runs $(ARGS)

diff:
	@[ -x $(BIN)/python ] || $(MAKE) --no-print-directory setup
	@$(BIN)/python -m dlwpt diff $(ARGS)

# Keeps the run history (results/history): `rm -rf results/history` removes it.
clean:
	find results -mindepth 1 -maxdepth 1 ! -name history -exec rm -rf {} + 2>/dev/null || true
	rm -rf benchmarks logs .snakemake
