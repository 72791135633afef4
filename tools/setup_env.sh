#!/usr/bin/env bash
# Creates (or refreshes) the virtual environment with the known-good OpenMMLab stack.
#
#   VENV=.venv PYTHON=python3.11 bash tools/setup_env.sh
#
# Idempotent: when the pinned inputs are unchanged and the stack still imports, it
# returns in seconds. Honours pip's own PIP_FIND_LINKS, so a prebuilt mmcv wheel is
# used when one is offered; otherwise mmcv 2.1.0 is built from its sdist.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${VENV:-$ROOT/.venv}
PYTHON=${PYTHON:-python3.11}
TORCH_PIN=${TORCH_PIN:-torch==2.14.1}
TORCHVISION_PIN=${TORCHVISION_PIN:-torchvision==0.29.1}
MMCV_VERSION=2.1.0
MMPOSE_VERSION=1.3.2
# ONNX Runtime's C++ headers, for the CPU kernels' ONNX Runtime library: the onnxruntime
# wheel ships none; Debian's libonnxruntime-dev does (headers of an older ORT serve a
# newer runtime: its C API only grows; they are the same on every architecture).
ORT_HEADERS_DEB=http://deb.debian.org/debian/pool/main/o/onnxruntime/libonnxruntime-dev_1.21.0+dfsg-1_amd64.deb
ORT_HEADERS_SHA256=14f7d959d5deacbcf1504830d4189f91fc67382b399ed9ae9d3aa9c4050ced08

say() { printf '[setup] %s\n' "$*"; }
die() {
  printf '[setup] ERROR: %s\n' "$1" >&2
  [ $# -gt 1 ] && printf '[setup] what to do: %s\n' "$2" >&2
  exit 1
}

command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
"$PYTHON" -c 'import sys; assert sys.version_info >= (3, 9)' 2>/dev/null ||
  die "no Python >= 3.9 found as '$PYTHON'" "set PYTHON=/path/to/python3.11"

if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV"
  "$PYTHON" -m venv "$VENV" || die "could not create $VENV" "install the venv module (apt-get install python3-venv)"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check)

stamp="$VENV/.mmpose_litehrnet_setup"
fingerprint=$(cat "$ROOT/requirements.txt" "$ROOT/tools/setup_env.sh" "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)

check_stack() {
  "$PY" - <<'EOF'
import importlib
import mmcv
import mmcv.ops  # compiled ops: fails when the wheel was built for another torch
for name in ('mmdet', 'mmpose.models', 'mmseg.models', 'mmpose_litehrnet'):
    importlib.import_module(name)
assert mmcv.__version__ == '2.1.0', mmcv.__version__
EOF
}

ort_headers="$VENV/include/onnxruntime"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$fingerprint" ] && check_stack >/dev/null 2>&1 &&
  [ -f "$ort_headers/onnxruntime_cxx_api.h" ]; then
  say "environment $VENV is up to date"
  exit 0
fi

# --- torch / torchvision: keep a working pair, else install the pinned one -----------
if "$PY" -c 'import torch, torchvision; torchvision.ops.nms' >/dev/null 2>&1; then
  say "keeping torch $("$PY" -c 'import torch; print(torch.__version__)') already in $VENV"
else
  say "installing $TORCH_PIN $TORCHVISION_PIN (large download unless pip finds them locally)"
  "${PIP[@]}" install "$TORCH_PIN" "$TORCHVISION_PIN" ||
    die "torch/torchvision did not install" "install a matching torch + torchvision pair into $VENV first; it will be kept"
fi

# Constrain later installs to the torch we have so that nothing replaces it.
constraints="$VENV/.torch-constraints.txt"
"$PY" - >"$constraints" <<'EOF'
import torch, torchvision
print(f'torch=={torch.__version__}')
print(f'torchvision=={torchvision.__version__}')
EOF

say "installing the pinned requirements"
"${PIP[@]}" install -c "$constraints" -r "$ROOT/requirements.txt" ||
  die "pip could not install requirements.txt" "read pip's message above; the registries must be reachable"

# --- mmcv with compiled ops ---------------------------------------------------------
mmcv_ok() { "$PY" -c 'import mmcv, mmcv.ops; assert mmcv.__version__ == "2.1.0"' >/dev/null 2>&1; }

build_mmcv_from_sdist() {
  # mmcv 2.1.0's setup.py hard-codes -std=c++17; torch 2.14's headers need C++20
  # (open-mmlab/mmcv#3341). Build the unpacked sdist with the standard raised.
  local work
  work=$(mktemp -d)
  say "building mmcv $MMCV_VERSION from source with ops (about 30-40 minutes on 2 cores)"
  "${PIP[@]}" download --no-deps --no-binary :all: --no-cache-dir -d "$work" "mmcv==$MMCV_VERSION" ||
    die "could not download the mmcv $MMCV_VERSION sdist"
  tar -xzf "$work"/mmcv-"$MMCV_VERSION".tar.gz -C "$work"
  sed -i 's/-std=c++17/-std=c++20/g' "$work/mmcv-$MMCV_VERSION/setup.py"
  MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} \
    "${PIP[@]}" install --no-build-isolation --no-cache-dir -c "$constraints" "$work/mmcv-$MMCV_VERSION" ||
    die "the mmcv build failed" "check that gcc/g++ >= 10 and the Python headers are installed"
  rm -rf "$work"
}

if ! mmcv_ok; then
  say "installing mmcv $MMCV_VERSION (a wheel from PIP_FIND_LINKS if one is offered)"
  if "${PIP[@]}" install --no-build-isolation --only-binary mmcv -c "$constraints" "mmcv==$MMCV_VERSION" && mmcv_ok; then
    say "mmcv wheel works"
  else
    # No wheel, or a wheel (possibly from pip's cache) built for another torch.
    "${PIP[@]}" uninstall -y mmcv >/dev/null 2>&1 || true
    build_mmcv_from_sdist
  fi
fi
mmcv_ok || die "mmcv.ops does not import" "remove $VENV and run 'make setup' again; a cached mmcv built for another torch is the usual cause"

say "installing mmpose $MMPOSE_VERSION (without chumpy) and this package"
"${PIP[@]}" install --no-deps "mmpose==$MMPOSE_VERSION"
"${PIP[@]}" install --no-deps --no-build-isolation -e "$ROOT"

if [ ! -f "$ort_headers/onnxruntime_cxx_api.h" ]; then
  say "installing ONNX Runtime's C++ headers (Debian's libonnxruntime-dev 1.21) into $ort_headers"
  work=$(mktemp -d)
  curl -fsSL --retry 3 -o "$work/dev.deb" "$ORT_HEADERS_DEB" ||
    die "could not download $ORT_HEADERS_DEB" "set ONNXRUNTIME_INCLUDE_DIR to a folder with ONNX Runtime's headers instead"
  echo "$ORT_HEADERS_SHA256  $work/dev.deb" | sha256sum -c --quiet || die "$ORT_HEADERS_DEB: wrong checksum"
  (cd "$work" && ar x dev.deb && tar -xf data.tar.*) || die "could not unpack $ORT_HEADERS_DEB"
  mkdir -p "$ort_headers"
  cp -r "$work"/usr/include/onnxruntime/. "$ort_headers"/
  rm -rf "$work"
fi

say "checking the stack"
check_stack || die "the stack does not import (see the traceback above)" "remove $VENV and run 'make setup' again"
echo "$fingerprint" >"$stamp"
"$PY" - <<'EOF'
import mmcv, mmdet, mmengine, mmpose, mmseg, torch
print(f'[setup] ok: torch {torch.__version__}, mmengine {mmengine.__version__}, '
      f'mmcv {mmcv.__version__} (ops), mmdet {mmdet.__version__}, '
      f'mmpose {mmpose.__version__}, mmseg {mmseg.__version__}')
EOF
