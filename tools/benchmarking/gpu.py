"""The GPU run: what it measures (:func:`measure_gpu`) and its report (:func:`gpu_lines`).

Batch-1 latency and batch-N throughput in fp32 and fp16, in each of
:data:`~.runtimes.GPU_RUNTIMES` (eager, replayed as a CUDA graph, and with ``--compile``
``torch.compile``, measured first: the columns a time limit would cut), then a training
step. A SIGTERM (``timeout``) ends the run with the columns it finished.
"""
import copy
import functools
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from .models import BASE, DEPLOYED, DEPLOYED_CL, SHAPE, TRAINED, TRAINED_CL
from .plots import plot
from .reports import ratio, training_lines
from .runtimes import GPU_RUNTIMES, Runtime, timed_prepare
from .timing import alternate, machine_name, run_steps, training_steps

DTYPES = {'fp32': torch.float32, 'fp16': torch.float16}
Column = Tuple[str, int]  # ('fp16 graph', batch)


@dataclass
class GpuResults:
    """What one GPU run measured, as far as it got."""
    columns: Dict[Column, Dict[str, float]]  # column -> model -> median seconds
    prepared: Dict[str, Dict[str, float]]  # 'fp32 batch 1' -> model -> compile seconds
    checks: List[str]  # outputs against the CPU deploy form
    training: Optional[Dict[str, List[float]]]
    interrupted: Optional[str]  # the line naming what a SIGTERM cut, if one did


def output_checks(models: Dict[str, nn.Module], device: torch.device) -> List[str]:
    """Relative L2 error of each form on ``device`` against the deploy form on the CPU."""
    checks = []
    x = torch.randn(2, 3, *SHAPE, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        reference = models[DEPLOYED](x)
        for key, tag in ((BASE, 'fp32'), (DEPLOYED, 'fp32'), (DEPLOYED, 'fp16'),
                         (DEPLOYED_CL, 'fp32'), (DEPLOYED_CL, 'fp16')):
            if key not in models:
                continue
            model = copy.deepcopy(models[key]).to(device, DTYPES[tag])
            out = model(x.to(device, DTYPES[tag])).float().cpu()
            rel = ((out - reference).norm() / reference.norm()).item()
            checks.append(f'{key} {str(DTYPES[tag])[6:]} on {device.type} {rel:.1e}')
    return checks


def measure_gpu(models: Dict[str, nn.Module], args,
                runtimes: Dict[str, Runtime] = GPU_RUNTIMES,
                train: Callable[..., Dict[str, List[float]]] = training_steps) -> GpuResults:
    device = torch.device(args.device)
    torch.backends.cudnn.benchmark = True
    results = GpuResults({}, {}, output_checks(models, device), None, None)

    def measure(tag: str, batch: int, runtime: Runtime) -> None:
        print(f'{tag} batch {batch} {runtime.name} ...', flush=True)
        x = torch.randn(batch, 3, *SHAPE, device=device, dtype=DTYPES[tag])
        fns = {}
        for key in (k for k in models if runtime.runs(k)):
            model = copy.deepcopy(models[key]).to(device, DTYPES[tag])
            fns[key], prepared = timed_prepare(runtime, model, x, '')
            if runtime.option:  # a compile: minutes
                results.prepared.setdefault(f'{tag} batch {batch}', {})[key] = prepared
                print(f'  {runtime.name} {key} in {prepared:.0f} s', flush=True)
        rounds = args.rounds if batch == 1 else args.throughput_rounds
        column = results.columns[f'{tag} {runtime.name}', batch] = alternate(fns, rounds)
        print({k: round(v * 1e3, 2) for k, v in column.items()}, flush=True)
        if device.type == 'cuda':
            torch.cuda.empty_cache()

    def training() -> None:
        print(f'training steps (fp32, batch {args.batch}) ...', flush=True)
        results.training = train({k: models[k] for k in (TRAINED, TRAINED_CL, BASE)
                                  if k in models}, args.batch, args.train_rounds, device)

    # The runtimes that need an option (compiling) first when asked for, the ones a time
    # limit would cut, batch 1 only unless they take throughput, fp32 first.
    optional = [r for r in runtimes.values() if r.option and getattr(args, r.option)]
    steps = [(f'{tag} batch {batch} {r.name}', functools.partial(measure, tag, batch, r))
             for r in optional for tag in DTYPES
             for batch in ((1, args.batch) if r.throughput else (1, ))]
    steps += [(f'{tag} batch {batch} {r.name}', functools.partial(measure, tag, batch, r))
              for tag in DTYPES for batch in (1, args.batch)
              for r in runtimes.values() if not r.option]
    if TRAINED in models and BASE in models:
        steps.append(('training step', training))
    results.interrupted = run_steps(steps)
    return results


def gpu_lines(results: GpuResults, models: Sequence[str], flops: Dict[str, int], args,
              runtimes: Sequence[str] = tuple(GPU_RUNTIMES)) -> List[str]:
    """The GPU report; writes the plot of the fastest batch-1 column next to ``args.out``."""
    columns = results.columns

    def order(column: Column) -> Tuple[int, int]:
        tag, mode = column[0].split()
        return list(DTYPES).index(tag), list(runtimes).index(mode)

    latency_cols = sorted((c for c in columns if c[1] == 1), key=order)
    through_cols = sorted((c for c in columns if c[1] != 1), key=order)

    def speedups(cols: List[Column], ours: str) -> str:
        return ', '.join(f'{mode} {ratio(columns[mode, b][BASE], columns[mode, b][ours])}x'
                         for mode, b in cols if ours in columns[mode, b])

    lines = [
        f'Input 256x192, eval; batch-1 latency in ms (medians of {args.rounds} alternating '
        f'rounds) and batch-{args.batch} images/s (medians of {args.throughput_rounds}); '
        '"graph" = the forward pass captured once as a CUDA graph and replayed; "compiled" '
        '= torch.compile(mode="reduce-overhead"). Peers are not BN-folded.', '',
        '| model | FLOPs (paper) | ' + ' | '.join(
            [f'{mode} ms' for mode, _ in latency_cols]
            + [f'{mode} img/s' for mode, _ in through_cols]) + ' |',
        '|---|---:|' + '---:|' * (len(latency_cols) + len(through_cols))]
    for key in models:
        cells = [f'{columns[c][key] * 1e3:.2f}' if key in columns[c] else ''
                 for c in latency_cols]
        cells += [f'{args.batch / columns[c][key]:.0f}' if key in columns[c] else ''
                  for c in through_cols]
        lines.append(f'| {key} | {flops[key] / 2**20:.1f}M | ' + ' | '.join(cells) + ' |')
    lines += [
        '', f'Outputs vs `{DEPLOYED}` fp32 on the CPU (relative L2 error): '
        + ', '.join(results.checks) + '.']
    if results.prepared:
        lines += ['', 'torch.compile, first call (compiling), s: ' + '; '.join(
            f'{setting}: ' + ', '.join(f'{k} {s:.0f}' for k, s in seconds.items())
            for setting, seconds in results.prepared.items())]
    if results.training is not None or TRAINED not in models or BASE not in models:
        lines += ['', training_lines(results.training, f'fp32, batch {args.batch}', ms=True)[0]]
    for ours in (k for k in (DEPLOYED, DEPLOYED_CL) if k in models):
        parts = [f'{label}: {speedups(cols, ours)}' for label, cols in (
            ('batch-1 latency', latency_cols), (f'batch-{args.batch} throughput', through_cols))
            if speedups(cols, ours)]
        lines += ['', f'Speed-up of `{ours}` over `{BASE}` (target >= 1.5x), '
                  + ('; '.join(parts) or 'not measured') + '.']
    if results.interrupted:
        lines += ['', results.interrupted]
    if latency_cols:
        plotted = DEPLOYED if DEPLOYED in models else BASE  # the mode it is fastest in
        best = min(latency_cols, key=lambda c: columns[c][plotted])
        plot(args.out + '.png', f'{machine_name(torch.device(args.device))}, {best[0]}',
             flops, columns[best])
    return lines
