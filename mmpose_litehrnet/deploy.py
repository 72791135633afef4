"""Inference form: batch norms folded into the convolutions before them.

``switch_to_deploy(model)`` rewrites any model in place (a backbone, or a whole MMPose /
MMSeg model): in every ``nn.Sequential`` (our ``ConvNormAct``, the fusion and transition
paths), a ``_BatchNorm`` right after a ``Conv2d`` is folded into the convolution's weight
and bias and replaced by ``nn.Identity``. Outputs stay equal to the eval-mode training
form up to float rounding. The training form and its state-dict keys are untouched until
this is called; a deployed model's state dict (without the folded norms) loads into any
model of the same config after ``switch_to_deploy``.
"""
from typing import Any, Optional

import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = ['fold_conv_bn', 'switch_to_deploy']


@torch.no_grad()
def fold_conv_bn(conv: nn.Conv2d, bn: _BatchNorm) -> nn.Conv2d:
    """Returns ``conv`` with ``bn`` (eval mode) folded into its weight and bias."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                      conv.padding, conv.dilation, conv.groups, bias=True,
                      padding_mode=conv.padding_mode).to(conv.weight)
    fused.weight.copy_(conv.weight * scale.reshape(-1, 1, 1, 1))
    fused.bias.copy_((bias - bn.running_mean) * scale + bn.bias)
    return fused


def switch_to_deploy(model: nn.Module, test_cfg: Optional[Any] = None) -> nn.Module:
    """Folds every (Conv2d, BatchNorm) pair of ``model``'s sequential containers, in
    place, and puts the model in eval mode. ``test_cfg`` is accepted (and ignored) so
    that MMPose's ``BasePoseEstimator.switch_to_deploy`` can call it. Returns ``model``."""
    model.eval()
    for module in list(model.modules()):
        if not isinstance(module, nn.Sequential):
            continue
        names = list(module._modules)
        for first, second in zip(names, names[1:]):
            conv, bn = module._modules[first], module._modules[second]
            if type(conv) is nn.Conv2d and isinstance(bn, _BatchNorm) \
                    and bn.track_running_stats and bn.affine:
                module._modules[first] = fold_conv_bn(conv, bn)
                module._modules[second] = nn.Identity()
    return model
