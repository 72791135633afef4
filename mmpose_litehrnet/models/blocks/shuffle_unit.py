"""ShuffleNet V2 unit, the block of Naive Lite-HRNet."""
from typing import Optional

import torch.nn as nn
from torch import Tensor

from ..layers import Accelerated, ConvNormAct, checkpoint_if, concat_shuffle, default_norm_cfg

__all__ = ['ShuffleUnit']


class ShuffleUnit(Accelerated, nn.Module):
    """ShuffleNet V2 unit (Ma et al. 2018), used by Naive Lite-HRNet (paper Fig. 2a).

    With stride 1 the first half of the channels passes through and the second goes
    through 1x1 -> 3x3 depthwise -> 1x1; with stride 2 both halves are transformed
    (``branch1``: 3x3 depthwise s2 -> 1x1). Then concatenation and channel shuffle. Its
    forward is the step an accelerator may compute (:class:`~..layers.Accelerated`).

    Args:
        in_channels (int): Input channels C_in.
        out_channels (int): Output channels C_out, even; equal to C_in at stride 1.
        stride (int): 1 or 2.
        conv_cfg (dict, optional): MMCV convolution config.
        norm_cfg (dict, optional): MMCV norm config; None means batch norm.
        with_cp (bool): Activation checkpointing.

    Shape:
        (N, C_in, H, W) -> (N, C_out, ceil(H / stride), ceil(W / stride))
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 stride: int = 1,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = None,
                 with_cp: bool = False) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f'ShuffleUnit: stride must be 1 or 2, got {stride}')
        if out_channels % 2:
            raise ValueError(f'ShuffleUnit: out_channels must be even, got {out_channels}')
        if stride == 1 and in_channels != out_channels:
            raise ValueError('ShuffleUnit: with stride 1, in_channels must equal '
                             f'out_channels, got {in_channels} and {out_channels}')
        norm_cfg = default_norm_cfg(norm_cfg)
        common = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg)
        relu = dict(type='ReLU')
        half = out_channels // 2
        self.stride = stride
        self.with_cp = with_cp
        #: Stride 1: the channels of the half that passes through and of the other.
        self.split_sizes = (half, in_channels - half)
        if stride > 1:
            self.branch1 = nn.Sequential(
                ConvNormAct(in_channels, in_channels, 3, stride, groups=in_channels,
                            **common),
                ConvNormAct(in_channels, half, 1, act_cfg=relu, **common))
        self.branch2 = nn.Sequential(
            ConvNormAct(in_channels if stride > 1 else half, half, 1, act_cfg=relu,
                        **common),
            ConvNormAct(half, half, 3, stride, groups=half, **common),
            ConvNormAct(half, half, 1, act_cfg=relu, **common))

    def _forward(self, x: Tensor) -> Tensor:
        if self.stride > 1:
            return concat_shuffle(self.branch1(x), self.branch2(x))
        first, second = x.split(self.split_sizes, dim=1)
        return concat_shuffle(first, self.branch2(second))

    def forward(self, x: Tensor) -> Tensor:
        out = self.accelerated(x)
        if out is not None:
            return out
        return checkpoint_if(self.with_cp, self._forward, x)
