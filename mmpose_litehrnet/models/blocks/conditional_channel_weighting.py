"""Conditional channel weighting (CCW), the block of Lite-HRNet."""
from typing import List, Optional, Sequence

import torch.nn as nn
from torch import Tensor

from ..layers import (
    Accelerated,
    ConvNormAct,
    Reparameterizable,
    checkpoint_if,
    concat_shuffle,
    default_norm_cfg,
    is_folded_block,
    permute_output_channels,
)
from .cross_resolution_weighting import CrossResolutionWeighting
from .spatial_weighting import BlockDiagonalSpatialWeighting, SpatialWeighting

__all__ = ['ConditionalChannelWeighting', 'CHANNEL_WEIGHTINGS']

#: The two weightings of the paper; Table 7 ablates each one alone.
CHANNEL_WEIGHTINGS = ('cross_resolution', 'spatial')


class ConditionalChannelWeighting(Accelerated, Reparameterizable, nn.Module):
    """Conditional channel weighting block (paper Fig. 2b, Sec. 4).

    Over all branches at once: each branch is split into halves; the second halves go
    through the cross-resolution weighting H, a 3x3 depthwise conv-norm per branch and a
    spatial weighting F per branch; then each branch concatenates its two halves and
    shuffles channels. It replaces the two costly 1x1 convolutions of a shuffle block.
    Its forward is the step an accelerator may compute (:class:`~..layers.Accelerated`).

    Args:
        in_channels (Sequence[int]): Channels of each branch (each even).
        reduce_ratio (int): Reduction ratio of the cross-resolution weighting.
        weightings (Sequence[str]): Which of ``'cross_resolution'`` and ``'spatial'`` to
            use; the default is both (the paper's block), one alone reproduces Table 7.
        conv_cfg (dict, optional): MMCV convolution config.
        norm_cfg (dict, optional): MMCV norm config; None means batch norm.
        with_cp (bool): Activation checkpointing.

    Shape:
        [(N, C_i, H_i, W_i)] -> [(N, C_i, H_i, W_i)]
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 reduce_ratio: int,
                 weightings: Sequence[str] = CHANNEL_WEIGHTINGS,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = None,
                 with_cp: bool = False) -> None:
        super().__init__()
        norm_cfg = default_norm_cfg(norm_cfg)
        unknown = set(weightings) - set(CHANNEL_WEIGHTINGS)
        if unknown or not weightings:
            raise ValueError(f'ConditionalChannelWeighting: weightings must be a non-empty '
                             f'subset of {CHANNEL_WEIGHTINGS}, got {tuple(weightings)}')
        self.with_cp = with_cp
        self.halves = [c // 2 for c in in_channels]
        #: Each branch's (first half, second half) channels.
        self.split_sizes = [(h, c - h) for c, h in zip(in_channels, self.halves)]
        if 'cross_resolution' in weightings:
            self.cross_resolution_weighting = CrossResolutionWeighting(
                self.halves, ratio=reduce_ratio, conv_cfg=conv_cfg, norm_cfg=norm_cfg)
        else:
            self.cross_resolution_weighting = None
        self.depthwise_convs = nn.ModuleList(
            ConvNormAct(c, c, 3, groups=c, conv_cfg=conv_cfg, norm_cfg=norm_cfg)
            for c in self.halves)
        if 'spatial' in weightings:
            self.spatial_weighting = nn.ModuleList(
                SpatialWeighting(c, ratio=4) for c in self.halves)
        else:
            self.spatial_weighting = None

    def reparameterize(self) -> None:
        """The deploy form's maths, once the norms are folded: the spatial weightings of
        all branches as one block-diagonal FC pair
        (:class:`BlockDiagonalSpatialWeighting`)."""
        if isinstance(self.spatial_weighting, nn.ModuleList) and all(
                is_folded_block(w.conv1, act=nn.ReLU) and is_folded_block(w.conv2, act=nn.Sigmoid)
                for w in self.spatial_weighting):
            self.spatial_weighting = BlockDiagonalSpatialWeighting.from_branches(
                self.spatial_weighting)

    def _forward(self, *xs: Tensor) -> List[Tensor]:
        # One split, not two slices: in training, the backward of a split concatenates
        # the halves' gradients, while each slice's zero-fills a whole input and the two
        # are then added (the largest non-convolution items of a training step).
        halves = [x.split(sizes, dim=1) for x, sizes in zip(xs, self.split_sizes)]
        firsts = [first for first, _ in halves]
        seconds = self.weight_halves([second for _, second in halves], xs)
        return [
            concat_shuffle(a, b) for a, b in zip(firsts, seconds)
        ]

    def weight_halves(self, seconds: List[Tensor],
                      sources: Optional[Sequence[Tensor]] = None) -> List[Tensor]:
        """The block's computed path on the second halves: the cross-resolution
        weighting, the depthwise convolutions and the spatial weighting.

        Args:
            seconds (list[Tensor]): Each branch's second half, [(N, C_i / 2, H_i, W_i)].
            sources (Sequence[Tensor], optional): The block's inputs, whose trailing
                channels ``seconds`` are, if they are (only used to pool faster).
        """
        if self.cross_resolution_weighting is not None:
            seconds = self.cross_resolution_weighting(seconds, sources)
        seconds = [dw(s) for s, dw in zip(seconds, self.depthwise_convs)]
        if isinstance(self.spatial_weighting, nn.ModuleList):
            seconds = [sw(s) for s, sw in zip(seconds, self.spatial_weighting)]
        elif self.spatial_weighting is not None:  # the deploy form's, for all branches
            seconds = self.spatial_weighting(seconds)
        return seconds

    def permute_halves(self, orders: Sequence[Sequence[int]]) -> None:
        """Reorders the weights of :meth:`weight_halves`, in place, so that it takes and
        gives branch i's second half with its channels in ``orders[i]``: channel ``j``
        of its input and output is channel ``orders[i][j]`` of the half. The block's own
        forward is then wrong: this is for a graph that keeps the order as data
        (:class:`~..backbones.ShuffleFreeLiteHRModule`)."""
        if [len(o) for o in orders] != [s for _, s in self.split_sizes] or any(
                sorted(o) != list(range(len(o))) for o in orders):
            raise ValueError('ConditionalChannelWeighting.permute_halves: orders must be '
                             'permutations of the second halves '
                             f'{[s for _, s in self.split_sizes]}, got lengths '
                             f'{[len(o) for o in orders]}')
        if self.cross_resolution_weighting is not None:
            self.cross_resolution_weighting.permute_channels(orders)
        for dw, order in zip(self.depthwise_convs, orders):
            permute_output_channels(dw, order)
        if isinstance(self.spatial_weighting, nn.ModuleList):
            for sw, order in zip(self.spatial_weighting, orders):
                sw.permute_channels(order)
        elif self.spatial_weighting is not None:
            self.spatial_weighting.permute_channels(orders)

    def forward(self, xs: List[Tensor]) -> List[Tensor]:
        out = self.accelerated(xs)
        if out is not None:
            return out
        return checkpoint_if(self.with_cp, self._forward, *xs)
