"""The CPU kernels built for several targets, each against PyTorch's operators.

    python tools/benchmark_targets.py [--targets native haswell x86-64-v2] [--rounds 20]
                                      [--variant litehrnet_18] [--out FILE.md]

Users' CPUs are not this one: ``MMPOSE_LITEHRNET_CPU_TARGET`` builds the kernels for
another ``-march`` target. Each target is built and timed in a process of its own (a
process loads one kernel library). In it, the deploy form with the kernels and the same
deploy form on PyTorch's operators (``switch_to_deploy(..., cpu_kernels=False)``)
alternate, one call each per round, batch 1 at 256x192, random weights. It prints one
table: the medians, the per-round ratio (median and quartiles) and the kernels' relative
L2 error against the training form. A target whose code this CPU cannot run, or that does
not build, is left out, and the tool says so.
"""
import argparse
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
from typing import Dict, List

import torch

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from benchmarking.timing import machine_name, round_ratios  # noqa: E402

from mmpose_litehrnet.kernels.build import cpu_flags  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
#: The CPU flags each target's code needs (x86; other targets are tried as they are).
NEEDS = {'haswell': {'avx2', 'fma'}, 'x86-64-v2': {'sse4_2', 'popcnt'},
         'x86-64-v3': {'avx2', 'fma'}, 'skylake-avx512': {'avx512f'}}

_CHILD = r'''
import copy, json, sys, time
import torch
sys.path.insert(0, 'tools')
from benchmarking.timing import alternate_samples
from mmpose_litehrnet import LiteHRNet, NaiveLiteHRNet
from mmpose_litehrnet.deploy import switch_to_deploy
from mmpose_litehrnet.kernels import cpu_kernels_available, cpu_target
start = time.perf_counter()
assert cpu_kernels_available(), 'the kernels did not build'
build = time.perf_counter() - start
variant, rounds = sys.argv[1], int(sys.argv[2])
torch.manual_seed(0)
model = (NaiveLiteHRNet if 'naive' in variant else LiteHRNet)(variant).eval()
x = torch.randn(1, 3, 256, 192)
kernels = switch_to_deploy(copy.deepcopy(model))
operators = switch_to_deploy(copy.deepcopy(model), cpu_kernels=False)
with torch.no_grad():
    expected, actual = model(x)[0], kernels(x)[0]
    error = ((actual - expected).double().norm() / expected.double().norm()).item()
    times = alternate_samples({'kernels': lambda: kernels(x), 'operators': lambda: operators(x)},
                              rounds, warmup=3)
print(json.dumps(dict(target=cpu_target(), build=build, error=error, **times)))
'''


def measure(target: str, variant: str, rounds: int) -> Dict:
    """One target's numbers, from a process of its own."""
    env = dict(os.environ, MMPOSE_LITEHRNET_CPU_TARGET=target)
    result = subprocess.run([sys.executable, '-c', _CHILD, variant, str(rounds)], cwd=ROOT,
                            env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f'{target}: {result.stderr[-2000:]}')
    return json.loads(result.stdout.strip().splitlines()[-1])


def table(rows: List[Dict], variant: str, rounds: int) -> str:
    """The Markdown table of the targets' rows."""
    lines = [f'{variant}, batch 1, 256x192, {machine_name(torch.device("cpu"))}; {rounds} '
             'alternating '
             'rounds per target, each target built and timed in its own process.', '',
             '| target | kernels (ms) | operators (ms) | kernels / operators per round '
             '| relative L2 error vs training form |',
             '|---|---:|---:|---:|---:|']
    for r in rows:
        lines.append(f"| `{r['target']}` | {statistics.median(r['kernels']) * 1e3:.2f} | "
                     f"{statistics.median(r['operators']) * 1e3:.2f} | "
                     f"{round_ratios(r['kernels'], r['operators'])} | {r['error']:.1e} |")
    return '\n'.join(lines) + '\n'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--targets', nargs='+', default=['native', 'haswell', 'x86-64-v2'])
    parser.add_argument('--variant', default='litehrnet_18')
    parser.add_argument('--rounds', type=int, default=20)
    parser.add_argument('--out', help='also write the table to this Markdown file')
    args = parser.parse_args()
    flags, rows = cpu_flags(), []
    for target in args.targets:
        if not NEEDS.get(target, set()) <= flags:
            print(f'{target}: left out, this CPU cannot run its code', flush=True)
            continue
        try:
            rows.append(measure(target, args.variant, args.rounds))
        except RuntimeError as error:  # an unknown target, a compiler without it, ...
            print(f'{target}: left out, it did not build or run: '
                  f'{str(error).strip().splitlines()[-1]}', flush=True)
            continue
        print(f"{target}: built in {rows[-1]['build']:.0f} s", flush=True)
    text = table(rows, args.variant, args.rounds)
    print(text)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(text)


if __name__ == '__main__':
    main()
