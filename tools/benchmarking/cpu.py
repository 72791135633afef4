"""The CPU run: what it measures (:func:`measure_cpu`) and its report (:func:`cpu_lines`).

Every model in every enabled runtime that it runs in (:data:`~.runtimes.CPU_RUNTIMES`)
is one row: batch-1 latency (all rows alternating in one loop), batch-N throughput
(the runtimes that take it), then a training step of ours against the built-in and the
convolution share of the profiled operator time.
"""
import tempfile
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from .models import BASE, DEPLOYED, DEPLOYED_AOT, MOBILENET, RTMPOSE_T, SHAPE, TRAINED, TRAINED_CL
from .plots import plot, plot_accuracy
from .profiling import compiled_conv_share, conv_share
from .reports import ratio, training_lines
from .runtimes import CPU_RUNTIMES, Runtime, forward_fn, split_runtime, timed_prepare
from .timing import (
    alternate,
    alternate_samples,
    machine_name,
    medians,
    round_ratios,
    training_steps,
)


@dataclass
class CpuResults:
    """What one CPU run measured; seconds throughout, keyed by row name."""
    latency: Dict[str, List[float]]  # batch 1, one sample per round
    throughput: Dict[str, float]  # median seconds per batch
    prepared: Dict[str, float]  # tracing, compiling or exporting a row, batch 1
    training: Optional[Dict[str, List[float]]]  # one sample per step
    share: Dict[str, Tuple[float, float]]  # convolution share and seconds, batch 1
    share_batch: Dict[str, float]  # convolution share at the throughput batch
    not_measured: List[str] = field(default_factory=list)  # 'row (why)'


def enabled(runtimes: Sequence[Runtime], args) -> List[Runtime]:
    """The runtimes that need no option, and those whose option ``args`` sets."""
    return [r for r in runtimes if not r.option or getattr(args, r.option)]


def measure_cpu(models: Dict[str, nn.Module], args,
                runtimes: Sequence[Runtime] = CPU_RUNTIMES) -> CpuResults:
    x1 = torch.randn(1, 3, *SHAPE)
    xb = torch.randn(args.batch, 3, *SHAPE)
    if DEPLOYED_AOT in models:
        print(f'{DEPLOYED_AOT}: compiling its backbone, or loading it from the cache ...',
              flush=True)
        forward_fn(models[DEPLOYED_AOT], x1)()
    latency_fns, through_fns, prepared, not_measured = {}, {}, {}, []
    workdir = tempfile.mkdtemp(prefix='lhr_export_')
    for runtime in enabled(runtimes, args):
        for name in (k for k in models if runtime.runs(k)):
            row = runtime.row(name)
            if runtime.name != 'eager':
                print(f'preparing {row} ...', flush=True)
            try:
                latency_fns[row], prepared[row] = timed_prepare(runtime, models[name], x1,
                                                                workdir)
                if runtime.throughput:
                    through_fns[row] = runtime.prepare(models[name], xb, workdir)
            except Exception as error:  # report it, and go on with the other rows
                print(f'{row}: not measured ({type(error).__name__}: {error})')
                not_measured.append(f'{row} ({type(error).__name__}: {error})')
                latency_fns.pop(row, None)
                prepared.pop(row, None)
    print(f'batch-1 latency, {args.rounds} alternating rounds ...', flush=True)
    latency = alternate_samples(latency_fns, args.rounds)
    print(f'batch-{args.batch} throughput ...', flush=True)
    throughput = alternate(through_fns, args.throughput_rounds, warmup=1)
    training = None
    if TRAINED in models and BASE in models:
        print(f'training steps (batch {args.batch}, forward + backward + Adam) ...', flush=True)
        training = training_steps({k: models[k] for k in (TRAINED, TRAINED_CL, BASE)
                                   if k in models}, args.batch, args.train_rounds,
                                  torch.device('cpu'))
    share = {k: conv_share(models[k], x1)
             for k in (DEPLOYED, f'{DEPLOYED} NCHW', TRAINED, BASE) if k in models}
    # One pass at the throughput batch: whether the rest is per call or per pixel.
    share_batch = {k: conv_share(models[k], xb, runs=1)[0] for k in (DEPLOYED, BASE)
                   if k in models}
    if args.compile and DEPLOYED in models:
        print('compiling with the kernel profile, for the convolution share ...', flush=True)
        share[f'{DEPLOYED} + torch.compile'] = compiled_conv_share(models[DEPLOYED], x1)
    return CpuResults(latency, throughput, prepared, training, share, share_batch,
                      not_measured)


def cpu_targets(latency: Dict[str, float], train_ratio: Optional[str],
                share: Dict[str, Tuple[float, float]]) -> str:
    """Issue 5's and 25's CPU targets, each one the run measured (a ``--models`` subset
    may lack the models a target compares)."""
    parts = []
    if DEPLOYED in latency:
        parts.append(f'deploy latency <= 0.60x built-in: '
                     f'{ratio(latency[DEPLOYED], latency[BASE])}x')
    if train_ratio is not None:
        parts.append(f'training step <= 1.0x: {train_ratio}x')
    if DEPLOYED in share:
        compiled = share.get(f'{DEPLOYED} + torch.compile')
        parts.append(f'conv share >= 70%: {share[DEPLOYED][0]:.0%}'
                     + (f' (compiled {compiled[0]:.0%})' if compiled else ''))
    for peer, target in ((MOBILENET, f'beat {MOBILENET} ('),
                         (RTMPOSE_T, f'at or below {RTMPOSE_T} (issue 25; ')):
        versus = [f'{runtime.suffix.strip() or "eager"} '
                  f'{latency[runtime.row(DEPLOYED)] * 1e3:.1f} vs '
                  f'{latency[runtime.row(peer)] * 1e3:.1f}'
                  for runtime in CPU_RUNTIMES
                  if runtime.row(DEPLOYED) in latency and runtime.row(peer) in latency]
        if versus:
            parts.append(f'{target}ms, ours vs it, same runtime): ' + '; '.join(versus))
    best = best_against_best(latency)
    if best:
        parts.append(best)
    if DEPLOYED_AOT in latency and RTMPOSE_T in latency:
        parts.append(f'as MMPose runs each (ours with SwitchToDeployHook(aot=True), '
                     f'{RTMPOSE_T} eager): {latency[DEPLOYED_AOT] * 1e3:.1f} vs '
                     f'{latency[RTMPOSE_T] * 1e3:.1f} ms')
    return 'Targets (issue 5): ' + ('; '.join(parts) or 'none measured in this subset') + '.'


def best_against_best(latency: Dict[str, float]) -> str:
    """Our Lite-HRNet-18 deploy form's fastest row (any runtime, with or without the
    kernels) against RTMPose-t's fastest, batch-1 latency; '' if either is missing."""
    def fastest(model: str) -> Optional[Tuple[str, float]]:
        rows = [(row, t) for row, t in latency.items()
                if split_runtime(row)[0].startswith(model)]
        return min(rows, key=lambda item: item[1]) if rows else None

    ours, peer = fastest(DEPLOYED), fastest(RTMPOSE_T)
    if ours is None or peer is None:
        return ''
    return (f'best against best (batch 1): {ours[0]} {ours[1] * 1e3:.1f} ms vs {peer[0]} '
            f'{peer[1] * 1e3:.1f} ms, {ours[1] / peer[1]:.2f}x')


def noise_line(samples: Dict[str, List[float]]) -> str:
    """The per-round ratios of the target comparisons, each runtime's ours against the
    same runtime's peer."""
    pairs = [(DEPLOYED, BASE), (DEPLOYED_AOT, RTMPOSE_T)]
    pairs += [(runtime.row(DEPLOYED), runtime.row(peer)) for peer in (MOBILENET, RTMPOSE_T)
              for runtime in CPU_RUNTIMES]
    return ('Noise: batch-1 latency ratios round by round, median (quartiles): '
            + '; '.join(f'{a} / {b} {round_ratios(samples[a], samples[b])}' for a, b in pairs
                        if a in samples and b in samples) + '.')


def cpu_lines(results: CpuResults, flops: Dict[str, int], args) -> List[str]:
    """The CPU report; writes the plots next to ``args.out``."""
    latency, through = medians(results.latency), results.throughput
    runtimes = [r.name for r in enabled(CPU_RUNTIMES, args)]
    lines = [
        f'Input 256x192, fp32, eval; medians of {args.rounds} alternating rounds (latency) '
        f'and {args.throughput_rounds} (throughput); ratios to `{BASE}` (same weights).'
        + (' "+ torch.compile": `compile_for_cpu_inference` (frozen weights, C++ wrapper), '
           'batch 1 only.' if 'torch.compile' in runtimes else '')
        + (' "AOTInductor": `compile_aot_package` (a .pt2 package, frozen weights; ours with '
           'its CPU kernels, `(operators)` without), loaded with `load_aot_package`, batch 1 '
           'only.' if 'AOTInductor' in runtimes else '')
        + (' "ONNX Runtime": `export_onnx` (ours with its CPU kernels as custom nodes, '
           '`(operators)` without), run by a session with `add_ort_kernels`.'
           if 'ONNX Runtime' in runtimes else '')
        + (' "OpenVINO": `convert_openvino` (ours with its CPU kernels as operations of our '
           'extension, `(operators)` with ONNX\'s operators, channel shuffles folded) on '
           "OpenVINO's CPU plugin, `INFERENCE_PRECISION_HINT` f32; \"OpenVINO bf16\": bf16, "
           'its default on CPUs with AVX-512 BF16 or AMX; "OpenVINO int8": NNCF\'s '
           'post-training quantization (`quantize_openvino`, the `lite-hrnet` recipe), '
           'calibrated on the input and noisy copies: its latency, not its accuracy (these '
           'two on ONNX\'s operators for every model).'
           if 'OpenVINO' in runtimes else '')
        + (' "ncnn": `export_ncnn` (pnnx), float32, one extraction per image.'
           if 'ncnn' in runtimes else '')
        + ' "+ torch.jit.trace": `trace_torchscript` (ours with its CPU kernels, '
          '`(operators)` without).',
        '', '| model | FLOPs (paper) | batch-1 latency (ms) | ratio | '
        f'batch-{args.batch} images/s | ratio |', '|---|---:|---:|---:|---:|---:|']
    for key in latency:
        fl = f'{flops[key] / 2**20:.1f}M' if key in flops else ''
        batch = f'{args.batch / through[key]:.1f} | {ratio(through[BASE], through[key])}' \
            if key in through else ' | '
        lines.append(f'| {key} | {fl} | {latency[key] * 1e3:.1f} | '
                     f'{ratio(latency[key], latency[BASE])} | {batch} |')
    train, train_ratio = training_lines(results.training, f'batch {args.batch}', ms=False)
    share = results.share
    lines += ['', train, '',
              'Convolutions: share of the profiled operator time, and batch-1 latency minus '
              'their profiled time (the rest: other operators and Python; compiled: a second '
              "compile with Inductor's kernel profile, which records the graph's calls): "
              + ', '.join(f'{k} {v:.0%} ({(latency[k] - conv) * 1e3:.1f} ms)'
                          for k, (v, conv) in share.items())
              + f'; at batch {args.batch} (one pass): '
              + ', '.join(f'{k} {v:.0%}' for k, v in results.share_batch.items()), '',
              cpu_targets(latency, train_ratio, share), '', noise_line(results.latency)]
    slow = {k: s for k, s in results.prepared.items() if s >= 1.0}
    if slow:
        lines += ['', 'Preparing a row (tracing, compiling, exporting and checking it at '
                  'batch 1), s: ' + ', '.join(f'{k} {s:.0f}' for k, s in slow.items()) + '.']
    if results.not_measured:
        lines += ['', 'Not measured: ' + '; '.join(results.not_measured) + '.']
    machine = machine_name(torch.device('cpu'))
    plot(args.out + '.png', machine, flops, latency)
    lines += ['', *plot_accuracy(args.out + '_ap.png', machine, latency)]
    return lines
