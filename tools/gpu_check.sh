#!/usr/bin/env bash
# The GPU checks in one call, for a machine that has CUDA and PyTorch but not OpenMMLab and
# no internet (see README, "GPU"):
#   bash tools/gpu_check.sh fetch       here: the pure-Python wheels into .whl/ (git-ignored)
#   bash tools/gpu_check.sh run [OUT]   there, from the repository root (carry .whl): the
#                                       CUDA tests, tools/benchmark.py --device cuda for
#                                       Lite-HRNet-18, then tools/profile_kernels.py (fp16
#                                       batch 64, fp32 batch 1); logs and tables under OUT
#   bash tools/gpu_check.sh compile [OUT]  there: the built-in and our deploy form alone,
#                                       the torch.compile columns (fp32, fp16 batch 1)
#                                       first; its own call, since compiling takes minutes
#                                       per model; at its timeout the benchmark writes
#                                       the columns it finished
# Extra benchmark arguments can follow OUT (e.g. --rounds 10). `run` fits in the device
# tool's 10-minute call (timeouts 2.5 + 5.5 + 2 x 0.8 min; 5 min of it on an H200).
set -uo pipefail
cd "$(dirname "$0")/.."
WHEELS=(mmengine==0.10.7 mmcv-lite==2.1.0 mmpose==1.3.2 addict yapf termcolor platformdirs
        json_tricks munkres)
MODELS='ours litehrnet_18,MMPose litehrnet_18,ours litehrnet_18 deploy'
DEPLOYED_CL='ours litehrnet_18 deploy channels-last'
MODELS+=",$DEPLOYED_CL"

step=${1:-}
case "$step" in
fetch)
    rm -rf .whl
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 \
        -d .whl "${WHEELS[@]}" || exit
    ls .whl
    ;;
run|compile)
    out=${2:-${OUT:-/tmp/gpu_check}}
    shift $(($# < 2 ? $# : 2))
    mkdir -p "$out"
    export PYTHONUNBUFFERED=1
    if [ -d .whl ]; then
        python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
            --target /tmp/site .whl/*.whl || exit
        export PYTHONPATH="/tmp/site:$PWD"
    fi
    python3 -c 'import torch; assert torch.cuda.is_available(), "no CUDA device"
print(torch.__version__, torch.cuda.get_device_name())' || exit
    if [ "$step" = compile ]; then
        timeout 570 python3 tools/benchmark.py --device cuda --compile \
            --models "MMPose litehrnet_18,ours litehrnet_18 deploy" \
            --out "$out/benchmark_gpu_compiled" "$@" 2>&1 | tee "$out/benchmark_compiled.log"
        exit
    fi
    # The tests that use the GPU (the CPU ones run in CI): deploy forms in both layouts,
    # fp16, the benchmark's CUDA graph replay, training gradients against the CPU.
    timeout 150 python3 -m pytest -q -p no:cacheprovider -rs -k 'cuda or gpu' \
        tests/test_layers.py tests/test_backbone.py tests/test_deploy.py tests/test_benchmark.py \
        2>&1 | tee "$out/tests.log"
    timeout 330 python3 tools/benchmark.py --device cuda --models "$MODELS" \
        --out "$out/benchmark_gpu" "$@" 2>&1 | tee "$out/benchmark.log"
    # Kernel by kernel: the built-in and both deploy layouts.
    for setting in 'fp16 64' 'fp32 1'; do
        set -- $setting
        timeout 50 python3 tools/profile_kernels.py --device cuda --dtype "$1" --batch "$2" \
            --models "MMPose litehrnet_18,ours litehrnet_18 deploy,$DEPLOYED_CL" \
            > "$out/profile_$1_b$2.txt" 2>&1
        grep -E '^(##|device)' "$out/profile_$1_b$2.txt"
    done
    ;;
*)
    sed -n '2,15p' "$0"
    exit 2
    ;;
esac
