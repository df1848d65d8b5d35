# incident-kit: `make demo` and `make test` set up everything they need on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test bench system-demo system-test lab clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

system-demo:
	scripts/install-system-deps.sh demo

system-test:
	scripts/install-system-deps.sh test

demo: $(STAMP) system-demo
	$(VENV)/bin/incident-kit demo

test: $(STAMP) system-test
	$(PY) -m pytest -q

bench: $(STAMP) system-test
	$(PY) benchmarks/run_all.py

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/

clean:
	rm -rf $(VENV) reports/2* reports/index.html .bench
