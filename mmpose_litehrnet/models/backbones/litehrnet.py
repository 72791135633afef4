"""Lite-HRNet and Naive Lite-HRNet backbones (Yu et al., CVPR 2021)."""
from typing import Any, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

from ..blocks import CHANNEL_WEIGHTINGS, IterativeHead, Stem, Transition
from ..layers import (
    Accelerated,
    channels_last_device_types,
    default_norm_cfg,
    is_exporting_onnx,
    run_deploy_pipeline,
)
from .extra import resolve_extra
from .lite_hr_module import LiteHRModule

__all__ = ['LiteHRNet', 'NaiveLiteHRNet']

_DEFAULT_INIT = (
    dict(type='Normal', std=0.001, layer=['Conv2d']),
    dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm']),
)


class LiteHRNet(Accelerated, BaseModule):
    """Lite-HRNet backbone: a stem, then stages of high-resolution modules that add one
    lower-resolution branch each, optionally followed by the iterative head.

    A drop-in replacement for MMPose's ``LiteHRNet`` (same arguments, parameter names
    and outputs; released checkpoints load strictly and give the same numbers), that
    also runs at any input size, with activation checkpointing, frozen stages, the
    paper's CCW ablations and multi-resolution outputs. Its forward is the step an
    accelerator may compute (:class:`~..layers.Accelerated`; the deploy pipeline's
    ``aot`` installs one).

    Args:
        extra (dict | str): The architecture, as in MMPose's configs (``stem``,
            ``num_stages``, ``stages_spec``, ``with_head``), or the name of a variant in
            :data:`VARIANTS` (``'litehrnet_18'``, ``'litehrnet_30'``, ...).
        in_channels (int): Image channels.
        conv_cfg (dict, optional): MMCV convolution config; None means ``nn.Conv2d``.
        norm_cfg (dict, optional): MMCV norm config; None means ``dict(type='BN')``.
        norm_eval (bool): Keep norm layers in eval mode while training.
        with_cp (bool): Activation checkpointing of the stem and blocks.
        out_indices (Sequence[int]): Which final branches to return, highest resolution
            first; ``(0,)`` returns the same 1-tuple as MMPose.
        frozen_stages (int): -1 freezes nothing, 0 the stem, k > 0 the stem and the first
            k stages with their transitions (no gradient, norm layers in eval mode).
        fusion (str): ``'legacy'`` (the released arithmetic, default) or ``'hrnet'``.
        channel_weighting (Sequence[str]): Weightings of the CCW blocks:
            ``('cross_resolution', 'spatial')`` (default, the paper's block) or one of them
            alone (the paper's Table 7 ablations).
        channels_last (bool | str | Sequence[str]): The device types on which the
            network converts its input to ``torch.channels_last`` and runs in that
            layout, as ``switch_to_deploy``'s (which sets it for the deploy form):
            ``True`` is the CPU alone, where a training step takes about 0.9x the NCHW
            one (oneDNN's depthwise convolutions and their gradients skip their layout
            reorders); a sequence naming GPUs stores the convolution weights
            channels-last too. The default ``False`` keeps the layout of the input (the
            released arithmetic bit for bit; channels-last sums in another order).
        init_cfg (dict | list[dict], optional): MMEngine init config; None means MMPose's
            (normal std 0.001 convolutions, unit norm weights).

    Shape:
        (N, in_channels, H, W) -> tuple of (N, C_k, H_k, W_k) for k in ``out_indices``,
        with H_0 = ceil(ceil(H / 2) / 2), H_{k+1} = ceil(H_k / 2); C_k is the branch
        width, or for ``with_head`` models 40/40/80/160 for widths 40/80/160/320.
    """

    def __init__(self,
                 extra: Union[str, Mapping[str, Any]] = 'litehrnet_18',
                 in_channels: int = 3,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = None,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 out_indices: Sequence[int] = (0, ),
                 frozen_stages: int = -1,
                 fusion: str = 'legacy',
                 channel_weighting: Sequence[str] = CHANNEL_WEIGHTINGS,
                 channels_last: Union[bool, str, Sequence[str]] = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=list(_DEFAULT_INIT) if init_cfg is None else init_cfg)
        self.extra = resolve_extra(extra)
        if not isinstance(in_channels, int) or in_channels < 1:
            raise ValueError(f'LiteHRNet: in_channels must be an integer >= 1, '
                             f'got {in_channels!r}')
        norm_cfg = default_norm_cfg(norm_cfg)
        self.in_channels = in_channels
        #: Device types (``'cpu'``, ``'cuda'``) whose inputs are converted to
        #: ``torch.channels_last`` first (see :meth:`set_channels_last`). Empty: inputs
        #: run in the layout they come in.
        self.channels_last_devices: Tuple[str, ...] = ()
        self.norm_eval = norm_eval
        self.with_cp = with_cp
        stem_cfg = self.extra['stem']
        spec = self.extra['stages_spec']
        self.num_stages = self.extra['num_stages']
        if not isinstance(frozen_stages, int) or not -1 <= frozen_stages <= self.num_stages:
            raise ValueError(f'LiteHRNet: frozen_stages must be in [-1, {self.num_stages}], '
                             f'got {frozen_stages!r}')
        self.frozen_stages = frozen_stages
        common = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg)

        self.stem = Stem(in_channels, stem_cfg['stem_channels'], stem_cfg['out_channels'],
                         stem_cfg['expand_ratio'], with_cp=with_cp, **common)
        channels = [stem_cfg['out_channels']]
        for i in range(self.num_stages):
            widths = list(spec['num_channels'][i])
            setattr(self, f'transition{i}', Transition(channels, widths, **common))
            setattr(self, f'stage{i}', nn.Sequential(*(
                LiteHRModule(widths, spec['num_blocks'][i], spec['module_type'][i],
                             spec['reduce_ratios'][i], spec['with_fuse'][i], fusion=fusion,
                             weightings=channel_weighting, with_cp=with_cp, **common)
                for _ in range(spec['num_modules'][i]))))
            channels = widths
        self.with_head = self.extra['with_head']
        if self.with_head:
            self.head_layer = IterativeHead(channels, **common)
            channels = self.head_layer.out_channels
        self.out_indices = self._check_out_indices(out_indices, len(channels))
        #: Channels of each returned output.
        self.out_channels = [channels[i] for i in self.out_indices]
        self.set_channels_last(channels_last)
        self._freeze_stages()

    def set_channels_last(self, channels_last: Union[bool, str, Sequence[str]]) -> None:
        """Runs the network channels-last on the devices ``channels_last`` names (the
        constructor's argument; ``switch_to_deploy`` calls it for the deploy form); when
        it names a GPU, the convolution weights are stored channels-last too (cuDNN would
        otherwise convert them at every call)."""
        self.channels_last_devices = channels_last_device_types(channels_last)
        if set(self.channels_last_devices) - {'cpu'}:
            self.to(memory_format=torch.channels_last)

    @staticmethod
    def _check_out_indices(out_indices: Sequence[int], num_outputs: int) -> Tuple[int, ...]:
        if isinstance(out_indices, int):
            out_indices = (out_indices, )
        if not out_indices or any(
                not isinstance(i, int) or not -num_outputs <= i < num_outputs
                for i in out_indices):
            raise ValueError(f'LiteHRNet: out_indices must be a non-empty list of indices '
                             f'of the {num_outputs} branches, got {out_indices!r}')
        return tuple(i % num_outputs for i in out_indices)

    def _frozen_modules(self) -> List[nn.Module]:
        if self.frozen_stages < 0:
            return []
        modules: List[nn.Module] = [self.stem]
        for i in range(self.frozen_stages):
            modules += [getattr(self, f'transition{i}'), getattr(self, f'stage{i}')]
        return modules

    def _freeze_stages(self) -> None:
        for module in self._frozen_modules():
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'LiteHRNet':
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self

    def switch_to_deploy(self, test_cfg: Optional[Any] = None, **kwargs: Any) -> 'LiteHRNet':
        """The deploy form, in place: the installed deploy pipeline
        (:func:`mmpose_litehrnet.deploy.switch_to_deploy` once ``mmpose_litehrnet`` is
        imported; ``kwargs`` go to it); MMPose's ``switch_to_deploy`` calls this."""
        return run_deploy_pipeline(self, test_cfg, **kwargs)

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Args:
            x (Tensor): (N, in_channels, H, W) images.

        Returns:
            tuple[Tensor]: the branches selected by ``out_indices``.
        """
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f'{type(self).__name__}: expected input of shape (N, '
                             f'{self.in_channels}, H, W), got {tuple(x.shape)}')
        out = self.accelerated(x)
        if out is not None:
            return out
        if x.device.type in self.channels_last_devices and not is_exporting_onnx():
            x = x.contiguous(memory_format=torch.channels_last)
        xs = [self.stem(x)]
        for i in range(self.num_stages):
            xs = getattr(self, f'transition{i}')(xs)
            xs = getattr(self, f'stage{i}')(xs)
        if self.with_head:
            xs = self.head_layer(xs)
        return tuple(xs[i] for i in self.out_indices)


class NaiveLiteHRNet(LiteHRNet):
    """Naive Lite-HRNet: every module built from ShuffleNet V2 units (paper Sec. 3).

    The same network as :class:`LiteHRNet` with ``module_type='NAIVE'`` everywhere. It
    defaults to Naive Lite-HRNet-18 (widths 30/60/120/240); ``'wider_naive_litehrnet_18'``
    is the wider version (40/80/160/320). Arguments as :class:`LiteHRNet`.
    """

    def __init__(self,
                 extra: Union[str, Mapping[str, Any]] = 'naive_litehrnet_18',
                 **kwargs: Any) -> None:
        resolved = resolve_extra(extra)
        types = resolved['stages_spec']['module_type']
        if any(t.upper() != 'NAIVE' for t in types):
            raise ValueError("NaiveLiteHRNet: extra['stages_spec']['module_type'] must be "
                             f"'NAIVE' for every stage, got {types!r}")
        super().__init__(resolved, **kwargs)
