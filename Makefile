# Two entry points for a fresh machine with Python 3.10+: `make demo`, `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check

.PHONY: demo test install bench pictures clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "convcli needs Python 3.10+"'
	$(PYTHON) -m venv $(VENV)

install: $(BIN)/python
	$(PIP) -e '.[plot]'

demo: install
	$(BIN)/convcli check configs/seed.yaml
	$(BIN)/convcli backward configs/stack.yaml --out convcli-out/demo/stack --force
	$(BIN)/convcli plot configs/stack.yaml --quantity conv1.Z --out convcli-out/demo/stack.conv1.Z.png --force
	@echo "demo picture: $(CURDIR)/convcli-out/demo/stack.conv1.Z.png"

# The README's picture, docs/check-padding.png (check --against --plot on a padding mistake).
pictures: install
	$(BIN)/python docs/pictures.py

test: $(BIN)/python
	$(PIP) -e '.[test,plot]'
	$(BIN)/python -m pytest

bench: $(BIN)/python
	$(PIP) -e '.[bench]'
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) convcli-out build *.egg-info .pytest_cache .hypothesis
