# Two entry points for a fresh machine with Python 3.10+: `make demo`, `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check

.PHONY: demo test install bench clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "convcli needs Python 3.10+"'
	$(PYTHON) -m venv $(VENV)

install: $(BIN)/python
	$(PIP) -e '.[plot]'

demo: install
	$(BIN)/python -c 'import numpy as np, convcli as cc; np.random.seed(1); A = np.random.randn(10, 4, 4, 3); W = np.random.randn(2, 2, 3, 8); b = np.random.randn(1, 1, 1, 8); Z, cache = cc.conv_forward(A, W, b, {"pad": 2, "stride": 1, "bias": "window"}); dA, dW, db = cc.conv_backward(Z, cache); print("dA_mean =", dA.mean()); print("dW_mean =", dW.mean()); print("db_mean =", db.mean())'

test: $(BIN)/python
	$(PIP) -e '.[test,plot]'
	$(BIN)/python -m pytest

bench: $(BIN)/python
	$(PIP) -e '.[bench]'
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) convcli-out build *.egg-info .pytest_cache .hypothesis
