"""ShuffleNet V2 unit, the block of Naive Lite-HRNet."""
from typing import List, Optional, Tuple

import torch.nn as nn
from torch import Tensor

from ..layers import (
    ConvNormAct,
    CPUKernelMixin,
    checkpoint_if,
    concat_shuffle,
    conv_operands,
    default_norm_cfg,
    is_kernel_conv_act,
    kernel,
    pack_operands,
)

__all__ = ['ShuffleUnit']


class ShuffleUnit(CPUKernelMixin, nn.Module):
    """ShuffleNet V2 unit (Ma et al. 2018), used by Naive Lite-HRNet (paper Fig. 2a).

    With stride 1 the first half of the channels passes through and the second goes
    through 1x1 -> 3x3 depthwise -> 1x1; with stride 2 both halves are transformed
    (``branch1``: 3x3 depthwise s2 -> 1x1). Then concatenation and channel shuffle.

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

    def supports_cpu_kernel(self) -> bool:
        """Whether this unit is in the deploy form that
        ``torch.ops.mmpose_litehrnet.shuffle_unit`` computes: stride 1, equal halves, its
        norms folded into biased convolutions, ReLU after both 1x1 convolutions."""
        if self.stride != 1 or self.split_sizes[0] != self.split_sizes[1]:
            return False
        first, depthwise, last = self.branch2
        return is_kernel_conv_act(first, 1, relu=True) and is_kernel_conv_act(depthwise, 3) \
            and is_kernel_conv_act(last, 1, relu=True)

    def _kernel_slots(self) -> List[Tuple[nn.Module, str]]:
        return [(block.conv, name) for block in self.branch2 for name in ('weight', 'bias')]

    def _kernel_operands(self) -> List[Tensor]:
        return pack_operands([t for block in self.branch2 for t in conv_operands(block.conv)])

    def call_kernel(self, x: Tensor) -> Tensor:
        return kernel('shuffle_unit')(x, *self.kernel_operands())

    def _forward(self, x: Tensor) -> Tensor:
        if self.stride > 1:
            return concat_shuffle(self.branch1(x), self.branch2(x))
        first, second = x.split(self.split_sizes, dim=1)
        return concat_shuffle(first, self.branch2(second))

    def forward(self, x: Tensor) -> Tensor:
        if self.uses_cpu_kernel([x]):
            return self.call_kernel(x)
        return checkpoint_if(self.with_cp, self._forward, x)
