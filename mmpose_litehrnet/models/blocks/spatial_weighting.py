"""Spatial weighting F of conditional channel weighting."""
import torch.nn as nn
from torch import Tensor

from ..layers import ConvNormAct, folded_weighting_mlp, global_average

__all__ = ['SpatialWeighting']


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
        #: Set by :func:`mmpose_litehrnet.deploy.switch_to_deploy`: the forward pass then
        #: calls the operators directly, with the same parameters (the FCs have no norm
        #: to fold). At batch 1 on the CPU the layered form, module calls and views
        #: included, took 2-4x the direct form's time per call in a microbenchmark; the
        #: paper-FLOPs counter needs the layered form.
        self.direct = False

    def forward(self, x: Tensor) -> Tensor:
        if self.direct:
            weights = folded_weighting_mlp(global_average(x), self.conv1, self.conv2)
            return x * weights.view(*weights.shape, 1, 1)
        return x * self.conv2(self.conv1(self.global_avgpool(x)))
