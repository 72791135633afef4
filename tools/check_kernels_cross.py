"""The CPU kernels built for another architecture and checked there under emulation.

    python tools/check_kernels_cross.py [--arch aarch64] [--variants litehrnet_18 ...]

ARM boards and servers are where a light pose model often runs, and this machine cannot
run their code. The tool records every kernel call of the deploy forms' passes here
(inputs, operands, int arguments and the native kernels' outputs), cross-compiles the
kernels' standalone host (``csrc/lite_hrnet_standalone.cpp``: no PyTorch) for the
architecture, runs the calls under ``qemu-user`` and compares each output with the
native one (within 1e-5 of its largest magnitude: the same arithmetic, with other vector
widths and fused multiply-adds). ``--arch native`` runs the same host natively.

Needs Debian's ``g++-aarch64-linux-gnu`` and ``qemu-user`` (``make cross-tools``).
"""
import argparse
import contextlib
import os
import os.path as osp
import shutil
import struct
import subprocess
import sys
import tempfile
from typing import Dict, Iterator, List, Sequence, Tuple

import numpy as np
import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
#: Per architecture: the C++ compiler, its target flags, and the command prefix that runs
#: its programs here.
ARCHES = {
    'aarch64': ('aarch64-linux-gnu-g++', ['-march=armv8-a', '-static'], ['qemu-aarch64']),
    'native': ('c++', ['-march=native'], []),
}

Call = Tuple[str, List[int], List[torch.Tensor], torch.Tensor, torch.Tensor, List[torch.Tensor]]


@contextlib.contextmanager
def recorded_calls() -> Iterator[List[Call]]:
    """Records every kernel call the deploy form makes in its scope: (operator, int
    arguments, branches, operands, layout, outputs)."""
    from mmpose_litehrnet.kernels import KERNEL_OPS, adapters
    calls: List[Call] = []
    kernel, call_list = adapters.kernel, adapters.call_list_kernel

    def record(name: str, args: Sequence, out) -> None:
        op = KERNEL_OPS[name]
        bound = dict(zip(op.arguments, args))
        xs = list(bound['xs']) if op.returns_list else [bound['x']]
        outs = list(out) if op.returns_list else [out]
        calls.append((name, [int(bound[a]) for a in op.attributes], [x.clone() for x in xs],
                      bound['operands'], bound['layout'], [o.clone() for o in outs]))

    def recording_kernel(name: str):
        def call(*args):
            out = kernel(name)(*args)
            record(name, args, out)
            return out
        return call

    def recording_list(name: str, xs, *operands):
        out = call_list(name, xs, *operands)
        record(name, (xs, *operands), out)
        return out

    adapters.kernel, adapters.call_list_kernel = recording_kernel, recording_list
    try:
        yield calls
    finally:
        adapters.kernel, adapters.call_list_kernel = kernel, call_list


def _nhwc(x: torch.Tensor) -> bytes:
    return x.detach().permute(0, 2, 3, 1).contiguous().numpy().astype('<f4').tobytes()


def write_calls(calls: Sequence[Call], path: str) -> None:
    """The calls in the standalone host's CASES format (see its source)."""
    def ints(values: Sequence[int]) -> bytes:
        return struct.pack(f'<{len(values)}q', *values)

    with open(path, 'wb') as f:
        for name, attributes, xs, operands, layout, _ in calls:
            f.write(ints([len(name)]) + name.encode())
            f.write(ints([len(attributes), *attributes]) + ints([len(xs)]))
            for x in xs:
                f.write(ints(list(x.shape)) + _nhwc(x))
            f.write(ints([operands.numel()]) + operands.numpy().astype('<f4').tobytes())
            f.write(ints([layout.numel(), *layout.tolist()]))


def read_outputs(path: str, count: int) -> List[List[np.ndarray]]:
    """The outputs of ``count`` calls the host wrote, each (N, H, W, C)."""
    data, offset, calls = open(path, 'rb').read(), 0, []
    for _ in range(count):
        (n, ), offset = struct.unpack_from('<q', data, offset), offset + 8
        outs = []
        for _ in range(n):
            shape = struct.unpack_from('<4q', data, offset)
            offset += 32
            size = int(np.prod(shape))
            values = np.frombuffer(data, '<f4', size, offset)
            offset += 4 * size
            outs.append(values.reshape(shape[0], shape[2], shape[3], shape[1]))
        calls.append(outs)
    if offset != len(data):
        raise RuntimeError(f'{path}: {len(data) - offset} bytes past the last call')
    return calls


def build_host(arch: str, out: str) -> str:
    """The standalone host compiled for ``arch`` at ``out``."""
    from mmpose_litehrnet.kernels import LANES
    from mmpose_litehrnet.kernels.build import CSRC
    cxx, flags, _ = ARCHES[arch]
    command = [os.environ.get('CXX', cxx) if arch == 'native' else cxx, '-std=c++17', '-O3',
               *flags, '-ffp-contract=fast', f'-DMMPOSE_LITEHRNET_LANES={LANES}',
               osp.join(CSRC, 'lite_hrnet_standalone.cpp'), '-o', out]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(' '.join(command) + '\n' + result.stderr[-3000:])
    return out


def missing_tools(arch: str) -> List[str]:
    """The programs ``arch`` needs that are not on the PATH."""
    cxx, _, runner = ARCHES[arch]
    return [tool for tool in [cxx, *runner[:1]] if shutil.which(tool) is None]


def check(arch: str, variants: Sequence[str], size: Tuple[int, int] = (128, 96),
          workdir: str = '') -> Dict[str, Tuple[int, float]]:
    """Per variant: the number of kernel calls checked and the largest difference between
    an output under ``arch`` and the native one, relative to that output's largest
    magnitude."""
    from mmpose_litehrnet import LiteHRNet, NaiveLiteHRNet
    from mmpose_litehrnet.deploy import switch_to_deploy
    workdir = workdir or tempfile.mkdtemp()
    host = build_host(arch, osp.join(workdir, f'lite_hrnet_standalone_{arch}'))
    results = {}
    for variant in variants:
        torch.manual_seed(0)
        model = (NaiveLiteHRNet if 'naive' in variant else LiteHRNet)(variant)
        model = switch_to_deploy(model.eval())
        x = torch.randn(1, 3, *size)
        with recorded_calls() as calls, torch.no_grad():
            model(x)
        if not calls:
            raise RuntimeError(f'{variant}: the deploy form made no kernel call')
        cases, outputs = osp.join(workdir, 'cases.bin'), osp.join(workdir, 'outputs.bin')
        write_calls(calls, cases)
        result = subprocess.run([*ARCHES[arch][2], host, cases, outputs], capture_output=True,
                                text=True)
        if result.returncode != 0:
            raise RuntimeError(f'{variant} under {arch}: {result.stderr[-2000:]}')
        worst = 0.0
        for (name, *_, expected), actual in zip(calls, read_outputs(outputs, len(calls))):
            if len(actual) != len(expected):
                raise RuntimeError(f'{name}: {len(actual)} outputs, expected {len(expected)}')
            for a, e in zip(actual, expected):
                e = e.permute(0, 2, 3, 1).numpy()
                if a.shape != e.shape:
                    raise RuntimeError(f'{name}: an output of shape {a.shape}, expected {e.shape}')
                worst = max(worst, float(np.abs(a - e).max() / max(np.abs(e).max(), 1e-30)))
        results[variant] = (len(calls), worst)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--arch', default='aarch64', choices=sorted(ARCHES))
    parser.add_argument('--variants', nargs='+', default=['litehrnet_18', 'naive_litehrnet_18'])
    parser.add_argument('--tolerance', type=float, default=1e-5)
    args = parser.parse_args()
    missing = missing_tools(args.arch)
    if missing:
        print(f'missing: {", ".join(missing)} (make cross-tools installs them)')
        return 2
    failed = False
    for variant, (calls, worst) in check(args.arch, args.variants).items():
        ok = worst <= args.tolerance
        failed |= not ok
        print(f'{variant}: {calls} kernel calls under {args.arch}, largest difference from '
              f'the native kernels {worst:.1e} of the output {"ok" if ok else "TOO LARGE"}')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
