# arbench: `make bench` sets itself up and runs the default experiment; `make test` runs the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DEVICE ?= auto
EXP    ?= experiments/default.toml
OUT    ?= results
# Debian packages the default experiment needs: Apertium eng<->spa for MT, DejaVu fonts for overlays
# and synthetic signs; Tesseract's English and Spanish data for the tesseract OCR backend. `make setup` installs them when apt-get is there and we are root (or sudo works).
APT_PACKAGES := apertium apertium-eng-spa fonts-dejavu-core fonts-dejavu-extra tesseract-ocr-eng tesseract-ocr-spa

.PHONY: setup apt bench test lint smoke models clean

setup: $(BIN)/arbench apt

$(BIN)/arbench: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

apt:
	@if command -v apertium >/dev/null 2>&1 && dpkg -s $(APT_PACKAGES) >/dev/null 2>&1; then \
		echo "setup: Debian packages present: $(APT_PACKAGES)"; \
	elif command -v apt-get >/dev/null 2>&1; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		echo "setup: installing Debian packages: $(APT_PACKAGES)"; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(APT_PACKAGES) >/dev/null; \
	else \
		echo "setup: no apt-get here; install Apertium (eng-spa) and DejaVu fonts yourself: $(APT_PACKAGES)"; \
	fi

bench: setup
	$(BIN)/arbench run $(EXP) --device $(DEVICE) --out $(OUT)

# The project's own model files (int8 and converted variants): built only where missing or stale.
models: setup
	$(BIN)/arbench models build

smoke: setup
	$(BIN)/arbench run experiments/smoke.toml --device $(DEVICE) --out $(OUT)

test: setup lint
	$(BIN)/python -m pytest -q

lint: $(BIN)/arbench
	$(BIN)/ruff check harness tests

clean:
	rm -rf $(VENV) build *.egg-info harness/__pycache__ .pytest_cache
