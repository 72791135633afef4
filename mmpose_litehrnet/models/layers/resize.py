"""Nearest-neighbour resizing to a given size, as a module."""
from typing import List

import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

__all__ = ['NearestResize']


class NearestResize(nn.Module):
    """Nearest upsampling to the size of the branch it is fused into.

    The original fusion uses ``nn.Upsample(scale_factor=2 ** k)``, which only lands on
    the target size when the input is a multiple of 32; resizing to the target's size
    is identical there (nearest with an exact integer ratio) and works for every size.
    It stays a module so that the FLOPs counter sees it as the paper's tool did.

    Shape:
        x: (N, C, h, w), size: [H, W] -> (N, C, H, W)
    """

    def forward(self, x: Tensor, size: List[int]) -> Tensor:
        return F.interpolate(x, size=size, mode='nearest')
