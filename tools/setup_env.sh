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
# ONNX Runtime's C++ headers serve one optional path, the CPU kernels' ONNX Runtime
# library (--cpu-kernels ONNX files): the onnxruntime wheel ships none; Debian's
# libonnxruntime-dev does (headers of an older ORT serve a newer runtime: its C API only
# grows). Fetched with apt by name where apt exists; without them the set-up goes on.
ORT_HEADERS_PACKAGE=${ORT_HEADERS_PACKAGE:-libonnxruntime-dev}
# Debian 12 (bookworm) has no such package: then trixie's is asked for from the Debian
# mirror this machine's apt already uses, through a private package list.
ORT_HEADERS_SUITE=${ORT_HEADERS_SUITE:-trixie}

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
for name in ('mmdet', 'mmpose.models', 'mmseg.models', 'mmpose_litehrnet', 'pnnx'):
    importlib.import_module(name)
assert mmcv.__version__ == '2.1.0', mmcv.__version__
EOF
}

ort_headers="$VENV/include/onnxruntime"

# Downloads $ORT_HEADERS_PACKAGE with apt-get into the folder $1: from the configured
# sources, else from $ORT_HEADERS_SUITE on the configured Debian mirror (a private list;
# the system's package lists are left as they are).
download_ort_headers() {
  local work=$1 apt=(apt-get -qq) uri
  (cd "$work" && "${apt[@]}" download "$ORT_HEADERS_PACKAGE") >/dev/null 2>&1 && return 0
  uri=$(apt-get indextargets --format '$(REPO_URI)' 2>/dev/null | grep -m1 '/debian/$') || return 1
  mkdir -p "$work/lists/partial"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${uri%/}/ $ORT_HEADERS_SUITE main" \
    >"$work/sources.list"
  apt+=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$work/lists")
  "${apt[@]}" update >/dev/null 2>&1 &&
    (cd "$work" && "${apt[@]}" download "$ORT_HEADERS_PACKAGE") >/dev/null 2>&1
}

# Once per set-up fingerprint: the headers where they are missing (see above).
install_ort_headers() {
  local tried="$VENV/.ort_headers_tried" work
  [ -f "$ort_headers/onnxruntime_cxx_api.h" ] && return 0
  [ -f "$tried" ] && [ "$(cat "$tried")" = "$fingerprint" ] && return 0
  echo "$fingerprint" >"$tried"
  if [ -n "${ONNXRUNTIME_INCLUDE_DIR:-}" ]; then
    say "ONNX Runtime's headers: ONNXRUNTIME_INCLUDE_DIR=$ONNXRUNTIME_INCLUDE_DIR"
  elif ! command -v apt-get >/dev/null 2>&1; then
    say "skipped ONNX Runtime's C++ headers (no apt-get here): only --cpu-kernels ONNX files need" \
      "them; set ONNXRUNTIME_INCLUDE_DIR to a folder with onnxruntime_cxx_api.h for those"
  else
    say "installing ONNX Runtime's C++ headers ($ORT_HEADERS_PACKAGE, with apt) into $ort_headers"
    work=$(mktemp -d)
    if download_ort_headers "$work" && dpkg-deb -x "$work"/"$ORT_HEADERS_PACKAGE"_*.deb "$work/root" &&
      [ -f "$work/root/usr/include/onnxruntime/onnxruntime_cxx_api.h" ]; then
      mkdir -p "$ort_headers"
      cp -r "$work"/root/usr/include/onnxruntime/. "$ort_headers"/
    else
      say "skipped ONNX Runtime's C++ headers (apt could not fetch $ORT_HEADERS_PACKAGE): only" \
        "--cpu-kernels ONNX files need them; set ONNXRUNTIME_INCLUDE_DIR to a folder with" \
        "onnxruntime_cxx_api.h for those"
    fi
    rm -rf "$work"
  fi
}

# Under CI (CI=true), as root with apt: Debian's aarch64 cross compiler and qemu-user, for
# the kernels' check on ARM under emulation (tests/test_cpu_targets.py skips it without
# them). Elsewhere the set-up leaves the system's packages alone: make cross-tools.
install_cross_tools() {
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -qq -y --no-install-recommends)
  local tools=(g++-aarch64-linux-gnu qemu-user)
  [ "${CI:-}" = true ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 || return 0
  command -v aarch64-linux-gnu-g++ >/dev/null 2>&1 && command -v qemu-aarch64 >/dev/null 2>&1 &&
    return 0
  say "CI: installing ${tools[*]} (apt) for the kernels' check on aarch64"
  "${apt[@]}" install "${tools[@]}" >/dev/null 2>&1 ||
    { apt-get -qq update >/dev/null 2>&1 && "${apt[@]}" install "${tools[@]}" >/dev/null 2>&1; } ||
    say "could not install ${tools[*]}: the aarch64 check is skipped"
}

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$fingerprint" ] && check_stack >/dev/null 2>&1; then
  install_ort_headers
  install_cross_tools
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

say "installing mmpose $MMPOSE_VERSION (without chumpy), pnnx and this package"
"${PIP[@]}" install --no-deps "mmpose==$MMPOSE_VERSION"
# pnnx requires only torch, unpinned: pip finds no torch that meets both that and the
# constraint on the torch kept above (a local version such as 2.14.1+cu130).
"${PIP[@]}" install --no-deps pnnx
"${PIP[@]}" install --no-deps --no-build-isolation -e "$ROOT"

install_ort_headers
install_cross_tools

say "checking the stack"
check_stack || die "the stack does not import (see the traceback above)" "remove $VENV and run 'make setup' again"
echo "$fingerprint" >"$stamp"
"$PY" - <<'EOF'
import mmcv, mmdet, mmengine, mmpose, mmseg, torch
print(f'[setup] ok: torch {torch.__version__}, mmengine {mmengine.__version__}, '
      f'mmcv {mmcv.__version__} (ops), mmdet {mmdet.__version__}, '
      f'mmpose {mmpose.__version__}, mmseg {mmseg.__version__}')
EOF
