# Postgate: `make demo` runs the pipeline on local emulators; `make test` runs the test suite.
PYTHON ?= python3
VENV := .venv
BQ_VENV := .venv-bq
PY := $(VENV)/bin/python
export PYTHONPATH := $(CURDIR)

.PHONY: venv demo test emulators-check clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

# bqemulator pins protobuf 6, so it lives in its own venv (see infra/local/bqemu_offline.py).
$(BQ_VENV)/.installed:
	$(PYTHON) -m venv $(BQ_VENV)
	$(BQ_VENV)/bin/pip install -q --disable-pip-version-check bqemulator==1.4.0 numpy
	touch $@

venv: $(VENV)/.installed $(BQ_VENV)/.installed

demo: venv
	$(PY) -m infra.local.demo

test: venv
	$(PY) -m pytest -q tests

emulators-check: venv
	$(PY) -m infra.local.emulators --check

clean:
	rm -rf $(VENV) $(BQ_VENV) .pytest_cache
