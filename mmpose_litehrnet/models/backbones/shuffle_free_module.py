"""A Lite-HRNet module whose channel splits and shuffles are folded into its weights: the
form of the graphs exported for runtimes without our kernels."""
import copy
from typing import Dict, List, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from ..layers import (
    Gathering,
    channel_shuffle,
    cut_points,
    plan_gathering,
    shuffle_groups,
)
from .lite_hr_module import LiteHRModule

__all__ = ['ShuffleFreeLiteHRModule']

_Pieces = Dict[Tuple[int, int, int], Tensor]  # (piece, start, stop) -> slice


class ShuffleFreeLiteHRModule(nn.Module):
    """A ``'LITE'`` :class:`LiteHRModule` that moves no channel it need not move.

    Each conditional channel weighting block splits every branch into halves, weights
    the second half and interleaves the two (a concatenation and a channel shuffle). Here
    the interleaving is kept as data: where each channel of the canonical tensor is
    stored. A block's second half is gathered from where its channels are, as few
    slices as possible in whatever order they come (:func:`~..layers.plan_gathering`),
    and the block's weights are reordered to match
    (:meth:`~..blocks.ConditionalChannelWeighting.permute_halves`). The canonical tensor
    is made once, before the fusion, by one concatenation and one channel shuffle (or a
    gather where no shuffle restores it). For two blocks that is a half and a whole
    concatenation and a 4-group shuffle per branch, where the blocks made two of each
    (a 2-group shuffle). Outputs equal the module's up to float rounding.

    Eager PyTorch is slower with it (its splits are views and its shuffles one stacked
    copy): it is for exported graphs, which OpenVINO runs faster.

    Args:
        module (LiteHRModule): A ``'LITE'`` module with even branch widths; its fusion is
            shared, its blocks copied.

    Shape:
        [(N, C_i, H_i, W_i)] -> [(N, C_i, H_i, W_i)]
    """

    def __init__(self, module: LiteHRModule) -> None:
        super().__init__()
        if module.module_type != 'LITE' or any(c % 2 for c in module.in_channels):
            raise ValueError('ShuffleFreeLiteHRModule: needs a LITE module with even branch '
                             f'widths, got {module.module_type} {module.in_channels}')
        channels = module.in_channels
        # Piece 0 is the module's input, piece b + 1 the computed half of block b.
        where = [[(0, c) for c in range(width)] for width in channels]
        self.second_halves: List[List[Gathering]] = []
        blocks = []
        for b, block in enumerate(module.layers):
            gatherings = [plan_gathering(places[width // 2:])
                          for places, width in zip(where, channels)]
            for i, (g, width) in enumerate(zip(gatherings, channels)):
                stored = {k: j for j, k in enumerate(g.order)}
                half = width // 2
                interleaved = [None] * width
                interleaved[0::2] = where[i][:half]
                interleaved[1::2] = [(b + 1, stored[k]) for k in range(half)]
                where[i] = interleaved
            block = copy.deepcopy(block)
            block.permute_halves([g.order for g in gatherings])
            blocks.append(block)
            self.second_halves.append(gatherings)
        self.blocks = nn.ModuleList(blocks)
        self.outputs = [plan_gathering(places) for places in where]
        self.groups = [shuffle_groups(g.order) for g in self.outputs]
        for i, (g, groups) in enumerate(zip(self.outputs, self.groups)):
            if groups is None:
                inverse = [0] * len(g.order)
                for j, k in enumerate(g.order):
                    inverse[k] = j
                self.register_buffer(f'gather{i}', torch.tensor(inverse), persistent=False)
        per_branch = [[halves[i] for halves in self.second_halves] + [self.outputs[i]]
                      for i in range(len(channels))]
        self.cuts = [cut_points(gatherings) for gatherings in per_branch]
        self.runs = [{run for g in gatherings for run in g.runs} for gatherings in per_branch]
        self.with_fuse = module.with_fuse
        if module.with_fuse:
            self.fuse_layers = module.fuse_layers
            self.relu = module.relu

    def _cut(self, pieces: _Pieces, branch: int, piece: int, x: Tensor) -> None:
        """Puts the slices of ``x`` the plan takes into ``pieces``: one split where they
        tile it."""
        points = self.cuts[branch].get(piece, ())
        spans = list(zip(points, points[1:]))
        if spans == [(0, x.shape[1])]:
            pieces[(piece, 0, x.shape[1])] = x
        elif points[:1] == (0, ) and points[-1:] == (x.shape[1], ) and all(
                (piece, s, e) in self.runs[branch] for s, e in spans):
            for (s, e), part in zip(spans, x.split([e - s for s, e in spans], dim=1)):
                pieces[(piece, s, e)] = part
        else:
            for p, s, e in self.runs[branch]:
                if p == piece:
                    pieces[(p, s, e)] = x[:, s:e]

    @staticmethod
    def _gather(pieces: _Pieces, gathering: Gathering) -> Tensor:
        parts = [pieces[run] for run in gathering.runs]
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)

    def forward(self, xs: List[Tensor]) -> List[Tensor]:
        pieces: List[_Pieces] = [{} for _ in xs]
        for i, x in enumerate(xs):
            self._cut(pieces[i], i, 0, x)
        for b, (block, gatherings) in enumerate(zip(self.blocks, self.second_halves)):
            seconds = [self._gather(p, g) for p, g in zip(pieces, gatherings)]
            for i, y in enumerate(block.weight_halves(seconds)):
                self._cut(pieces[i], i, b + 1, y)
        outs = []
        for i, (gathering, groups) in enumerate(zip(self.outputs, self.groups)):
            z = self._gather(pieces[i], gathering)
            if groups is None:
                z = z.index_select(1, getattr(self, f'gather{i}'))
            elif groups > 1:
                z = channel_shuffle(z, groups)
            outs.append(z)
        if not self.with_fuse:
            return outs
        return [self.relu(y) for y in self.fuse_layers(outs)]
