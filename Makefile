# arbench: `make bench` sets itself up and runs the default experiment; `make test` runs the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DEVICE ?= auto
EXP    ?= experiments/default.toml
OUT    ?= results
# Debian packages the default experiment needs: Apertium eng<->spa for MT, DejaVu fonts for overlays
# and synthetic signs; Tesseract's English and Spanish data for the tesseract OCR backend; a C compiler and
# Python's headers for the C sampler thread of file-backed power sensors (harness/energy/_filesampler.c).
# `make setup` installs them when apt-get is there and we are root (or sudo works), before the venv, so the
# C sampler is built.
APT_PACKAGES := apertium apertium-eng-spa fonts-dejavu-core fonts-dejavu-extra tesseract-ocr-eng tesseract-ocr-spa gcc python3-dev

# ACCEL=cuda (x86-64 Linux with an NVIDIA driver): the GPU builds of the runtimes, swapped in after the CPU install.
# ONNX Runtime's CUDA build replaces the CPU one (they share the `onnxruntime` module; its TensorRT provider works
# where TensorRT's libraries are installed); PyPI's torch 2.13.0 for Linux x86-64 is the CUDA build (with its
# nvidia-* wheels); CTranslate2's PyPI wheel already has CUDA; nvidia-ml-py reads NVML. Jetsons: docs/accelerators.md.
ACCEL  ?= cpu
ORT_GPU := onnxruntime-gpu==1.31.1
TORCH_CUDA_INDEX ?= https://pypi.org/simple

.PHONY: setup apt bench test lint smoke models convert-venv train-nmt figures clean accel-cuda device-check

setup: $(BIN)/arbench $(if $(filter cuda,$(ACCEL)),accel-cuda)

accel-cuda: $(VENV)/.accel-cuda

$(VENV)/.accel-cuda: $(BIN)/arbench
	$(BIN)/pip uninstall --quiet --yes onnxruntime torch
	$(BIN)/pip install --quiet '$(ORT_GPU)'
	$(BIN)/pip install --isolated --quiet --index-url $(TORCH_CUDA_INDEX) 'torch==2.13.0'  # --isolated: no local CPU wheel from pip's configuration
	$(BIN)/pip install --quiet 'nvidia-ml-py>=12'
	$(BIN)/arbench devices
	@touch $@

$(BIN)/arbench: pyproject.toml setup.py harness/energy/_filesampler.c | apt
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

bench: models
	$(BIN)/arbench run $(EXP) --device $(DEVICE) --out $(OUT)

# Paper figures (PDF, PNG) and tables (LaTeX, Markdown) of RUN, by default the latest run under $(OUT), into RUN/figures.
figures: setup
	$(BIN)/arbench figures $(RUN) --results $(OUT)

# The project's own model files built by recipes where missing or stale: the CTranslate2 copy of the shipped NMT
# weights and the LiteRT fp16 files cast from the fp32 ones (seconds); the int8 and the other TFLite files ship, so
# they are only checked (`arbench models build --force` rebuilds them: TFLite needs `make convert-venv`).
models: setup
	$(BIN)/arbench models build

# onnx2tf and TensorFlow pin NumPy 1.26 and ONNX 1.19: the TFLite recipe runs in this environment of its own,
# which sees the harness through a .pth file. Only needed to rebuild models/ppocrv4-tflite.
CONVERT_VENV := build/convert-venv
convert-venv: $(CONVERT_VENV)/bin/onnx2tf

$(CONVERT_VENV)/bin/onnx2tf: pyproject.toml
	$(PYTHON) -m venv $(CONVERT_VENV)
	$(CONVERT_VENV)/bin/pip install --quiet --upgrade pip
	$(CONVERT_VENV)/bin/pip install --quiet "rapidocr-onnxruntime>=1.4,<1.5" "onnxruntime==1.23.0" "numpy==1.26.4" \
		pillow pandas rapidfuzz shapely sacrebleu "opencv-python==4.11.0.86" \
		"onnx==1.19.1" "onnx2tf==1.29.24" "tensorflow==2.19.0" "tf_keras==2.19.0" "onnx_graphsurgeon==0.5.8" \
		"sng4onnx==2.0.1" "onnxsim==0.4.36" psutil "ai-edge-litert>=2.1"
	echo "$(CURDIR)" > $$($(CONVERT_VENV)/bin/python -c 'import site; print(site.getsitepackages()[0])')/arbench.pth
	@touch $@

# Retrain the shipped en->es NMT model from Debian's gettext catalogs and Apertium's distilled translations
# (root for apt-get; training is capped at 2.5 hours on 2 cores and resumes after an interruption); writes
# models/nmt-en-es and its card. Training has two stages (train, then adapt: docs/mt.md).
# NMT_TRAIN_S and NMT_ADAPT_S train the stages for that many training-loop seconds instead of the recipe's
# (the budgets of the shipped model are in its card).
train-nmt: $(BIN)/arbench
	@command -v lt-print >/dev/null 2>&1 || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); $$SUDO apt-get install -y -qq lttoolbox-dev >/dev/null; }
	$(BIN)/pip install --quiet -e '.[nmt]'
	$(BIN)/python -m harness.models.recipes.nmt.reproduce $(if $(NMT_TRAIN_S),--max-train-s $(NMT_TRAIN_S)) $(if $(NMT_ADAPT_S),--adapt-train-s $(NMT_ADAPT_S))

# The GPU device check (docs/accelerators.md): its inputs here, then PP-OCRv4 and the NMT model on PyTorch at
# fp32/fp16/bf16 on CUDA (where torch has it) and the CPU, with NVML energy; results in $(OUT)/device-check.
device-check: models
	$(BIN)/python -m harness.devicecheck inputs
	$(BIN)/python -m harness.devicecheck run --out $(OUT)/device-check

smoke: models
	$(BIN)/arbench run experiments/smoke.toml --device $(DEVICE) --out $(OUT)

test: models lint
	$(BIN)/python -m pytest -q

# ruff, then the layers of docs/architecture.md (import-linter contracts in pyproject.toml: no module imports a
# higher layer, no import circles).
lint: $(BIN)/arbench
	$(BIN)/ruff check harness tests
	$(BIN)/lint-imports --no-logo

clean:
	rm -rf $(VENV) build *.egg-info harness/__pycache__ .pytest_cache harness/energy/_filesampler*.so
