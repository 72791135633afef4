"""The Lite-HRNet stem: a stride-2 convolution and a stride-2 shuffle block."""
from typing import Optional

import torch.nn as nn
from torch import Tensor

from ..layers import ConvNormAct, checkpoint_if, concat_shuffle, default_norm_cfg

__all__ = ['Stem']


class Stem(nn.Module):
    """Stem of Lite-HRNet (paper Table 1, ``conv2d`` + ``shuffle block``): 1/4 resolution.

    A 3x3 stride-2 convolution, then a ShuffleNet V2 downsampling block whose two halves
    are both downsampled: ``branch1`` (3x3 depthwise s2, 1x1) on the first half and
    ``expand_conv`` (1x1) -> ``depthwise_conv`` (3x3 s2) -> ``linear_conv`` (1x1) on the
    second, then concatenation and a channel shuffle.

    Args:
        in_channels (int): Image channels.
        stem_channels (int): Channels of the first convolution; must be even.
        out_channels (int): Output channels.
        expand_ratio (float): Width of ``expand_conv`` relative to ``stem_channels``.
        conv_cfg (dict, optional): MMCV convolution config.
        norm_cfg (dict, optional): MMCV norm config; None means batch norm.
        with_cp (bool): Activation checkpointing.

    Shape:
        (N, in_channels, H, W) -> (N, out_channels, ceil(ceil(H / 2) / 2), same for W)
    """

    def __init__(self,
                 in_channels: int,
                 stem_channels: int,
                 out_channels: int,
                 expand_ratio: float,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = None,
                 with_cp: bool = False) -> None:
        super().__init__()
        norm_cfg = default_norm_cfg(norm_cfg)
        relu = dict(type='ReLU')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.with_cp = with_cp
        half = stem_channels // 2
        self.split = half
        mid_channels = int(round(stem_channels * expand_ratio))
        # The released structure: when the stem keeps its width, each half keeps half
        # of it; otherwise the second half keeps stem_channels and the first makes up
        # the rest.
        if stem_channels == out_channels:
            branch1_out, branch2_out = out_channels - half, half
        else:
            branch1_out, branch2_out = out_channels - stem_channels, stem_channels
        common = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg)
        self.conv1 = ConvNormAct(in_channels, stem_channels, 3, 2, act_cfg=relu, **common)
        self.branch1 = nn.Sequential(
            ConvNormAct(half, half, 3, 2, groups=half, **common),
            ConvNormAct(half, branch1_out, 1, act_cfg=relu, **common))
        self.expand_conv = ConvNormAct(half, mid_channels, 1, act_cfg=relu, **common)
        self.depthwise_conv = ConvNormAct(
            mid_channels, mid_channels, 3, 2, groups=mid_channels, **common)
        self.linear_conv = ConvNormAct(mid_channels, branch2_out, 1, act_cfg=relu, **common)

    def _forward(self, x: Tensor) -> Tensor:
        x = self.conv1(x)
        x1 = self.branch1(x[:, :self.split])
        x2 = self.linear_conv(self.depthwise_conv(self.expand_conv(x[:, self.split:])))
        return concat_shuffle(x1, x2)

    def forward(self, x: Tensor) -> Tensor:
        return checkpoint_if(self.with_cp, self._forward, x)
