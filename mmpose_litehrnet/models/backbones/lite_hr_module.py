"""One high-resolution module: blocks on every branch, then fusion."""
from typing import List, Optional, Sequence

import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ..blocks import (
    CHANNEL_WEIGHTINGS,
    ConditionalChannelWeighting,
    MultiResolutionFusion,
    ShuffleUnit,
)
from ..layers import Accelerated, writes_in_place

__all__ = ['LiteHRModule', 'MODULE_TYPES']

#: ``'LITE'``: conditional channel weighting blocks; ``'NAIVE'``: shuffle blocks.
MODULE_TYPES = ('LITE', 'NAIVE')


class _FusionReLU(nn.ReLU):
    """``nn.ReLU()`` after the fusion, in place where the pass may write in place
    (:func:`~..layers.writes_in_place`): the fusion's outputs are new tensors of the
    module, read by nothing else."""

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x, inplace=writes_in_place())


class LiteHRModule(Accelerated, nn.Module):
    """A Lite-HRNet module (paper Fig. 1): ``num_blocks`` blocks per branch, then the
    multi-resolution fusion followed by ReLU.

    For ``'LITE'`` the blocks are conditional channel weighting blocks, which see all
    branches at once (``layers.k``); for ``'NAIVE'`` each branch has its own sequence of
    shuffle units (``layers.branch.k``), as in the released checkpoints. The fusion with
    its ReLU (:meth:`fuse`) is the step an accelerator may compute
    (:class:`~..layers.Accelerated`).

    Args:
        in_channels (Sequence[int]): Channels of each branch, highest resolution first.
        num_blocks (int): Blocks per branch.
        module_type (str): ``'LITE'`` or ``'NAIVE'`` (any case).
        reduce_ratio (int): Reduction ratio of the cross-resolution weighting (LITE).
        with_fuse (bool): Whether to fuse the branches at the end.
        fusion (str): ``'legacy'`` (released arithmetic) or ``'hrnet'``.
        weightings (Sequence[str]): The channel weightings of the LITE blocks.
        conv_cfg (dict, optional): MMCV convolution config.
        norm_cfg (dict, optional): MMCV norm config; None means batch norm.
        with_cp (bool): Activation checkpointing of the blocks.

    Shape:
        [(N, C_i, H_i, W_i)] -> [(N, C_i, H_i, W_i)]
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 num_blocks: int,
                 module_type: str,
                 reduce_ratio: int = 8,
                 with_fuse: bool = True,
                 fusion: str = 'legacy',
                 weightings: Sequence[str] = CHANNEL_WEIGHTINGS,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = None,
                 with_cp: bool = False) -> None:
        super().__init__()
        self.module_type = module_type.upper()
        if self.module_type not in MODULE_TYPES:
            raise ValueError(f'LiteHRModule: module_type must be one of {MODULE_TYPES}, '
                             f'got {module_type!r}')
        self.in_channels = list(in_channels)
        self.with_fuse = with_fuse
        common = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, with_cp=with_cp)
        if self.module_type == 'LITE':
            self.layers = nn.Sequential(*(
                ConditionalChannelWeighting(
                    self.in_channels, reduce_ratio, weightings=weightings, **common)
                for _ in range(num_blocks)))
        else:
            self.layers = nn.ModuleList(
                nn.Sequential(*(ShuffleUnit(c, c, **common) for _ in range(num_blocks)))
                for c in self.in_channels)
        if with_fuse:
            self.fuse_layers = MultiResolutionFusion(
                self.in_channels, mode=fusion, conv_cfg=conv_cfg, norm_cfg=norm_cfg)
            # One ReLU for all outputs, as released (the paper's FLOPs count depends on it).
            self.relu = _FusionReLU()

    def forward(self, xs: List[Tensor]) -> List[Tensor]:
        if self.module_type == 'LITE':
            out = self.layers(xs)
        else:
            out = [branch(x) for branch, x in zip(self.layers, xs)]
        return self.fuse(out) if self.with_fuse else out

    def fuse(self, xs: List[Tensor]) -> List[Tensor]:
        """The multi-resolution fusion of ``xs``, then the ReLU."""
        out = self.accelerated(xs)
        if out is not None:
            return out
        return [self.relu(y) for y in self.fuse_layers(xs)]
