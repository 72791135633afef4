"""A single-tensor forward for any model: what tracing, export and FLOP counters need."""
from typing import Any

import torch
import torch.nn as nn

__all__ = ['TensorForward']


class TensorForward(nn.Module):
    """Calls an MMEngine model in ``'tensor'`` mode (a pose model gives its heatmaps), a
    plain module as it is: the single-tensor forward that tracing, export and the FLOPs
    counters need.

    Shape:
        (N, 3, H, W) -> the model's tensor output
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> Any:
        from mmengine.model import BaseModel
        if isinstance(self.model, BaseModel):
            return self.model(x, None, mode='tensor')
        return self.model(x)
