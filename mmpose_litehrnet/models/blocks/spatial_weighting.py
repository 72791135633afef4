"""Spatial weighting F of conditional channel weighting."""
from typing import List, Sequence

import torch
import torch.nn as nn
from torch import Tensor

from ..layers import (
    ConvNormAct,
    concatenated_order,
    global_average,
    permute_input_channels,
    permute_output_channels,
    weighting_mlp,
)

__all__ = ['BlockDiagonalSpatialWeighting', 'SpatialWeighting']


class SpatialWeighting(nn.Module):
    """Per-branch channel weights from the branch itself (paper Eq. 5, SE-style).

    Global average pooling -> FC (1x1 conv, ReLU) -> FC (1x1 conv, sigmoid); the
    weights multiply the input channel-wise.

    Args:
        channels (int): Channels C of the branch.
        ratio (int): Reduction of the hidden FC, ``int(C / ratio)`` units (the released
            models use 4).

    Shape:
        (N, C, H, W) -> (N, C, H, W)
    """

    def __init__(self, channels: int, ratio: int = 4) -> None:
        super().__init__()
        hidden = int(channels / ratio)
        if hidden < 1:
            raise ValueError(f'SpatialWeighting: channels={channels} / ratio={ratio} '
                             'leaves no hidden unit')
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.conv1 = ConvNormAct(channels, hidden, act_cfg=dict(type='ReLU'))
        self.conv2 = ConvNormAct(hidden, channels, act_cfg=dict(type='Sigmoid'))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.conv2(self.conv1(self.global_avgpool(x)))

    def permute_channels(self, order: Sequence[int]) -> None:
        """Reorders the weights, in place, for the input's channels in ``order``
        (channel ``j`` is channel ``order[j]``)."""
        permute_input_channels(self.conv1.conv.weight, order)
        permute_output_channels(self.conv2, order)


class BlockDiagonalSpatialWeighting(nn.Module):
    """The spatial weightings F of every branch of one block as one FC pair: the deploy
    form of a list of :class:`SpatialWeighting`.

    Each branch's FCs act on its own pooled vector only, so concatenating the branches'
    pooled vectors turns the branch FCs into one FC with the block-diagonal weight
    ``block_diag(W_1, ..., W_B)`` (and concatenated biases): two matrix products per
    block instead of two per branch. At batch 1 on the CPU the products are tiny (a few
    hundred multiply-adds per branch) and their fixed cost per call dominates; the zeros
    off the diagonal cost less than the calls they save (measured on Lite-HRNet-18:
    about 5% of the deploy form's latency, eager and compiled). Equal to the branch
    weightings up to float rounding.

    Args:
        channels (Sequence[int]): Channels C_i of each branch.
        hidden (Sequence[int]): Hidden units of each branch's first FC.

    Shape:
        [(N, C_i, H_i, W_i)] -> [(N, C_i, H_i, W_i)]
    """

    def __init__(self, channels: Sequence[int], hidden: Sequence[int]) -> None:
        super().__init__()
        if len(channels) != len(hidden) or not channels \
                or min(*channels, *hidden) < 1:
            raise ValueError('BlockDiagonalSpatialWeighting: channels and hidden must be '
                             'positive, one of each per branch, got '
                             f'channels={tuple(channels)}, hidden={tuple(hidden)}')
        #: Each branch's channels in the concatenated pooled vector, and hidden units.
        self.channels = [int(c) for c in channels]
        self.hidden = [int(h) for h in hidden]
        total, total_hidden = sum(channels), sum(hidden)
        self.weight1 = nn.Parameter(torch.zeros(total_hidden, total))
        self.bias1 = nn.Parameter(torch.zeros(total_hidden))
        self.weight2 = nn.Parameter(torch.zeros(total, total_hidden))
        self.bias2 = nn.Parameter(torch.zeros(total))

    @classmethod
    @torch.no_grad()
    def from_branches(cls, weightings: Sequence[SpatialWeighting]
                      ) -> 'BlockDiagonalSpatialWeighting':
        """The block-diagonal form of ``weightings`` (one per branch, in branch order),
        on their device and dtype."""
        fc1s = [w.conv1.conv for w in weightings]
        fc2s = [w.conv2.conv for w in weightings]
        merged = cls([fc.in_channels for fc in fc1s], [fc.out_channels for fc in fc1s])
        merged.to(fc1s[0].weight)
        merged.weight1.copy_(torch.block_diag(*(fc.weight.flatten(1) for fc in fc1s)))
        merged.bias1.copy_(torch.cat([fc.bias for fc in fc1s]))
        merged.weight2.copy_(torch.block_diag(*(fc.weight.flatten(1) for fc in fc2s)))
        merged.bias2.copy_(torch.cat([fc.bias for fc in fc2s]))
        return merged

    @torch.no_grad()
    def permute_channels(self, orders: Sequence[Sequence[int]]) -> None:
        """Reorders the weights, in place, for branch i's channels in ``orders[i]``
        (channel ``j`` is channel ``orders[i][j]``)."""
        order = concatenated_order(orders)
        permute_input_channels(self.weight1, order)
        index = torch.as_tensor(order, device=self.weight2.device)
        self.weight2.copy_(self.weight2[index])
        self.bias2.copy_(self.bias2[index])

    def forward(self, xs: List[Tensor]) -> List[Tensor]:
        pooled = torch.cat([global_average(x) for x in xs], dim=1)
        weights = weighting_mlp(pooled, self.weight1, self.bias1, self.weight2, self.bias2)
        # One reshape and one split for the block: an exported graph gets a Reshape and
        # a Split, not a reshape per branch.
        weights = weights.view(-1, self.bias2.shape[0], 1, 1)
        return [x * w for x, w in zip(xs, weights.split(self.channels, dim=1))]
