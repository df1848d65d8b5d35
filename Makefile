# incident-kit: `make demo` and `make test` set up everything they need on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
BASE   := $(VENV)/.installed-base
DEV    := $(VENV)/.installed-dev

.PHONY: demo test bench lab system-demo system-test clean

# The package with the PostgreSQL driver: all the demo needs.
$(BASE): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e '.[postgres]'
	touch $(BASE)

# Everything: every backend, JupyterLab, the test and benchmark tools.
$(DEV): $(BASE)
	$(PY) -m pip install -q -e '.[dev]'
	touch $(DEV)

system-demo:
	scripts/install-system-deps.sh demo

system-test:
	scripts/install-system-deps.sh test

demo: $(BASE) system-demo
	$(VENV)/bin/incident-kit demo

# Installing uses the package registries; the tests themselves run where only loopback exists.
test: $(DEV) system-test
	scripts/loopback-only.sh $(PY) -m pytest -q

bench: $(DEV) system-test
	$(PY) benchmarks/run_all.py

lab: $(DEV) system-demo
	$(VENV)/bin/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) notebooks/

clean:
	rm -rf $(VENV) reports/2* reports/index.html .bench
