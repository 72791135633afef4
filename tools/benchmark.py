"""Latency, throughput and training-step time of Lite-HRNet against its peers, in one run.

    python tools/benchmark.py [--rounds 20] [--compile] [--aoti] [--onnx] # this CPU
    python tools/benchmark.py --device cuda [--compile]                   # a GPU

All models are top-down pose models (backbone + heatmap head, 17 keypoints) at 256x192 in
eval mode. Models are run alternately, one call each per round, after a warm-up, and
medians are reported with ratios to MMPose's built-in Lite-HRNet-18 (same weights as
ours). On the CPU: fp32 batch-1 latency, batch-32 throughput, a training step, the share
of time in convolutions, the deploy forms traced to TorchScript, optionally
``torch.compile`` (``compile_for_cpu_inference``, batch 1), AOTInductor (batch 1) and ONNX
Runtime rows; writes ``docs/benchmark.md`` and ``.png``. On a GPU: batch-1 latency and
batch-64 throughput in fp32 and fp16, eager and replayed as CUDA graphs, optionally
``torch.compile``, and a training step; writes ``docs/benchmark_gpu.md`` and ``.png``,
with what it measured before a SIGTERM (``timeout``) if one cuts it short.

Where MMPose's compiled mmcv ops are missing (e.g. ``mmcv-lite`` on a GPU machine whose
torch has no mmcv build), ``mmpose.models`` cannot be imported as a whole; the script then
loads MMPose's backbones alone and uses :class:`PlainHeatmapHead`, which has the layers,
parameter names and forward of MMPose's ``HeatmapHead``, and says so in the table.
"""
import argparse
import contextlib
import copy
import functools
import importlib
import os
import os.path as osp
import platform
import signal
import statistics
import sys
import tempfile
import time
import types
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SHAPE = (256, 192)
BASE = 'MMPose litehrnet_18'
DEPLOYED = 'ours litehrnet_18 deploy'
DEPLOYED_CL = f'{DEPLOYED} channels-last'  # on a GPU (switch_to_deploy(channels_last=...))
#: The deploy form as ``SwitchToDeployHook(aot=True)`` runs it inside MMPose: its backbone
#: an AOTInductor package (compiled on first use, cached on disk), the head eager.
DEPLOYED_AOT = f'{DEPLOYED} (aot=True)'
MOBILENET = 'MobileNetV2 SimpleBaseline'
#: MMPose's own light top-down models (CSPNeXt + RTMCCHead), built from MMPose's configs.
RTMPOSE = {'RTMPose-t': 'rtmpose-t_8xb256-420e_aic-coco-256x192',
           'RTMPose-s': 'rtmpose-s_8xb256-420e_aic-coco-256x192'}
RTMPOSE_T = 'RTMPose-t'
#: Published COCO val2017 AP of each model family, by the start of its row name: the
#: metafile of MMPose 1.3.2 and the model's name in it, or a number and its source.
PUBLISHED_AP = {
    'ours litehrnet_18': ('topdown_heatmap/coco/litehrnet_coco.yml',
                          'td-hm_litehrnet-18_8xb64-210e_coco-256x192'),
    'MMPose litehrnet_18': ('topdown_heatmap/coco/litehrnet_coco.yml',
                            'td-hm_litehrnet-18_8xb64-210e_coco-256x192'),
    'ours litehrnet_30': ('topdown_heatmap/coco/litehrnet_coco.yml',
                          'td-hm_litehrnet-30_8xb64-210e_coco-256x192'),
    'MMPose litehrnet_30': ('topdown_heatmap/coco/litehrnet_coco.yml',
                            'td-hm_litehrnet-30_8xb64-210e_coco-256x192'),
    'ours naive_litehrnet_18': (0.628, "the authors' README (HRNet/Lite-HRNet)"),
    MOBILENET: ('topdown_heatmap/coco/mobilenetv2_coco.yml',
                'td-hm_mobilenetv2_8xb64-210e_coco-256x192'),
    'ShuffleNetV2 SimpleBaseline': ('topdown_heatmap/coco/shufflenetv2_coco.yml',
                                    'td-hm_shufflenetv2_8xb64-210e_coco-256x192'),
    **{name: ('rtmpose/coco/rtmpose_coco.yml', config) for name, config in RTMPOSE.items()},
}
#: Row-name suffixes of the runtimes that the CPU report compares ours and MobileNetV2 in.
RUNTIMES = ('', ' + torch.jit.trace', ' + torch.compile', ' AOTInductor', ' ONNX Runtime')
TRAINED = 'ours litehrnet_18'  # the training-step comparison: this against BASE
#: The training form with ``channels_last=True`` (on the CPU; timed in the training step).
TRAINED_CL = f'{TRAINED} channels-last'


class PlainHeatmapHead(nn.Module):
    """MMPose's ``HeatmapHead`` forward pass (same layers and parameter names), without
    the imports of its loss, codec and evaluation code.

    Args:
        in_channels (int): Channels of the last feature map.
        out_channels (int): Heatmaps (keypoints).
        deconv (bool): Three 4x4 stride-2 transposed convolutions of 256 channels first
            (SimpleBaseline), as ``HeatmapHead``'s defaults; else only the final 1x1 conv.

    Shape:
        [..., (N, C, H, W)] -> (N, out_channels, H * 8 if deconv else H, ...)
    """

    def __init__(self, in_channels: int, out_channels: int = 17, deconv: bool = False) -> None:
        super().__init__()
        layers: List[nn.Module] = []
        channels = in_channels
        for _ in range(3 if deconv else 0):
            layers += [nn.ConvTranspose2d(channels, 256, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(256), nn.ReLU(inplace=True)]
            channels = 256
        self.deconv_layers = nn.Sequential(*layers) if layers else nn.Identity()
        self.conv_layers = nn.Identity()
        self.final_layer = nn.Conv2d(channels, out_channels, 1)

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.final_layer(self.conv_layers(self.deconv_layers(feats[-1])))


class PoseNet(nn.Module):
    """Backbone + head, the tensor-mode forward of a ``TopdownPoseEstimator``."""

    def __init__(self, backbone: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


class SimCCNet(nn.Module):
    """A top-down estimator's tensor-mode forward (``_forward``) with the SimCC head's x
    and y vectors concatenated into one output, which every runtime here takes."""

    def __init__(self, estimator: nn.Module) -> None:
        super().__init__()
        self.estimator = estimator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(self.estimator._forward(x), dim=-1)


def mmpose_config(path: str) -> str:
    """The file ``path`` under the installed MMPose's ``configs/body_2d_keypoint``."""
    import mmpose
    return osp.join(osp.dirname(mmpose.__file__), '.mim', 'configs', 'body_2d_keypoint', path)


def mmpose_metafile(path: str) -> List[dict]:
    """The ``Models`` of a metafile under MMPose's ``configs/body_2d_keypoint``."""
    import yaml
    with open(mmpose_config(path)) as f:
        return yaml.safe_load(f)['Models']


def published_ap(row: str) -> Optional[Tuple[float, str]]:
    """The published COCO val AP of ``row``'s model and its source (None if none)."""
    family = max((k for k in PUBLISHED_AP if row.startswith(k)), key=len, default=None)
    if family is None:
        return None
    where, what = PUBLISHED_AP[family]
    if isinstance(where, float):
        return where, what
    model = next(m for m in mmpose_metafile(where) if m['Name'] == what)
    return model['Results'][0]['Metrics']['AP'], f'MMPose 1.3.2 metafile, {what}'


def rtmpose(name: str) -> nn.Module:
    """MMPose's ``name`` model (e.g. ``RTMPose-t``) from MMPose's config, after its own
    ``switch_to_deploy``, as :class:`SimCCNet`."""
    from mmengine.config import Config
    cfg = Config.fromfile(mmpose_config(f'rtmpose/coco/{RTMPOSE[name]}.py'))
    estimator = _build(cfg.model).eval()
    estimator.switch_to_deploy()
    return SimCCNet(estimator).eval()


class _BareModels(types.ModuleType):
    """``mmpose.models`` without its ``__init__``: submodules import one by one."""


def import_mmpose_models() -> str:
    """Registers MMPose's models; returns what could be imported.

    Without mmcv's compiled ops, ``import mmpose.models`` fails in the heads that use
    them; the backbones need none, so they are then imported under a bare
    ``mmpose.models`` package (its ``__init__`` not run)."""
    try:
        import mmpose.models  # noqa: F401
        return 'mmpose.models'
    except ImportError as error:
        reason = f'{type(error).__name__}: {error}'
    import mmpose
    bare = _BareModels('mmpose.models')
    bare.__path__ = [osp.join(osp.dirname(mmpose.__file__), 'models')]
    sys.modules['mmpose.models'] = bare
    importlib.import_module('mmpose.models.backbones')
    return f'MMPose backbones only, PlainHeatmapHead ({reason})'


def _build(cfg: dict) -> nn.Module:
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS
    init_default_scope('mmpose')
    return MODELS.build(cfg)


def _pose_model(backbone: dict, in_channels: int, deconv: bool = False) -> PoseNet:
    if not isinstance(sys.modules.get('mmpose.models'), _BareModels):
        head = dict(type='HeatmapHead', in_channels=in_channels, out_channels=17)
        if not deconv:
            head['deconv_out_channels'] = None
        head_module = _build(head)
    else:
        head_module = PlainHeatmapHead(in_channels, 17, deconv)
    return PoseNet(_build(backbone), head_module).eval()


def build_models() -> Dict[str, nn.Module]:
    """Ours (training and deploy form), MMPose's Lite-HRNet with our weights, the peers."""
    import mmpose_litehrnet  # noqa: F401  (after MMPose's models: see registry)
    from mmpose_litehrnet.deploy import switch_to_deploy
    from mmpose_litehrnet.models.backbones import variant_extra
    models: Dict[str, nn.Module] = {}
    for name, width in (('litehrnet_18', 40), ('litehrnet_30', 40),
                        ('naive_litehrnet_18', 30)):
        ours = _pose_model(dict(type='LiteHRNet', extra=name), width)
        models[f'ours {name}'] = ours
        if name != 'naive_litehrnet_18':
            builtin = _pose_model(dict(type='MMPoseLiteHRNet', extra=variant_extra(name)),
                                  width)
            builtin.load_state_dict(ours.state_dict())
            models[f'MMPose {name}'] = builtin
        models[f'ours {name} deploy'] = switch_to_deploy(copy.deepcopy(ours))
        if name == 'litehrnet_18':  # what the channels-last layout adds on the CPU
            models[DEPLOYED_AOT] = switch_to_deploy(copy.deepcopy(ours), aot=True)
            models[f'ours {name} deploy NCHW'] = switch_to_deploy(copy.deepcopy(ours),
                                                                  channels_last=False)
            models[TRAINED_CL] = _pose_model(
                dict(type='LiteHRNet', extra=name, channels_last=True), width)
            models[TRAINED_CL].load_state_dict(ours.state_dict())
    models[MOBILENET] = _pose_model(
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
    if not isinstance(sys.modules.get('mmpose.models'), _BareModels):  # heads needed
        models.update({name: rtmpose(name) for name in RTMPOSE})
    return {k: m.eval() for k, m in models.items()}


def build_device_models(device: torch.device) -> Dict[str, nn.Module]:
    """:func:`build_models` for ``device``: on a GPU the default deploy form runs NCHW,
    so the CPU's NCHW deploy row becomes the channels-last opt-in there, and the
    channels-last training form is built for the GPU (``channels_last=('cuda', )``:
    channels-last weights too) with ours' weights."""
    models = build_models()
    if device.type == 'cuda':
        from mmpose_litehrnet.deploy import switch_to_deploy
        del models[DEPLOYED_AOT]  # its packages are compiled for the CPU
        models[DEPLOYED_CL] = switch_to_deploy(models.pop(f'{DEPLOYED} NCHW'),
                                               channels_last=('cuda', ))
        models[TRAINED_CL].backbone.set_channels_last(('cuda', ))
    return models


def alternate_samples(fns: Dict[str, Callable[[], None]], rounds: int,
                      warmup: int = 2) -> Dict[str, List[float]]:
    """Seconds of each call of each function, calling them round-robin (one call of
    each per round)."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: Dict[str, List[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def alternate(fns: Dict[str, Callable[[], None]], rounds: int, warmup: int = 2) -> Dict:
    """Median seconds of each function, calling them round-robin."""
    return {k: statistics.median(v) for k, v in alternate_samples(fns, rounds, warmup).items()}


def round_ratios(a: List[float], b: List[float]) -> str:
    """Median and quartiles of the per-round ratios ``a[r] / b[r]``: two models timed in
    the same round see the same machine state, so this spread is the comparison's
    noise (the machine's speed drifts between rounds and runs)."""
    ratios = [x / y for x, y in zip(a, b)]
    q1, median, q3 = statistics.quantiles(ratios, n=4)
    return f'{median:.2f} ({q1:.2f}-{q3:.2f})'


def forward_fn(model: Callable, x: torch.Tensor) -> Callable[[], None]:
    """One no-grad forward, waited for on a GPU."""
    def run() -> None:
        with torch.no_grad():
            model(x)
        if x.is_cuda:
            torch.cuda.synchronize()
    return run


def aot_package(model: nn.Module, x: torch.Tensor, path: str) -> Callable:
    """``model`` compiled by ``compile_aot_package`` at ``x``'s shape into a package at
    ``path`` (``.pt2``) and loaded back, as ``tools/export_aoti.py`` writes it; checks that
    it gives the eager outputs."""
    from mmpose_litehrnet.deploy import compile_aot_package
    compile_aot_package(model, x, path)
    package = torch._inductor.aoti_load_package(path)
    with torch.no_grad():
        torch.testing.assert_close(package(x), model(x), rtol=1e-4, atol=1e-4)
    return package


def traced(model: nn.Module, x: torch.Tensor) -> torch.jit.ScriptModule:
    """``model`` traced to TorchScript at ``x``'s shape (no Python in its forward pass), as
    ``tools/export_torchscript.py`` writes it; checks that it gives the eager outputs."""
    from mmpose_litehrnet.deploy import trace_torchscript
    script = trace_torchscript(model, x)
    with torch.no_grad():
        diff = (script(x) - model(x)).abs().max().item()
    if diff > 1e-5:
        raise RuntimeError(f'the traced model differs from eager by {diff:.2e}')
    return script


def capture_cuda_graph(model: nn.Module,
                       x: torch.Tensor) -> Tuple[torch.cuda.CUDAGraph, torch.Tensor, Any]:
    """The forward pass captured once as a CUDA graph (after a warm-up on a side
    stream), on a copy of ``x``: the graph, its static input and its static output."""
    x = x.clone()
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream), torch.no_grad():
        for _ in range(3):
            model(x)
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph), torch.no_grad():
        out = model(x)
    return graph, x, out


def cuda_graph_fn(model: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    """The forward pass captured once as a CUDA graph; the function replays it."""
    graph = capture_cuda_graph(model, x)[0]

    def run() -> None:
        graph.replay()
        torch.cuda.synchronize()
    return run


def training_steps(models: Dict[str, nn.Module], batch: int, rounds: int,
                   device: torch.device) -> Dict[str, List[float]]:
    """Seconds of each forward + MSE backward + Adam step of each of ``models`` (ours,
    its channels-last form, the built-in), alternating."""
    x = torch.randn(batch, 3, *SHAPE, device=device)
    target = torch.randn(batch, 17, SHAPE[0] // 4, SHAPE[1] // 4, device=device)
    steps = {}
    for key in models:
        model = copy.deepcopy(models[key]).train()
        opt = torch.optim.Adam(model.parameters())

        def step(model=model, opt=opt) -> None:
            opt.zero_grad()
            torch.nn.functional.mse_loss(model(x), target).backward()
            opt.step()
            if x.is_cuda:
                torch.cuda.synchronize()
        steps[key] = step
    return alternate_samples(steps, rounds, warmup=1)


def training_line(samples: Dict[str, List[float]], label: str, ms: bool) -> Tuple[str, str]:
    """The report's line on :func:`training_steps`, and the median ratio ours/built-in."""
    ours, scale = samples[TRAINED], 1e3 if ms else 1.0
    median = {k: statistics.median(v) for k, v in samples.items()}
    ratio = _ratio(median[TRAINED], median[BASE])
    line = (f'Training step, {label} ({"ms" if ms else "s"}, medians of {len(ours)} '
            'alternating steps): ' + ', '.join(
                f'{k} {v * scale:.{1 if ms else 2}f}' for k, v in median.items())
            + f'; ratio ours/built-in {ratio}, round by round {round_ratios(ours, samples[BASE])}'
            ' (median, quartiles)')
    if TRAINED_CL in samples:
        last = samples[TRAINED_CL]
        line += (f'; {TRAINED_CL} / built-in {_ratio(median[TRAINED_CL], median[BASE])}, '
                 f'round by round {round_ratios(last, samples[BASE])}, against ours round '
                 f'by round {round_ratios(last, ours)}')
    return line, ratio


def training_report(models: Dict[str, nn.Module], args, device: torch.device, label: str,
                    ms: bool) -> Tuple[str, Optional[str]]:
    """:func:`training_line` of :func:`training_steps` on ``device``; a line saying it
    was not run, and no ratio, when a ``--models`` subset lacks either model."""
    if TRAINED not in models or BASE not in models:
        return f'Training step: not run (it needs `{TRAINED}` and `{BASE}`).', None
    print(f'training steps ({label}, forward + backward + Adam) ...', flush=True)
    compared = {k: models[k].to(device) for k in (TRAINED, TRAINED_CL, BASE) if k in models}
    return training_line(training_steps(compared, args.batch, args.train_rounds, device),
                         label, ms)


def profiled_events(model: Callable, x: torch.Tensor, runs: int) -> Any:
    """torch.profiler's per-operator averages over ``runs`` no-grad forward passes after
    one warm-up (CPU activity, and CUDA's when ``x`` is on a GPU, waited for)."""
    from torch.profiler import ProfilerActivity, profile
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if x.is_cuda else [])
    with torch.no_grad():
        model(x)
        if x.is_cuda:
            torch.cuda.synchronize()
        with profile(activities=activities) as prof:
            for _ in range(runs):
                model(x)
            if x.is_cuda:
                torch.cuda.synchronize()
    return prof.key_averages()


def _is_convolution(key: str) -> bool:
    """Whether a profiler event is a convolution. The biased matrix products count too:
    in these models they are only the deploy form's 1x1 convolutions (``MatmulConv1x1``)
    and channel weightings, ``aten::addmm`` / ``baddbmm`` in eager, ``_mkl_linear`` once
    compiled. The plain ``mm`` ones are left out: the spatial weightings' global averages
    (48 of the eager deploy form's 49 calls per pass at batch 1; the other is a 1x1
    convolution of the stem)."""
    return 'conv' in key or key in ('aten::addmm', 'aten::baddbmm') \
        or key.endswith('_mkl_linear')


def conv_share(model: Callable, x: torch.Tensor, runs: int = 3) -> Tuple[float, float]:
    """Share of the profiled operators' CPU time spent in convolution kernels, and their
    seconds per forward pass (torch.profiler). Python time between the operators is in
    neither."""
    events = profiled_events(model, x, runs)
    total = sum(e.self_cpu_time_total for e in events)
    conv = sum(e.self_cpu_time_total for e in events if _is_convolution(e.key))
    return conv / total, conv * 1e-6 / runs


def kernel_profiled_compile(model: nn.Module, x: torch.Tensor) -> Callable:
    """``compile_for_cpu_inference`` of a copy of ``model``, compiled at ``x`` with
    Inductor's kernel profile on, for torch.profiler: without it the compiled graph is
    one profiler event, its kernels and convolution calls unrecorded. A compile of its
    own (minutes)."""
    import torch._inductor.config as inductor_config

    from mmpose_litehrnet.deploy import compile_for_cpu_inference
    with inductor_config.patch({'cpp.enable_kernel_profile': True}):
        compiled = compile_for_cpu_inference(copy.deepcopy(model))
        compiled(x)
    return compiled


def compiled_conv_share(model: nn.Module, x: torch.Tensor,
                        runs: int = 3) -> Tuple[float, float]:
    """:func:`conv_share` of :func:`kernel_profiled_compile`."""
    return conv_share(kernel_profiled_compile(model, x), x, runs)


def onnx_runtime_fn(model: nn.Module, x: torch.Tensor, workdir: str) -> Callable[[], None]:
    """ONNX Runtime (CPU) on ``model`` exported at ``x``'s shape; checks it matches."""
    import numpy as np
    import onnxruntime as ort

    from mmpose_litehrnet.deploy import export_onnx
    path = osp.join(workdir, f'model_{id(model)}_{x.shape[0]}.onnx')
    export_onnx(model, x, path)
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    # Idle ORT threads spin by default, taking the cores from whichever model runs next.
    options.add_session_config_entry('session.intra_op.allow_spinning', '0')
    session = ort.InferenceSession(path, options, providers=['CPUExecutionProvider'])
    feed = {'input': x.numpy()}
    with torch.no_grad():
        expected = model(x).numpy()
    # Relative to the output's largest magnitude, as the tests compare: RTMPose-s's SimCC
    # logits reach tens, where float32 rounding alone exceeds an absolute 1e-4.
    diff = float(np.abs(session.run(None, feed)[0] - expected).max())
    if diff > 1e-4 * max(1.0, float(np.abs(expected).max())):
        raise RuntimeError(f'ONNX Runtime differs from PyTorch by {diff:.2e} (outputs up to '
                           f'{float(np.abs(expected).max()):.2e})')
    return lambda: session.run(None, feed)


def machine_name(device: torch.device) -> str:
    if device.type == 'cuda':
        return f'{torch.cuda.get_device_name(device)}, torch {torch.__version__}'
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            cpu = next(line.split(':', 1)[1].strip() for line in f if 'model name' in line)
    except (OSError, StopIteration):
        pass
    return f'{cpu}, {torch.get_num_threads()} threads, torch {torch.__version__}'


def plot(path: str, title: str, flops: Dict[str, int], latency: Dict[str, float]) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 5))
    for key in latency:
        if key in flops:
            ax.scatter(flops[key] / 2**20, latency[key] * 1e3)
            ax.annotate(key, (flops[key] / 2**20, latency[key] * 1e3), fontsize=7)
    ax.set_xlabel('FLOPs, paper convention (M)')
    ax.set_ylabel('batch-1 latency (ms)')
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def split_runtime(row: str) -> Tuple[str, str]:
    """A row's model and runtime: ``'RTMPose-t + torch.compile'`` -> ``('RTMPose-t',
    'torch.compile')``; eager rows give ``'eager'``, :data:`DEPLOYED_AOT` the hook."""
    if row == DEPLOYED_AOT:
        return DEPLOYED, 'eager, SwitchToDeployHook(aot=True)'
    for runtime in RUNTIMES[1:]:
        if row.endswith(runtime):
            return row[:-len(runtime)], runtime.strip(' +')
    return row, 'eager'


def plot_accuracy(path: str, title: str, latency: Dict[str, float]) -> List[str]:
    """Published COCO AP against measured batch-1 latency, a point per row (model and
    runtime) whose model has a published AP: a colour per model, a marker per runtime,
    both in the legend; returns the report's lines on it."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter
    fig, ax = plt.subplots(figsize=(9, 5.5))
    published = {key: published_ap(key) for key in latency}
    published = {key: found for key, found in published.items() if found is not None}
    rows = {key: split_runtime(key) for key in published}
    colours = {model: f'C{i}' for i, model in
               enumerate(dict.fromkeys(model for model, _ in rows.values()))}
    markers = dict(zip(dict.fromkeys(runtime for _, runtime in rows.values()), 'osD^vxP*'))
    for key, (ap, _) in published.items():
        model, runtime = rows[key]
        ax.scatter(latency[key] * 1e3, ap * 100, color=colours[model], marker=markers[runtime],
                   s=50)
    handles = [Line2D([], [], color=c, marker='o', linestyle='', label=m)
               for m, c in colours.items()]
    handles += [Line2D([], [], color='grey', marker=k, linestyle='', label=r)
                for r, k in markers.items()]
    ax.legend(handles=handles, fontsize=7, loc='best')
    ax.set_xscale('log')
    plain = FuncFormatter(lambda value, _: f'{value:g}')
    ax.xaxis.set_major_formatter(plain)  # 20, 30, 40 ms rather than 2 x 10^1
    ax.xaxis.set_minor_formatter(plain)
    ax.set_xlabel('batch-1 latency (ms, log scale), this run')
    ax.set_ylabel('COCO val2017 AP, published')
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return [f'Accuracy against latency: [`{osp.basename(path)}`]({osp.basename(path)}); '
            'published COCO val AP (256x192) per model, from '
            + '; '.join(sorted({f'{ap * 100:.1f} {source}'
                                for ap, source in published.values()})) + '.']


def _ratio(value: float, base: float) -> str:
    return f'{value / base:.2f}'


def cpu_targets(latency: Dict[str, float], train_ratio: Optional[str],
                share: Dict[str, Tuple[float, float]]) -> str:
    """Issue 5's CPU targets, each one the run measured (a ``--models`` subset may
    lack the models a target compares)."""
    parts = []
    if DEPLOYED in latency:
        parts.append(f'deploy latency <= 0.60x built-in: '
                     f'{_ratio(latency[DEPLOYED], latency[BASE])}x')
    if train_ratio is not None:
        parts.append(f'training step <= 1.0x: {train_ratio}x')
    if DEPLOYED in share:
        compiled = share.get(f'{DEPLOYED} + torch.compile')
        parts.append(f'conv share >= 70%: {share[DEPLOYED][0]:.0%}'
                     + (f' (compiled {compiled[0]:.0%})' if compiled else ''))
    for peer, target in ((MOBILENET, f'beat {MOBILENET} ('),
                         (RTMPOSE_T, f'at or below {RTMPOSE_T} (issue 25; ')):
        versus = [f'{runtime.strip() or "eager"} {latency[DEPLOYED + runtime] * 1e3:.1f} vs '
                  f'{latency[peer + runtime] * 1e3:.1f}'
                  for runtime in RUNTIMES
                  if DEPLOYED + runtime in latency and peer + runtime in latency]
        if versus:
            parts.append(f'{target}ms, ours vs it, same runtime): ' + '; '.join(versus))
    if DEPLOYED_AOT in latency and RTMPOSE_T in latency:
        parts.append(f'as MMPose runs each (ours with SwitchToDeployHook(aot=True), '
                     f'{RTMPOSE_T} eager): {latency[DEPLOYED_AOT] * 1e3:.1f} vs '
                     f'{latency[RTMPOSE_T] * 1e3:.1f} ms')
    return 'Targets (issue 5): ' + ('; '.join(parts) or 'none measured in this subset') + '.'


def cpu_report(models: Dict[str, nn.Module], flops: Dict[str, int], args) -> List[str]:
    x1 = torch.randn(1, 3, *SHAPE)
    xb = torch.randn(args.batch, 3, *SHAPE)
    if DEPLOYED_AOT in models:
        print(f'{DEPLOYED_AOT}: compiling its backbone, or loading it from the cache ...',
              flush=True)
        forward_fn(models[DEPLOYED_AOT], x1)()
    latency_fns = {k: forward_fn(m, x1) for k, m in models.items()}
    through_fns = {k: forward_fn(m, xb) for k, m in models.items()}
    deployed = [k for k in models if k.startswith('ours') and k.endswith('deploy')]
    # Traced and compiled peers too: removing Python helps every model, so compare traced
    # to traced and compiled to compiled.
    compared = deployed + [k for k in (BASE, MOBILENET, *RTMPOSE) if k in models]
    for name in compared:
        latency_fns[f'{name} + torch.jit.trace'] = forward_fn(traced(models[name], x1), x1)
        through_fns[f'{name} + torch.jit.trace'] = forward_fn(traced(models[name], xb), xb)
    if args.compile:
        # Batch 1 only: with the C++ wrapper a compile takes minutes per model and shape.
        from mmpose_litehrnet.deploy import compile_for_cpu_inference
        for name in compared:
            print(f'compiling {name} ...', flush=True)
            compiled = compile_for_cpu_inference(models[name])
            compiled(x1)
            latency_fns[f'{name} + torch.compile'] = forward_fn(compiled, x1)
    workdir = tempfile.mkdtemp(prefix='lhr_export_')
    for name in [k for k in (DEPLOYED, MOBILENET, *RTMPOSE) if k in models] if args.aoti \
            else ():
        # Batch 1 only, like the compile: a package per model and shape, minutes each.
        print(f'compiling {name} with AOTInductor ...', flush=True)
        path = osp.join(workdir, name.replace(' ', '_') + '.pt2')
        latency_fns[f'{name} AOTInductor'] = forward_fn(aot_package(models[name], x1, path), x1)
    for name in [k for k in (DEPLOYED, BASE, MOBILENET, *RTMPOSE) if k in models] \
            if args.onnx else ():
        key = f'{name} ONNX Runtime'
        try:
            latency_fns[key] = onnx_runtime_fn(models[name], x1, workdir)
            through_fns[key] = onnx_runtime_fn(models[name], xb, workdir)
        except Exception as error:  # report, and go on with the other rows
            print(f'{key}: not measured ({type(error).__name__}: {error})')
            latency_fns.pop(key, None)
    print(f'batch-1 latency, {args.rounds} alternating rounds ...', flush=True)
    samples = alternate_samples(latency_fns, args.rounds)
    latency = {k: statistics.median(v) for k, v in samples.items()}
    print(f'batch-{args.batch} throughput ...', flush=True)
    through = alternate(through_fns, args.throughput_rounds, warmup=1)
    train, train_ratio = training_report(models, args, torch.device('cpu'),
                                         f'batch {args.batch}', ms=False)
    share = {k: conv_share(models[k], x1)
             for k in (DEPLOYED, f'{DEPLOYED} NCHW', TRAINED, BASE) if k in models}
    # One pass at the throughput batch: whether the rest is per call or per pixel.
    share_batch = {k: conv_share(models[k], xb, runs=1)[0] for k in (DEPLOYED, BASE)
                   if k in models}
    if args.compile and DEPLOYED in models:
        print('compiling with the kernel profile, for the convolution share ...', flush=True)
        share[f'{DEPLOYED} + torch.compile'] = compiled_conv_share(models[DEPLOYED], x1)
    lines = [
        f'Input 256x192, fp32, eval; medians of {args.rounds} alternating rounds (latency) '
        f'and {args.throughput_rounds} (throughput); ratios to `{BASE}` (same weights).'
        + (' "+ torch.compile": `compile_for_cpu_inference` (frozen weights, C++ wrapper), '
           'batch 1 only.' if args.compile else '')
        + (' "AOTInductor": `compile_aot_package` (a .pt2 package, frozen weights), loaded '
           'with `aoti_load_package`, batch 1 only.' if args.aoti else ''),
        '', '| model | FLOPs (paper) | batch-1 latency (ms) | ratio | '
        f'batch-{args.batch} images/s | ratio |', '|---|---:|---:|---:|---:|---:|']
    for key in latency:
        fl = f'{flops[key] / 2**20:.1f}M' if key in flops else ''
        batch = f'{args.batch / through[key]:.1f} | {_ratio(through[BASE], through[key])}' \
            if key in through else ' | '
        lines.append(f'| {key} | {fl} | {latency[key] * 1e3:.1f} | '
                     f'{_ratio(latency[key], latency[BASE])} | {batch} |')
    lines += ['', train, '',
        'Convolutions: share of the profiled operator time, and batch-1 latency minus '
        'their profiled time (the rest: other operators and Python; compiled: a second '
        "compile with Inductor's kernel profile, which records the graph's calls): "
        + ', '.join(
            f'{k} {v:.0%} ({(latency[k] - conv) * 1e3:.1f} ms)'
            for k, (v, conv) in share.items())
        + f'; at batch {args.batch} (one pass): '
        + ', '.join(f'{k} {v:.0%}' for k, v in share_batch.items()), '',
        cpu_targets(latency, train_ratio, share), '',
        'Noise: batch-1 latency ratios round by round, median (quartiles): '
        + '; '.join(f'{a} / {b} {round_ratios(samples[a], samples[b])}' for a, b in (
            (DEPLOYED, BASE), (DEPLOYED_AOT, RTMPOSE_T), *((DEPLOYED + runtime, peer + runtime)
                                for peer in (MOBILENET, RTMPOSE_T) for runtime in RUNTIMES))
            if a in samples and b in samples)
        + '.']
    plot(args.out + '.png', machine_name(torch.device('cpu')), flops, latency)
    lines += ['', *plot_accuracy(args.out + '_ap.png', machine_name(torch.device('cpu')),
                                 latency)]
    return lines


class Interrupted(Exception):
    """Raised in the main thread by SIGTERM while :func:`sigterm_interrupts` is active."""


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """Turns SIGTERM (what ``timeout`` sends) into :class:`Interrupted`, so that a run
    cut short by a time limit can still report what it measured."""
    def interrupt(signum: int, frame: Any) -> None:
        raise Interrupted(signal.Signals(signum).name)
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_steps(steps: Sequence[Tuple[str, Callable[[], None]]]) -> Optional[str]:
    """Runs the named steps in order until one is interrupted (SIGTERM); returns None
    when all ran, else a line naming the interrupted step and those not run."""
    with sigterm_interrupts():
        for i, (name, step) in enumerate(steps):
            try:
                step()
            except Interrupted as stop:
                left = [n for n, _ in steps[i + 1:]]
                return (f'Interrupted ({stop}) during "{name}"'
                        + (f'; not run: {", ".join(left)}' if left else '') + '.')
    return None


def compiled_fn(model: nn.Module, x: torch.Tensor) -> Tuple[Callable[[], None], float]:
    """``torch.compile(model, mode='reduce-overhead')`` (CUDA graphs of Inductor's
    kernels) as a forward function, and the seconds its first call took (compiling)."""
    fn = forward_fn(torch.compile(model, mode='reduce-overhead'), x)
    start = time.perf_counter()
    fn()
    return fn, time.perf_counter() - start


#: The GPU report's columns in display order, per dtype.
GPU_MODES = ('eager', 'graph', 'compiled')


def gpu_report(models: Dict[str, nn.Module], flops: Dict[str, int], args) -> List[str]:
    device = torch.device(args.device)
    torch.backends.cudnn.benchmark = True
    dtypes = {'fp32': torch.float32, 'fp16': torch.float16}
    # (mode, batch) -> model -> median seconds
    columns: Dict[Tuple[str, int], Dict[str, float]] = {}
    compile_seconds: Dict[str, Dict[str, float]] = {}

    def typed(tag: str, keys: Sequence[str]) -> Dict[str, nn.Module]:
        return {k: copy.deepcopy(models[k]).to(device, dtypes[tag]) for k in keys}

    def measure(tag: str, batch: int, mode: str) -> None:
        print(f'{tag} batch {batch} {mode} ...', flush=True)
        x = torch.randn(batch, 3, *SHAPE, device=device, dtype=dtypes[tag])
        rounds = args.rounds if batch == 1 else args.throughput_rounds
        if mode == 'compiled':  # our deploy form and the built-in: minutes per compile
            fns, seconds = {}, compile_seconds.setdefault(f'{tag} batch {batch}', {})
            for k, m in typed(tag, [k for k in (DEPLOYED, BASE) if k in models]).items():
                fns[k], seconds[k] = compiled_fn(m, x)
                print(f'  compiled {k} in {seconds[k]:.0f} s', flush=True)
        else:
            make = cuda_graph_fn if mode == 'graph' else forward_fn
            fns = {k: make(m, x) for k, m in typed(tag, list(models)).items()}
        columns[f'{tag} {mode}', batch] = alternate(fns, rounds, warmup=2)
        print({k: round(v * 1e3, 2) for k, v in columns[f'{tag} {mode}', batch].items()},
              flush=True)
        torch.cuda.empty_cache()

    checks = []
    x = torch.randn(2, 3, *SHAPE, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        reference = models[DEPLOYED](x)
        for key, tag in ((BASE, 'fp32'), (DEPLOYED, 'fp32'), (DEPLOYED, 'fp16'),
                         (DEPLOYED_CL, 'fp32'), (DEPLOYED_CL, 'fp16')):
            if key not in models:
                continue
            out = typed(tag, [key])[key](x.to(device, dtypes[tag])).float().cpu()
            rel = ((out - reference).norm() / reference.norm()).item()
            checks.append(f'{key} {str(dtypes[tag])[6:]} on {device.type} {rel:.1e}')
    # The compiled columns first when asked for (the ones a time limit would cut), batch 1
    # only (a compile per model, dtype and shape), fp32 first: its target is the one the
    # eager and graph forms miss.
    steps = [(f'{tag} batch 1 compiled', functools.partial(measure, tag, 1, 'compiled'))
             for tag in dtypes if args.compile]
    steps += [(f'{tag} batch {batch} {mode}', functools.partial(measure, tag, batch, mode))
              for tag in dtypes for batch in (1, args.batch) for mode in GPU_MODES[:2]]
    train: List[str] = []
    steps.append(('training step', lambda: train.append(training_report(
        models, args, device, f'fp32, batch {args.batch}', ms=True)[0])))
    interrupted = run_steps(steps)

    def order(column: Tuple[str, int]) -> Tuple[int, int]:
        tag, mode = column[0].split()
        return list(dtypes).index(tag), GPU_MODES.index(mode)

    latency_cols = sorted((c for c in columns if c[1] == 1), key=order)
    through_cols = sorted((c for c in columns if c[1] != 1), key=order)

    def speedups(cols: List[Tuple[str, int]], ours: str) -> str:
        return ', '.join(f'{mode} {_ratio(columns[mode, b][BASE], columns[mode, b][ours])}x'
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
        + ', '.join(checks) + '.']
    if compile_seconds:
        lines += ['', 'torch.compile, first call (compiling), s: ' + '; '.join(
            f'{setting}: ' + ', '.join(f'{k} {s:.0f}' for k, s in seconds.items())
            for setting, seconds in compile_seconds.items() if seconds)]
    lines += ['', *train] if train else []
    for ours in (k for k in (DEPLOYED, DEPLOYED_CL) if k in models):
        parts = [f'{label}: {speedups(cols, ours)}' for label, cols in (
            ('batch-1 latency', latency_cols), (f'batch-{args.batch} throughput', through_cols))
            if speedups(cols, ours)]
        lines += ['', f'Speed-up of `{ours}` over `{BASE}` (target >= 1.5x), '
                  + ('; '.join(parts) or 'not measured') + '.']
    if interrupted:
        lines += ['', interrupted]
    if latency_cols:
        plotted = DEPLOYED if DEPLOYED in models else BASE  # the mode it is fastest in
        best = min(latency_cols, key=lambda c: columns[c][plotted])
        plot(args.out + '.png', f'{machine_name(device)}, {best[0]}', flops, columns[best])
    return lines


def model_subset(names: str, models: Dict[str, nn.Module]) -> List[str]:
    """``--models``'s comma-separated names, checked: each one built here, the baseline
    (every ratio's denominator) among them."""
    chosen = names.split(',')
    unknown = [k for k in chosen if k not in models]
    if unknown:
        raise ValueError(f'--models: unknown {unknown}; the models are {list(models)}')
    if BASE not in chosen:
        raise ValueError(f'--models must include the baseline {BASE!r}, got {chosen}')
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', default='cpu', help='cpu or cuda[:N]')
    parser.add_argument('--rounds', type=int, default=20)
    parser.add_argument('--batch', type=int, default=None,
                        help='throughput and training batch (default: 32 CPU, 64 GPU)')
    parser.add_argument('--throughput-rounds', type=int, default=None,
                        help='default: 3 CPU, 10 GPU')
    parser.add_argument('--train-rounds', type=int, default=5)
    parser.add_argument('--compile', action='store_true',
                        help='also torch.compile: on the CPU our deploy forms, the built-in '
                             'and MobileNetV2 (compile_for_cpu_inference, batch 1); on a '
                             'GPU LHR-18 deploy and the built-in (reduce-overhead, fp32 and '
                             'fp16 batch 1, measured first)')
    parser.add_argument('--onnx', action='store_true', help='also ONNX Runtime (CPU only)')
    parser.add_argument('--aoti', action='store_true',
                        help='also AOTInductor packages of LHR-18 deploy, MobileNetV2 and '
                             'RTMPose (CPU only, batch 1)')
    parser.add_argument('--models', help='comma-separated subset of the model names')
    parser.add_argument('--out', default=None,
                        help='output prefix (default: docs/benchmark, docs/benchmark_gpu)')
    args = parser.parse_args()
    device = torch.device(args.device)
    gpu = device.type == 'cuda'
    args.batch = args.batch or (64 if gpu else 32)
    args.throughput_rounds = args.throughput_rounds or (10 if gpu else 3)
    args.out = args.out or osp.join(ROOT, 'docs', 'benchmark_gpu' if gpu else 'benchmark')
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)

    imported = import_mmpose_models()
    from mmpose_litehrnet.analysis import count_paper_flops
    torch.manual_seed(0)
    built = build_device_models(device)
    models = {k: built[k] for k in model_subset(args.models, built)} if args.models else built
    # A deploy form has its training form's FLOPs (built even when --models leaves it
    # out): the counter follows module calls, which the deploy form partly replaces by
    # direct operator calls.
    flops = {k: count_paper_flops(built.get(k.split(' deploy')[0], m), (1, 3, *SHAPE))
             for k, m in models.items()}
    report = gpu_report if gpu else cpu_report
    lines = [f'# Benchmark: {machine_name(device)}', '', f'Models from: {imported}.', '']
    lines += report(models, flops, args)
    text = '\n'.join(lines) + '\n'
    print(text)
    with open(args.out + '.md', 'w') as f:
        f.write(text)
    print(f'wrote {args.out}.md and {args.out}.png')


if __name__ == '__main__':
    main()
