"""Latency, throughput and training-step time of Lite-HRNet against its peers, in one run.

    python tools/benchmark.py [--rounds 20] [--out docs/benchmark] [--compile]

All models are full top-down pose models (backbone + ``HeatmapHead``, 17 keypoints) at
256x192, fp32, eval mode, on this machine's CPU. Models are run alternately, one call each
per round, after a warm-up, and medians are reported with ratios to MMPose's built-in
Lite-HRNet-18 (same weights as ours). Writes ``OUT.md`` (table) and ``OUT.png``
(latency vs paper-convention FLOPs), and prints the table.
"""
import argparse
import os
import os.path as osp
import platform
import statistics
import time
from typing import Callable, Dict, List

import torch
import torch.nn as nn

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SHAPE = (256, 192)


def _pose_model(backbone: dict, in_channels: int, deconv: bool = False) -> nn.Module:
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS
    init_default_scope('mmpose')
    head = dict(type='HeatmapHead', in_channels=in_channels, out_channels=17)
    if not deconv:
        head['deconv_out_channels'] = None
    return MODELS.build(dict(type='TopdownPoseEstimator', backbone=backbone, head=head))


class _Tensor(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x, None, mode='tensor')


def build_models(with_compile: bool) -> Dict[str, nn.Module]:
    import mmpose_litehrnet  # noqa: F401
    from mmpose_litehrnet.models.backbones import variant_extra
    models: Dict[str, nn.Module] = {}
    for name, width in (('litehrnet_18', 40), ('litehrnet_30', 40),
                        ('naive_litehrnet_18', 30)):
        ours = _pose_model(dict(type='LiteHRNet', extra=name), width).eval()
        models[f'ours {name}'] = ours
        if name != 'naive_litehrnet_18':
            builtin = _pose_model(dict(type='MMPoseLiteHRNet', extra=variant_extra(name)),
                                  width).eval()
            builtin.load_state_dict(ours.state_dict())
            models[f'MMPose {name}'] = builtin
        deployed = _pose_model(dict(type='LiteHRNet', extra=name), width).eval()
        deployed.load_state_dict(ours.state_dict())
        deployed.switch_to_deploy()
        models[f'ours {name} deploy'] = deployed
        if with_compile:
            models[f'ours {name} deploy+compile'] = torch.compile(_Tensor(deployed))
    models['MobileNetV2 SimpleBaseline'] = _pose_model(
        dict(type='MobileNetV2', widen_factor=1., out_indices=(7, )), 1280, deconv=True)
    models['ShuffleNetV2 SimpleBaseline'] = _pose_model(
        dict(type='ShuffleNetV2', widen_factor=1.0), 1024, deconv=True)
    models['HRNet-W16'] = _pose_model(dict(type='HRNet', extra=dict(
        stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK', num_blocks=(4, ),
                    num_channels=(64, )),
        stage2=dict(num_modules=1, num_branches=2, block='BASIC', num_blocks=(4, 4),
                    num_channels=(16, 32)),
        stage3=dict(num_modules=4, num_branches=3, block='BASIC', num_blocks=(4, 4, 4),
                    num_channels=(16, 32, 64)),
        stage4=dict(num_modules=3, num_branches=4, block='BASIC', num_blocks=(4, 4, 4, 4),
                    num_channels=(16, 32, 64, 128)))), 16)
    return {k: (m if isinstance(m, _Tensor) or not hasattr(m, 'data_preprocessor')
                else _Tensor(m)).eval() for k, m in models.items()}


def alternate(fns: Dict[str, Callable[[], None]], rounds: int, warmup: int = 2) -> Dict:
    """Median seconds of each function, calling them round-robin."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: Dict[str, List[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in times.items()}


def conv_share(model: nn.Module, x: torch.Tensor) -> float:
    """Share of forward CPU time spent in convolution kernels (torch.profiler)."""
    from torch.profiler import ProfilerActivity, profile
    with torch.no_grad():
        model(x)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(3):
                model(x)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    conv = sum(e.self_cpu_time_total for e in events
               if 'conv' in e.key or 'mkldnn_convolution' in e.key)
    return conv / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--rounds', type=int, default=20)
    parser.add_argument('--throughput-batch', type=int, default=32)
    parser.add_argument('--throughput-rounds', type=int, default=3)
    parser.add_argument('--train-rounds', type=int, default=3)
    parser.add_argument('--compile', action='store_true', help='also torch.compile ours')
    parser.add_argument('--out', default=osp.join(ROOT, 'docs', 'benchmark'))
    args = parser.parse_args()
    from mmpose_litehrnet.analysis import count_paper_flops

    torch.manual_seed(0)
    models = build_models(args.compile)
    x1 = torch.randn(1, 3, *SHAPE)
    xb = torch.randn(args.throughput_batch, 3, *SHAPE)
    flops = {k: count_paper_flops(m, (1, 3, *SHAPE)) for k, m in models.items()
             if 'compile' not in k}

    def forward(model, x):
        def run():
            with torch.no_grad():
                model(x)
        return run

    print(f'batch-1 latency, {args.rounds} alternating rounds ...', flush=True)
    latency = alternate({k: forward(m, x1) for k, m in models.items()}, args.rounds)
    print(f'batch-{args.throughput_batch} throughput ...', flush=True)
    through = alternate({k: forward(m, xb) for k, m in models.items() if 'compile' not in k},
                        args.throughput_rounds, warmup=1)
    print('training steps (batch 32, forward + backward + Adam) ...', flush=True)
    steps = {}
    for key in ('ours litehrnet_18', 'MMPose litehrnet_18'):
        model = models[key].model.train()
        opt = torch.optim.Adam(model.parameters())
        target = torch.randn(args.throughput_batch, 17, 64, 48)

        def step(model=model, opt=opt, target=target):
            opt.zero_grad()
            out = model(xb, None, mode='tensor')
            torch.nn.functional.mse_loss(out, target).backward()
            opt.step()
        steps[key] = step
    train = alternate(steps, args.train_rounds, warmup=1)
    for key in steps:
        models[key].model.eval()
    share = {k: conv_share(models[k], x1) for k in ('ours litehrnet_18 deploy',
                                                   'ours litehrnet_18',
                                                   'MMPose litehrnet_18')}

    base = 'MMPose litehrnet_18'
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            cpu = next(line.split(':', 1)[1].strip() for line in f if 'model name' in line)
    except (OSError, StopIteration):
        pass
    lines = [
        f'# Benchmark: {cpu}, {torch.get_num_threads()} threads, torch {torch.__version__}',
        '',
        f'Input 256x192, fp32, eval; medians of {args.rounds} alternating rounds (latency) '
        f'and {args.throughput_rounds} (throughput); ratios to `{base}` (same weights).',
        '',
        '| model | FLOPs (paper) | batch-1 latency (ms) | ratio | '
        f'batch-{args.throughput_batch} images/s | ratio |',
        '|---|---:|---:|---:|---:|---:|',
    ]
    for key in models:
        fl = f'{flops[key] / 2**20:.1f}M' if key in flops else ''
        row = f'| {key} | {fl} | {latency[key] * 1e3:.1f} | {latency[key] / latency[base]:.2f} |'
        if key in through:
            ips = args.throughput_batch / through[key]
            row += f' {ips:.1f} | {ips * through[base] / args.throughput_batch:.2f} |'
        else:
            row += ' | |'
        lines.append(row)
    lines += ['', f'Training step, batch {args.throughput_batch} (s): ' + ', '.join(
        f'{k} {v:.2f}' for k, v in train.items()) + f'; ratio ours/built-in '
        f'{train["ours litehrnet_18"] / train["MMPose litehrnet_18"]:.2f}', '',
        'Share of forward time in convolutions: ' + ', '.join(
            f'{k} {v:.0%}' for k, v in share.items()), '',
        'Targets (issue 5): deploy latency <= 0.60x built-in: '
        f'{latency["ours litehrnet_18 deploy"] / latency[base]:.2f}x; training step <= 1.0x: '
        f'{train["ours litehrnet_18"] / train[base]:.2f}x; conv share >= 70%: '
        f'{share["ours litehrnet_18 deploy"]:.0%}.']
    text = '\n'.join(lines) + '\n'
    print(text)
    os.makedirs(osp.dirname(args.out), exist_ok=True)
    with open(args.out + '.md', 'w') as f:
        f.write(text)
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 5))
    for key in flops:
        ax.scatter(flops[key] / 2**20, latency[key] * 1e3)
        ax.annotate(key, (flops[key] / 2**20, latency[key] * 1e3), fontsize=7)
    ax.set_xlabel('FLOPs, paper convention (M)')
    ax.set_ylabel('batch-1 latency (ms)')
    ax.set_title(f'256x192, {cpu}')
    fig.tight_layout()
    fig.savefig(args.out + '.png', dpi=120)
    print(f'wrote {args.out}.md and {args.out}.png')


if __name__ == '__main__':
    main()
