"""Batch norms folded into the convolutions before them: the deploy form's maths, and
the one test of whether a convolution has been folded."""
from typing import Optional, Type

import torch
import torch.nn as nn
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

from .matmul_conv import MatmulConv1x1

__all__ = ['Reparameterizable', 'as_matmul_conv', 'fold_batch_norms', 'fold_conv_bn',
           'is_folded_block', 'is_folded_conv']


class Reparameterizable:
    """A module with deploy-form maths of its own, which
    :func:`~mmpose_litehrnet.models.reparameterize` applies (once the norms are folded)
    by calling :meth:`reparameterize`."""

    def reparameterize(self) -> None:
        """Puts the module in its deploy form, in place, where its layers allow."""
        raise NotImplementedError


@torch.no_grad()
def fold_conv_bn(conv: nn.Conv2d, bn: _BatchNorm) -> nn.Conv2d:
    """Returns ``conv`` with ``bn`` (eval mode) folded into its weight and bias."""
    def exact(t: Tensor) -> Tensor:
        # On the CPU in float64 (which not every device has), so that each folded value
        # is rounded once, when it is copied back, not after every step.
        return t.detach().to('cpu', torch.float64)

    scale = exact(bn.weight) / torch.sqrt(exact(bn.running_var) + bn.eps)
    bias = exact(conv.bias) if conv.bias is not None else torch.zeros_like(scale)
    fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                      conv.padding, conv.dilation, conv.groups, bias=True,
                      padding_mode=conv.padding_mode).to(conv.weight)
    fused.weight.copy_(exact(conv.weight) * scale.reshape(-1, 1, 1, 1))
    fused.bias.copy_((bias - exact(bn.running_mean)) * scale + exact(bn.bias))
    return fused


def fold_batch_norms(model: nn.Module) -> None:
    """Folds every (``Conv2d``, ``_BatchNorm``) pair that stands next to each other in a
    ``nn.Sequential`` of ``model`` (``ConvNormAct``, the fusion and transition paths),
    in place: the norm is removed from the container. Norms without running statistics
    or affine parameters are kept."""
    for module in list(model.modules()):
        if not isinstance(module, nn.Sequential):
            continue
        layers = list(module._modules.items())
        for (first, conv), (second, bn) in zip(layers, layers[1:]):
            if type(conv) is nn.Conv2d and isinstance(bn, _BatchNorm) \
                    and bn.track_running_stats and bn.affine:
                module._modules[first] = fold_conv_bn(conv, bn)
                del module._modules[second]


def is_folded_conv(conv: nn.Module, kernel_size: Optional[int] = None,
                   stride: Optional[int] = None, depthwise: Optional[bool] = None) -> bool:
    """Whether ``conv`` is a folded convolution: a plain biased ``nn.Conv2d`` (or its
    :class:`MatmulConv1x1` form) with a square kernel, padded to keep
    ``ceil(H / stride)``, no dilation, zero padding; and, where given, with that kernel
    size and stride, depthwise (``groups == C_in == C_out``) or dense (one group)."""
    if type(conv) not in (nn.Conv2d, MatmulConv1x1) or conv.bias is None:
        return False
    k = conv.kernel_size[0]
    if conv.kernel_size != (k, k) or conv.padding != (k // 2, k // 2) \
            or conv.dilation != (1, 1) or conv.padding_mode != 'zeros' \
            or conv.stride[0] != conv.stride[1]:
        return False
    if kernel_size is not None and k != kernel_size:
        return False
    if stride is not None and conv.stride[0] != stride:
        return False
    if depthwise is None:
        return True
    return conv.groups == conv.in_channels == conv.out_channels if depthwise \
        else conv.groups == 1


def is_folded_block(block: nn.Module, kernel_size: Optional[int] = None,
                    stride: Optional[int] = None, depthwise: Optional[bool] = None,
                    act: Optional[Type[nn.Module]] = None) -> bool:
    """Whether ``block`` is a conv-norm-act block with its norm folded: a sequence of a
    convolution that :func:`is_folded_conv` accepts (with those arguments), then an
    activation of exactly the type ``act`` (none when ``act`` is None), nothing else."""
    return isinstance(block, nn.Sequential) and len(block) == 1 + (act is not None) \
        and is_folded_conv(block[0], kernel_size, stride, depthwise) \
        and (act is None or type(block[1]) is act)


def as_matmul_conv(conv: nn.Module) -> nn.Module:
    """``conv`` as a :class:`MatmulConv1x1` (same parameters, device and dtype) when it
    is a plain folded 1x1 dense convolution with stride 1; otherwise ``conv`` itself."""
    if type(conv) is not nn.Conv2d or not is_folded_conv(conv, 1, 1, depthwise=False):
        return conv
    fast = MatmulConv1x1(conv.in_channels, conv.out_channels, 1).to(conv.weight)
    fast.load_state_dict(conv.state_dict())
    return fast
