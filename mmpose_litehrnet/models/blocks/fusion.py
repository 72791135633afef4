"""Multi-resolution fusion and the transitions that add branches."""
from typing import List, Optional, Sequence

import torch.nn as nn
from mmcv.cnn import build_conv_layer, build_norm_layer
from torch import Tensor

from ..layers import Accelerated, NearestResize, default_norm_cfg, writes_in_place

__all__ = ['FUSION_MODES', 'MultiResolutionFusion', 'Transition']

#: ``'legacy'`` is the arithmetic of the released checkpoints; ``'hrnet'`` the textbook one.
FUSION_MODES = ('legacy', 'hrnet')


def _conv_norm(conv_cfg: Optional[dict], norm_cfg: dict, c_in: int, c_out: int,
               kernel_size: int, stride: int = 1, groups: int = 1) -> List[nn.Module]:
    return [
        build_conv_layer(conv_cfg, c_in, c_out, kernel_size=kernel_size, stride=stride,
                         padding=kernel_size // 2, groups=groups, bias=False),
        build_norm_layer(norm_cfg, c_out)[1],
    ]


def _downsample(conv_cfg: Optional[dict], norm_cfg: dict, c_in: int, c_out: int,
                relu: bool) -> List[nn.Module]:
    """3x3 depthwise stride-2 conv + norm, 1x1 conv + norm, optionally ReLU."""
    layers = _conv_norm(conv_cfg, norm_cfg, c_in, c_in, 3, 2, groups=c_in)
    layers += _conv_norm(conv_cfg, norm_cfg, c_in, c_out, 1)
    return layers + [nn.ReLU(inplace=True)] if relu else layers


class _UpsamplePath(nn.Sequential):
    """1x1 conv + norm, then nearest resize to the target branch's size (added to
    ``into`` when given, in place when ``in_place``). The deploy form folds the norm
    away, so the layers are not addressed by position."""

    def forward(self, x: Tensor, size: List[int], into: Optional[Tensor] = None,
                in_place: bool = False) -> Tensor:
        *layers, resize = self
        for layer in layers:
            x = layer(x)
        return resize(x, size, into, in_place)


class _DownsamplePath(nn.Sequential):
    """``k`` stride-2 steps; the ReLU sits between steps, not after the last."""

    def forward(self, x: Tensor, size: List[int], into: Optional[Tensor] = None,
                in_place: bool = False) -> Tensor:
        out = super().forward(x)
        return out if into is None else _add(into, out, in_place)


def _add(x: Tensor, y: Tensor, in_place: bool) -> Tensor:
    return x.add_(y) if in_place else x + y


class MultiResolutionFusion(nn.ModuleList):
    """Exchanges information across the branches after every module (paper Sec. 3).

    Output i receives every branch j: higher resolutions through ``i - j`` stride-2
    depthwise separable steps, lower ones through a 1x1 conv + norm and nearest
    upsampling, its own branch directly. ``self[i][j]`` is the path from branch j to
    output i, as in the released checkpoints (``fuse_layers.i.j.*``). It returns the
    sums; the module that owns it applies the ReLU.

    In ``'legacy'`` mode (the default) it reproduces the released arithmetic exactly:
    output 0 adds branch 0 twice, and the original code summed in place into branch
    0, so every other output reads that pre-activation sum ``z0`` instead of branch 0,
    and adds its path from branch 0 twice as well (HRNet/Lite-HRNet issues #53, #64;
    "fixing" it costs 0.5-1 AP with the released weights). ``'hrnet'`` mode is the plain
    HRNet fusion, for new training only.

    Args:
        channels (Sequence[int]): Channels of each branch, highest resolution first.
        mode (str): ``'legacy'`` or ``'hrnet'``.
        conv_cfg (dict, optional): MMCV convolution config.
        norm_cfg (dict, optional): MMCV norm config; None means batch norm.

    Shape:
        [(N, C_i, H_i, W_i)] -> [(N, C_i, H_i, W_i)], with H_{i+1} = ceil(H_i / 2).
    """

    def __init__(self,
                 channels: Sequence[int],
                 mode: str = 'legacy',
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = None) -> None:
        if mode not in FUSION_MODES:
            raise ValueError(f'MultiResolutionFusion: mode must be one of {FUSION_MODES}, '
                             f'got {mode!r}')
        norm_cfg = default_norm_cfg(norm_cfg)
        rows = []
        for i, c_out in enumerate(channels):
            row = []
            for j, c_in in enumerate(channels):
                if j > i:
                    row.append(_UpsamplePath(
                        *_conv_norm(conv_cfg, norm_cfg, c_in, c_out, 1), NearestResize()))
                elif j == i:
                    row.append(nn.Identity())
                else:
                    steps = [
                        nn.Sequential(*_downsample(conv_cfg, norm_cfg, c_in,
                                                   c_out if k == i - j - 1 else c_in,
                                                   relu=k < i - j - 1))
                        for k in range(i - j)
                    ]
                    row.append(_DownsamplePath(*steps))
            rows.append(nn.ModuleList(row))
        super().__init__(rows)
        self.mode = mode

    def forward(self, xs: List[Tensor]) -> List[Tensor]:
        # Paths add into the running sum (``into``), in the released order of additions.
        # With no gradient to record, each sum is accumulated in place once it is a new
        # tensor of this module (never an input): fewer large allocations per fusion.
        in_place = writes_in_place()
        sizes = [x.shape[-2:] for x in xs]
        if self.mode == 'hrnet':
            outs = []
            for i, row in enumerate(self):
                y, fresh = xs[i], False
                for j in range(len(xs)):
                    if j != i:
                        y = row[j](xs[j], sizes[i], into=y, in_place=in_place and fresh)
                        fresh = True
                outs.append(y)
            return outs
        z0 = xs[0] + xs[0]
        for j in range(1, len(xs)):
            z0 = self[0][j](xs[j], sizes[0], into=z0, in_place=in_place)
        outs = [z0]
        for i in range(1, len(xs)):
            path = self[i][0]
            y = path(z0, sizes[i])
            # In training the released code ran this path twice, so its norm layers
            # update their running statistics twice per step; keep that.
            y = path(z0, sizes[i], into=y) if self.training else _add(y, y, in_place)
            for j in range(1, len(xs)):
                y = _add(y, xs[i], in_place) if i == j \
                    else self[i][j](xs[j], sizes[i], into=y, in_place=in_place)
            outs.append(y)
        return outs


class Transition(Accelerated, nn.ModuleList):
    """Adapts the branches of one stage to the next (paper Sec. 3, HRNet pattern).

    Existing branches whose width changes get a 3x3 depthwise conv + norm, 1x1 conv +
    norm, ReLU; a new branch is made from the lowest-resolution one by a stride-2
    depthwise separable step. ``self[i]`` is the path to branch i (``transitionK.i.*``
    in the released checkpoints); unchanged branches are identities. Its forward is the
    step an accelerator may compute (:class:`~..layers.Accelerated`).

    Args:
        in_channels (Sequence[int]): Channels of the previous stage's branches.
        out_channels (Sequence[int]): Channels of this stage's branches; one more entry.
        conv_cfg (dict, optional): MMCV convolution config.
        norm_cfg (dict, optional): MMCV norm config; None means batch norm.

    Shape:
        [(N, in_i, H_i, W_i)] -> [(N, out_i, H_i, W_i)] + [(N, out_new, ceil(H_last/2), .)]
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 out_channels: Sequence[int],
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = None) -> None:
        norm_cfg = default_norm_cfg(norm_cfg)
        paths: List[nn.Module] = []
        for i, c_out in enumerate(out_channels):
            if i >= len(in_channels):
                paths.append(nn.Sequential(nn.Sequential(
                    *_downsample(conv_cfg, norm_cfg, in_channels[-1], c_out, relu=True))))
            elif in_channels[i] != c_out:
                c_in = in_channels[i]
                paths.append(nn.Sequential(
                    *_conv_norm(conv_cfg, norm_cfg, c_in, c_in, 3, groups=c_in),
                    *_conv_norm(conv_cfg, norm_cfg, c_in, c_out, 1), nn.ReLU()))
            else:
                paths.append(nn.Identity())
        super().__init__(paths)
        self.num_inputs = len(in_channels)

    def forward(self, xs: List[Tensor]) -> List[Tensor]:
        out = self.accelerated(xs)
        if out is not None:
            return out
        last = self.num_inputs - 1
        return [path(xs[min(i, last)]) for i, path in enumerate(self)]
