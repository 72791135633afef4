"""Where a forward pass spends its time, kernel by kernel (torch.profiler), for ours and
MMPose's built-in Lite-HRNet-18 with the same weights: the question behind the speed
targets that the benchmark's medians cannot answer.

    python tools/profile_kernels.py [--device cuda] [--batch 64] [--dtype fp16] [--top 20]
                                    [--compile] [--models A,B]

Prints, per model, the device time per forward pass (the operators' self device time,
summed) and the top operators by self device time (CPU time on the CPU). With
``--compile`` (CPU, fp32) each model is profiled as ``compile_for_cpu_inference`` compiles
it, with Inductor's kernel profile on: the generated kernels and the convolution calls
are listed by name (a compile per model, minutes).
"""
import argparse
import os.path as osp
import sys
from typing import Callable, Dict

import torch
import torch.nn as nn
from torch.autograd import DeviceType

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from benchmarking import models as benchmark  # noqa: E402
from benchmarking.profiling import kernel_profiled_compile, profiled_events  # noqa: E402
from benchmarking.timing import machine_name  # noqa: E402

DTYPES = {'fp32': torch.float32, 'fp16': torch.float16, 'bf16': torch.bfloat16}


def profile_table(model: Callable, x: torch.Tensor, runs: int, top: int) -> str:
    """The profiler's table of ``runs`` forward passes (after one warm-up), sorted by
    self device time, with the per-pass totals first."""
    cuda = x.is_cuda
    events = profiled_events(model, x, runs)
    key = 'self_device_time_total' if cuda else 'self_cpu_time_total'
    # Kernels are listed beside the operators that launched them, whose self device time
    # already holds them: sum the operators only.
    total = sum(getattr(e, key) for e in events if e.device_type == DeviceType.CPU) / runs / 1e3
    return (f'{"device" if cuda else "CPU"} operator time per pass {total:.2f} ms\n'
            + events.table(sort_by=key, row_limit=top, max_name_column_width=60))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--dtype', choices=sorted(DTYPES), default='fp32')
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--top', type=int, default=20)
    parser.add_argument('--models', default=f'{benchmark.BASE},{benchmark.DEPLOYED}',
                        help='comma-separated benchmark model names')
    parser.add_argument('--compile', action='store_true',
                        help='profile compile_for_cpu_inference (CPU, fp32)')
    args = parser.parse_args()
    device = torch.device(args.device)
    if args.compile and (device.type != 'cpu' or args.dtype != 'fp32'):
        raise ValueError('profile_kernels: --compile profiles the CPU inference compile: '
                         f'use --device cpu --dtype fp32, got {args.device} {args.dtype}')
    benchmark.import_mmpose_models()
    torch.manual_seed(0)
    models: Dict[str, nn.Module] = benchmark.build_device_models(device)
    x = torch.randn(args.batch, 3, *benchmark.SHAPE, device=device, dtype=DTYPES[args.dtype])
    for name in args.models.split(','):
        model = models[name].to(device, DTYPES[args.dtype])
        if args.compile:
            model = kernel_profiled_compile(model, x)
            name += ' + torch.compile'
        print(f'## {name}, {args.dtype}, batch {args.batch}, {machine_name(device)}')
        print(profile_table(model, x, args.runs, args.top), flush=True)


if __name__ == '__main__':
    main()
