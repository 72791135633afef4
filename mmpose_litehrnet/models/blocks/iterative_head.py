"""The iterative head that refines the branches from low to high resolution."""
from typing import List, Optional, Sequence

import torch.nn as nn
from torch import Tensor

from ..layers import Accelerated, DepthwiseSeparableConv, upsample_bilinear

__all__ = ['IterativeHead']


class IterativeHead(Accelerated, nn.Module):
    """Top-down refinement over the branches (released Lite-HRNet's ``with_head``).

    Starting from the lowest resolution, each branch gets the previous result
    (bilinearly upsampled, ``align_corners=True``) added and goes through a depthwise
    separable convolution that maps it to the next branch's width; the highest branch
    keeps its width. ``projects[k]`` processes the k-th branch counted from the lowest.
    Its forward is the step an accelerator may compute (:class:`~..layers.Accelerated`).

    Args:
        in_channels (Sequence[int]): Channels of each branch, highest resolution first.
        conv_cfg (dict, optional): MMCV convolution config.
        norm_cfg (dict, optional): MMCV norm config; None means batch norm.

    Shape:
        [(N, C_i, H_i, W_i)] -> [(N, D_i, H_i, W_i)] with D_i = C_{i-1} for i > 0 and
        D_0 = C_0 (e.g. 40/80/160/320 -> 40/40/80/160).
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = None) -> None:
        super().__init__()
        low_to_high = list(in_channels)[::-1]
        targets = low_to_high[1:] + low_to_high[-1:]
        self.out_channels = [low_to_high[-1]] + list(in_channels)[:-1]
        self.projects = nn.ModuleList(
            DepthwiseSeparableConv(c_in, c_out, conv_cfg=conv_cfg, norm_cfg=norm_cfg)
            for c_in, c_out in zip(low_to_high, targets))

    def forward(self, xs: List[Tensor]) -> List[Tensor]:
        accelerated = self.accelerated(xs)
        if accelerated is not None:
            return accelerated
        out: List[Tensor] = []
        for k, project in enumerate(self.projects):
            x = xs[len(xs) - 1 - k]
            if out:
                x = x + upsample_bilinear(out[-1], x.shape[-2:])
            out.append(project(x))
        return out[::-1]
