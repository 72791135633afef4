"""The Lite-HRNet stem: a stride-2 convolution and a stride-2 shuffle block."""
from typing import Optional

import torch
import torch.nn as nn
from torch import Tensor

from ..layers import (
    Accelerated,
    ConvNormAct,
    channel_shuffle,
    checkpoint_if,
    concat_shuffle,
    default_norm_cfg,
    is_folded_block,
)

__all__ = ['MergedBranchStem', 'Stem']


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
        #: Channels of ``conv1``'s output that ``branch1`` and the second branch take.
        self.split_sizes = (half, stem_channels - half)
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
        first, second = x.split(self.split_sizes, dim=1)
        x2 = self.linear_conv(self.depthwise_conv(self.expand_conv(second)))
        return concat_shuffle(self.branch1(first), x2)

    def forward(self, x: Tensor) -> Tensor:
        return checkpoint_if(self.with_cp, self._forward, x)


class MergedBranchStem(Accelerated, nn.Sequential):
    """The deploy form of a :class:`Stem` whose norms are folded: its two branches as
    one path of four convolutions, with no channel slices, concatenation or shuffle.

    ``expand_conv`` (1x1) passes the first half of ``conv1``'s output through unchanged
    (identity rows: ``conv1`` ends in a ReLU, so the values are non-negative and the
    ReLU after it keeps them) beside the training form's expansion of the second half;
    ``depthwise_conv`` (3x3 s2) is both branches' depthwise convolutions side by side;
    ``linear_conv`` (1x1) is ``branch1``'s last convolution and the ``linear_conv`` as
    one block-diagonal weight whose rows are put in the channel shuffle's order. Four
    calls instead of six, and no copies of the two channel slices of ``conv1``'s output
    (channels-last, each was copied before its convolution), for the multiply-adds of
    the identity rows and the zeros off the diagonal (the stem's 1x1 convolutions do
    2.7x as many: 15M more at 256x192, 7% of Lite-HRNet-18's 205M). On
    Lite-HRNet-18's deploy form (40-60 alternating rounds, per-round ratio to the
    two-branch stem): ONNX Runtime 0.97 (0.96-0.98), compiled 0.99, eager 1.00. Equal
    to the folded stem up to float rounding (the added terms are exact zeros). Its
    forward is the step an accelerator may compute (:class:`~..layers.Accelerated`).

    Args:
        in_channels (int): Image channels.
        stem_channels (int): Channels of ``conv1``.
        split (int): Channels of ``conv1``'s output that ``branch1`` takes (the first).
        mid_channels (int): Channels of the training form's ``expand_conv``.
        branch1_channels (int): Output channels of ``branch1``.
        branch2_channels (int): Output channels of the second branch.

    Shape:
        (N, in_channels, H, W) -> (N, branch1_channels + branch2_channels,
        ceil(ceil(H / 2) / 2), same for W)
    """

    def __init__(self, in_channels: int, stem_channels: int, split: int, mid_channels: int,
                 branch1_channels: int, branch2_channels: int) -> None:
        if min(in_channels, split, mid_channels, branch1_channels, branch2_channels) < 1 \
                or stem_channels <= split:
            raise ValueError(
                'MergedBranchStem: channels must be positive and split < stem_channels, '
                f'got in_channels={in_channels}, stem_channels={stem_channels}, '
                f'split={split}, mid_channels={mid_channels}, '
                f'branch1_channels={branch1_channels}, branch2_channels={branch2_channels}')
        relu = dict(type='ReLU')
        merged = split + mid_channels
        out_channels = branch1_channels + branch2_channels
        super().__init__()
        self.conv1 = ConvNormAct(in_channels, stem_channels, 3, 2, act_cfg=relu)
        self.expand_conv = ConvNormAct(stem_channels, merged, 1, act_cfg=relu)
        self.depthwise_conv = ConvNormAct(merged, merged, 3, 2, groups=merged)
        self.linear_conv = ConvNormAct(merged, out_channels, 1, act_cfg=relu)
        self.split = split
        self.out_channels = out_channels

    def passed_channels(self) -> int:
        """How many of ``conv1``'s channels ``expand_conv`` passes through: ``split``
        while its weights keep the identity rows and zero blocks :meth:`from_stem` made
        (else 0: the kernel multiplies every row)."""
        weight, bias, split = self.expand_conv.conv.weight[..., 0, 0], \
            self.expand_conv.conv.bias, self.split
        eye = torch.eye(split, dtype=weight.dtype, device=weight.device)
        kept = torch.equal(weight[:split, :split], eye) and not weight[:split, split:].any() \
            and not weight[split:, :split].any() and not bias[:split].any()
        return split if kept else 0

    def forward(self, x: Tensor) -> Tensor:
        out = self.accelerated(x)
        if out is not None:
            return out
        return super().forward(x)

    @staticmethod
    def mergeable(stem: Stem) -> bool:
        """Whether ``stem``'s norms are folded: each of its convolutions biased and
        followed only by its activation (ReLU where the training form has one)."""
        layers = (stem.conv1, stem.branch1[0], stem.branch1[1], stem.expand_conv,
                  stem.depthwise_conv, stem.linear_conv)
        relu = (True, False, True, True, False, True)
        return all(is_folded_block(layer, act=nn.ReLU if has_relu else None)
                   for layer, has_relu in zip(layers, relu))

    @classmethod
    @torch.no_grad()
    def from_stem(cls, stem: Stem) -> 'MergedBranchStem':
        """The merged form of ``stem`` (norms folded), on its device and dtype; takes
        over its ``conv1``."""
        if not cls.mergeable(stem):
            raise ValueError('MergedBranchStem: the stem must have its norms folded into '
                             'biased convolutions (switch_to_deploy with batch norms)')
        first_dw, first_pw = stem.branch1[0][0], stem.branch1[1][0]
        expand, dw, linear = (stem.expand_conv[0], stem.depthwise_conv[0],
                              stem.linear_conv[0])
        split, mid = stem.split_sizes[0], expand.out_channels
        merged = cls(stem.in_channels, stem.conv1[0].out_channels, split, mid,
                     first_pw.out_channels, linear.out_channels)
        merged.to(expand.weight)
        merged.conv1 = stem.conv1
        weight = merged.expand_conv.conv.weight.zero_()
        weight[:split, :split, 0, 0] = torch.eye(split, dtype=weight.dtype,
                                                  device=weight.device)
        weight[split:, split:] = expand.weight
        merged.expand_conv.conv.bias.copy_(torch.cat((expand.bias.new_zeros(split),
                                                      expand.bias)))
        merged.depthwise_conv.conv.weight.copy_(torch.cat((first_dw.weight, dw.weight)))
        merged.depthwise_conv.conv.bias.copy_(torch.cat((first_dw.bias, dw.bias)))
        # Output channel j of the training form is channel order[j] of cat(branch1, branch2).
        order = channel_shuffle(torch.arange(merged.out_channels).view(1, -1, 1, 1), 2)
        order = order.flatten().to(expand.weight.device)
        weight = torch.block_diag(first_pw.weight.flatten(1), linear.weight.flatten(1))
        merged.linear_conv.conv.weight.copy_(weight[order].view_as(
            merged.linear_conv.conv.weight))
        merged.linear_conv.conv.bias.copy_(torch.cat((first_pw.bias, linear.bias))[order])
        return merged
