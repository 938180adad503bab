# keras-gans: `make demo` runs the main job, `make test` the test suite.
# Both create a virtual environment in .venv and install the project into it first.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MNIST ?= $(firstword $(wildcard ../shared/data/mnist) mnist)
# pytest processes (pytest-xdist); a test file stays in one process, as its module fixtures
# and its order assume. `make test TEST_WORKERS=0` runs everything in this process.
TEST_WORKERS ?= 2
PYTEST := $(BIN)/python -m pytest -q $(if $(filter-out 0,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist loadfile)
# `make demo VERBOSE=1` also shows TensorFlow's logs (`keras-gans --verbose demo`).
KERAS_GANS_FLAGS := $(if $(VERBOSE),--verbose)

.PHONY: demo demo-train test test-fast check-cards bench install clean

install: $(STAMP)

$(STAMP): setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m keras_gans.cli $(KERAS_GANS_FLAGS) demo --mnist $(MNIST) --out demo_out

test: $(STAMP)
	$(PYTEST) -m "not cards" tests

# The shipped cards' numbers, reproduced by `keras-gans evaluate` on the full test split
# (needs ../shared/data/mnist; ~5 minutes): run it whenever a card changes.
check-cards: $(STAMP)
	$(PYTEST) -m cards tests

test-fast: $(STAMP)
	$(PYTEST) -m "not slow and not cards" tests

# The speed tables (minutes, not part of `make test`): written to benchmarks/results/ with
# the machine they ran on.
bench: $(STAMP)
	$(BIN)/python benchmarks/train_speed.py --mnist $(MNIST) | tee benchmarks/results/train_speed.md
	$(BIN)/python benchmarks/serving_latency.py | tee benchmarks/results/serving_latency.md

clean:
	rm -rf $(VENV) demo_out *.egg-info

demo-train: $(STAMP)
	$(BIN)/python -m keras_gans.cli $(KERAS_GANS_FLAGS) demo --mnist $(MNIST) --out demo_out --train
