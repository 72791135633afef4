"""The benchmark's models, declared as data: :data:`PEERS`, one :class:`Peer` per row.

Every model is a top-down pose model (backbone + head, 17 keypoints) at :data:`SHAPE`,
built with random weights (seeded by the caller); MMPose's built-in Lite-HRNet gets our
weights. Where MMPose's compiled mmcv ops are missing (``mmcv-lite``), ``mmpose.models``
cannot be imported as a whole: :func:`import_mmpose_models` then loads MMPose's backbones
alone, the heads become :class:`PlainHeatmapHead`, and the peers that need MMPose's heads
(RTMPose) are left out.
"""
import copy
import importlib
import os.path as osp
import sys
import types
from dataclasses import dataclass
from typing import Callable, Dict, FrozenSet, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

SHAPE = (256, 192)
BASE = 'MMPose litehrnet_18'  # every ratio's denominator
DEPLOYED = 'ours litehrnet_18 deploy'
DEPLOYED_CL = f'{DEPLOYED} channels-last'  # on a GPU (switch_to_deploy(channels_last=...))
#: The deploy form as ``SwitchToDeployHook(aot=True)`` runs it inside MMPose: its backbone
#: an AOTInductor package (compiled on first use, cached on disk), the head eager.
DEPLOYED_AOT = f'{DEPLOYED} (aot=True)'
MOBILENET = 'MobileNetV2 SimpleBaseline'
RTMPOSE_T = 'RTMPose-t'
TRAINED = 'ours litehrnet_18'  # the training-step comparison: this against BASE
#: The training form with ``channels_last=True`` (on the CPU; timed in the training step).
TRAINED_CL = f'{TRAINED} channels-last'

#: A published COCO val2017 AP: (metafile under MMPose's configs/body_2d_keypoint, model
#: name in it), or (AP, its source).
Published = Union[Tuple[str, str], Tuple[float, str]]
LITEHRNET_COCO = 'topdown_heatmap/coco/litehrnet_coco.yml'


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


def has_heads() -> bool:
    """Whether MMPose's heads are importable (not the backbones-only fallback)."""
    return not isinstance(sys.modules.get('mmpose.models'), _BareModels)


def mmpose_config(path: str) -> str:
    """The file ``path`` under the installed MMPose's ``configs/body_2d_keypoint``."""
    import mmpose
    return osp.join(osp.dirname(mmpose.__file__), '.mim', 'configs', 'body_2d_keypoint', path)


def mmpose_metafile(path: str) -> List[dict]:
    """The ``Models`` of a metafile under MMPose's ``configs/body_2d_keypoint``."""
    import yaml
    with open(mmpose_config(path)) as f:
        return yaml.safe_load(f)['Models']


def _build(cfg: dict) -> nn.Module:
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS
    init_default_scope('mmpose')
    return MODELS.build(cfg)


def pose_model(backbone: dict, in_channels: int, deconv: bool = False) -> PoseNet:
    """``backbone`` (an MMPose config) with MMPose's ``HeatmapHead`` (17 keypoints; the
    three deconvolutions of SimpleBaseline when ``deconv``), or its stand-in."""
    if has_heads():
        head = dict(type='HeatmapHead', in_channels=in_channels, out_channels=17)
        if not deconv:
            head['deconv_out_channels'] = None
        head_module = _build(head)
    else:
        head_module = PlainHeatmapHead(in_channels, 17, deconv)
    return PoseNet(_build(backbone), head_module).eval()


def rtmpose(config: str) -> nn.Module:
    """MMPose's RTMPose from its config ``rtmpose/coco/{config}.py``, after its own
    ``switch_to_deploy``, as :class:`SimCCNet`."""
    from mmengine.config import Config
    cfg = Config.fromfile(mmpose_config(f'rtmpose/coco/{config}.py'))
    estimator = _build(cfg.model).eval()
    estimator.switch_to_deploy()
    return SimCCNet(estimator).eval()


#: What a peer's builder gets: the models built before it (in :data:`PEERS` order).
Built = Dict[str, nn.Module]


@dataclass(frozen=True)
class Peer:
    """One row of the benchmark.

    Args:
        name: The row's name (runtime rows add the runtime's suffix).
        build: Builds the model from those built before it (e.g. the deploy form from
            ``ours``), in eval mode.
        runtimes: The runtimes besides eager it is compared in (names of
            :data:`~.runtimes.CPU_RUNTIMES`), when the run enables them.
        published: Its published COCO AP, for the accuracy plot (None: not plotted).
        needs_heads: Built from MMPose's heads, so left out without mmcv's ops.
    """
    name: str
    build: Callable[[Built], nn.Module]
    runtimes: FrozenSet[str] = frozenset()
    published: Optional[Published] = None
    needs_heads: bool = False


#: Runtimes that every compared model runs in: traced, compiled, exported.
EXPORTED = frozenset({'torch.jit.trace', 'torch.compile', 'AOTInductor', 'ONNX Runtime',
                      'OpenVINO', 'OpenVINO bf16', 'OpenVINO int8', 'ncnn'})
#: Runtimes that run the deploy form's operators only (the kernels compute in float32
#: and ncnn has no host of them): their files are the same with or without kernels.
OPERATORS_ONLY = frozenset({'OpenVINO bf16', 'OpenVINO int8', 'ncnn'})


def _deploy(source: str, **kwargs) -> Callable[[Built], nn.Module]:
    def build(built: Built) -> nn.Module:
        from mmpose_litehrnet.deploy import switch_to_deploy
        return switch_to_deploy(copy.deepcopy(built[source]), **kwargs)
    return build


def _litehrnet_peers(variant: str, width: int, builtin: bool, full: bool,
                     published: Optional[Published] = None) -> List[Peer]:
    """Ours (training and deploy form), MMPose's built-in with ours' weights when
    ``builtin``; with ``full`` (Lite-HRNet-18) the deploy form in every runtime, its
    ``aot=True``, NCHW and operators-only (no CPU kernels) forms and the channels-last
    training form. ``published``
    defaults to MMPose's metafile entry."""
    ours = f'ours {variant}'
    published = published or (
        LITEHRNET_COCO, f'td-hm_{variant.replace("_", "-")}_8xb64-210e_coco-256x192')

    def build_ours(built: Built, **kwargs) -> nn.Module:
        model = pose_model(dict(type='LiteHRNet', extra=variant, **kwargs), width)
        if ours in built:  # a second form of ours: the same weights
            model.load_state_dict(built[ours].state_dict())
        return model

    def build_builtin(built: Built) -> nn.Module:
        from mmpose_litehrnet.models.backbones import variant_extra
        model = pose_model(dict(type='MMPoseLiteHRNet', extra=variant_extra(variant)), width)
        model.load_state_dict(built[ours].state_dict())
        return model

    peers = [Peer(ours, build_ours, published=published)]
    if builtin:
        peers.append(Peer(f'MMPose {variant}', build_builtin,
                          EXPORTED - {'AOTInductor'}, published))
    deploy = f'{ours} deploy'
    peers.append(Peer(deploy, _deploy(ours),
                      EXPORTED if full else EXPORTED - {'AOTInductor', 'ONNX Runtime', 'OpenVINO'}
                      - OPERATORS_ONLY,
                      published))
    if full:
        peers += [
            Peer(f'{deploy} (aot=True)', _deploy(ours, aot=True), published=published),
            Peer(f'{deploy} (operators)', _deploy(ours, cpu_kernels=False),
                 EXPORTED - {'torch.compile'} - OPERATORS_ONLY, published),
            Peer(f'{deploy} NCHW', _deploy(ours, channels_last=False), published=published),
            Peer(f'{ours} channels-last',
                 lambda built: build_ours(built, channels_last=True), published=published),
        ]
    return peers


_HRNET_W16 = dict(
    stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK', num_blocks=(4, ),
                num_channels=(64, )),
    stage2=dict(num_modules=1, num_branches=2, block='BASIC', num_blocks=(4, 4),
                num_channels=(16, 32)),
    stage3=dict(num_modules=4, num_branches=3, block='BASIC', num_blocks=(4, 4, 4),
                num_channels=(16, 32, 64)),
    stage4=dict(num_modules=3, num_branches=4, block='BASIC', num_blocks=(4, 4, 4, 4),
                num_channels=(16, 32, 64, 128)))

#: Every row of the benchmark, in the tables' order.
PEERS: Tuple[Peer, ...] = (
    *_litehrnet_peers('litehrnet_18', 40, builtin=True, full=True),
    *_litehrnet_peers('litehrnet_30', 40, builtin=True, full=False),
    # The naive variant's AP is in the authors' README, not in MMPose's metafile.
    *_litehrnet_peers('naive_litehrnet_18', 30, builtin=False, full=False,
                      published=(0.628, "the authors' README (HRNet/Lite-HRNet)")),
    Peer(MOBILENET, lambda built: pose_model(
        dict(type='MobileNetV2', widen_factor=1., out_indices=(7, )), 1280, deconv=True),
        EXPORTED, ('topdown_heatmap/coco/mobilenetv2_coco.yml',
                   'td-hm_mobilenetv2_8xb64-210e_coco-256x192')),
    Peer('ShuffleNetV2 SimpleBaseline', lambda built: pose_model(
        dict(type='ShuffleNetV2', widen_factor=1.0), 1024, deconv=True),
        published=('topdown_heatmap/coco/shufflenetv2_coco.yml',
                   'td-hm_shufflenetv2_8xb64-210e_coco-256x192')),
    Peer('HRNet-W16', lambda built: pose_model(dict(type='HRNet', extra=_HRNET_W16), 16)),
    # MMPose's own light top-down models (CSPNeXt + RTMCCHead), from MMPose's configs.
    *(Peer(name, lambda built, config=config: rtmpose(config), EXPORTED,
           ('rtmpose/coco/rtmpose_coco.yml', config), needs_heads=True)
      for name, config in (('RTMPose-t', 'rtmpose-t_8xb256-420e_aic-coco-256x192'),
                           ('RTMPose-s', 'rtmpose-s_8xb256-420e_aic-coco-256x192'))),
)
PEER = {peer.name: peer for peer in PEERS}


def build_models() -> Dict[str, nn.Module]:
    """Every peer that can be built here (after :func:`import_mmpose_models`), in eval mode."""
    import mmpose_litehrnet  # noqa: F401  (after MMPose's models: see registry)
    built: Built = {}
    for peer in PEERS:
        if peer.needs_heads and not has_heads():
            continue
        built[peer.name] = peer.build(built).eval()
    return built


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


def published_ap(model: str) -> Optional[Tuple[float, str]]:
    """The published COCO val AP of the peer ``model`` and its source (None if none)."""
    peer = PEER.get(model)
    if peer is None or peer.published is None:
        return None
    where, what = peer.published
    if isinstance(where, float):
        return where, what
    entry = next(m for m in mmpose_metafile(where) if m['Name'] == what)
    return entry['Results'][0]['Metrics']['AP'], f'MMPose 1.3.2 metafile, {what}'
