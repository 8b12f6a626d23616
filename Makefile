# The verbs people type. `make test` and `make demo` work from a clean clone: they create the
# virtual environment, build the extension and install the test dependencies themselves.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEPS := $(VENV)/.deps-installed

.PHONY: demo test test-rust test-python develop lint quality clean

$(DEPS): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "maturin>=1.5,<2" "pytest>=7" "hypothesis>=6" "scikit-learn>=1.6" joblib pandas ruff
	touch $@

# Builds the extension (release, as users get it) into the virtual environment.
develop: $(DEPS)
	$(VENV)/bin/maturin develop --release --quiet

demo: develop
	$(PY) examples/demo.py

test: test-rust test-python

test-rust:
	cargo test --release -p fastkmeans-core

test-python: develop
	$(PY) -m pytest

lint: $(DEPS)
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --release -- -D warnings
	$(VENV)/bin/ruff check python tests benches examples

# Loss and time against scikit-learn on the real data sets of ../shared/data (several minutes).
quality: develop
	$(PY) benches/quality.py

clean:
	rm -rf $(VENV) target
