# Quick start: `make demo` and `make test`; both set up the environment first.
VENV ?= .venv
PYTHON ?= python3.11
PY := $(VENV)/bin/python
POSE_CONFIGS := $(sort $(wildcard configs/*_2d_keypoint/*/*/*.py))
SEG_CONFIGS := $(sort $(wildcard configs/seg/litehrnet/*.py))

.PHONY: setup kernels cross-tools demo bottomup-demo seg-demo zoo test lint

setup:
	@VENV=$(VENV) PYTHON=$(PYTHON) bash tools/setup_env.sh

# The deploy form's CPU kernels built now, not at the first deployed forward pass (for an
# image or a server; MMPOSE_LITEHRNET_CPU_TARGET=haswell etc. builds for another CPU).
kernels: setup
	$(PY) -m mmpose_litehrnet.kernels

# Debian's aarch64 cross compiler and qemu-user, for tools/check_kernels_cross.py and its
# test (skipped without them); needs root.
cross-tools:
	apt-get install -y --no-install-recommends g++-aarch64-linux-gnu qemu-user

# Model-zoo summary: variant, input size, parameters and FLOPs of every config.
zoo: setup
	$(PY) tools/flops.py $(filter-out $(wildcard configs/*/*/synthetic/*.py),$(POSE_CONFIGS)) $(SEG_CONFIGS)

# Synthetic data -> mim test (untrained) -> mim train -> mim test -> AP/AR and a picture.
demo: setup
	$(PY) tools/pose_demo.py

# The same, bottom-up: DEKR Lite-HRNet-18 on crowded synthetic images, everyone in one pass.
bottomup-demo: setup
	$(PY) tools/pose_demo.py --demo bottom-up

# Segmentation: synthetic street scenes -> mim test/train/test mmseg -> mIoU and a picture.
seg-demo: setup
	$(PY) tools/seg_demo.py

test: setup
	$(PY) -m pytest -q -n auto --dist worksteal

lint: setup
	$(VENV)/bin/ruff check mmpose_litehrnet tools tests
