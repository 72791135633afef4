"""FLOPs in the convention of the Lite-HRNet paper's tables.

The authors counted with torchstat: forward hooks on leaf modules, each module counted
once, for its last call, with these costs (all for batch 1):

* convolution: ``k_h * k_w * C_in / groups * C_out * H_out * W_out`` multiply-accumulates,
  plus ``C_out * H_out * W_out`` with a bias (transposed convolution, which Lite-HRNet does
  not use but the peers' heads do: the same with the input's H, W);
* batch norm: 2 per output element; ReLU: 1 per output element;
* nearest upsampling module: ``N * H_out * W_out`` (channels not counted);
* ``nn.AdaptiveAvgPool2d``: ``C * (H_in + 1) * (W_in + 1)``;
* deformable convolution (DEKR's head, :class:`GridSampleDeformConv2d`): as a convolution
  of its weight, the bilinear sampling not counted;
* linear layer (not in Lite-HRNet: the SimCC, RTMPose and regression heads):
  ``in_features`` multiply-accumulates per output element, no bias (torchstat's rule,
  which takes 2-D inputs only, extended to the heads' (N, K, features) inputs);
* everything else (sigmoid, functional interpolation and pooling, additions,
  multiplications, concatenation, shuffle): 0.

"M" is 2**20. Counting once per module is what makes the published numbers: a fusion
shares one ReLU module across its outputs, so only its last (lowest-resolution) call
counts, and a path called twice counts once. Our modules keep that structure, so the
same rules on our model give the published table.
"""
from typing import Dict, Sequence, Tuple

import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..models.layers import GridSampleDeformConv2d, NearestResize

__all__ = ['count_paper_flops', 'format_mega']


def _module_cost(module: nn.Module, inputs: Tuple, output: torch.Tensor) -> int:
    if isinstance(module, (nn.Conv2d, GridSampleDeformConv2d)):
        n, c_out, h, w = output.shape
        k_h, k_w = module.kernel_size
        macs = k_h * k_w * module.in_channels // module.groups * c_out * h * w
        return n * (macs + (c_out * h * w if getattr(module, 'bias', None) is not None
                            else 0))
    if isinstance(module, nn.ConvTranspose2d):  # not in the Lite-HRNet models: peers' heads
        n, c_in, h, w = inputs[0].shape
        k_h, k_w = module.kernel_size
        macs = k_h * k_w * c_in // module.groups * module.out_channels * h * w
        return n * (macs + (module.out_channels * output.shape[2] * output.shape[3]
                            if module.bias is not None else 0))
    if isinstance(module, _BatchNorm):
        return 2 * output.numel()
    if isinstance(module, nn.ReLU):
        return output.numel()
    if isinstance(module, (nn.Upsample, NearestResize)):
        n, _, h, w = output.shape
        return n * h * w
    if isinstance(module, nn.Linear):
        return module.in_features * output.numel()
    if isinstance(module, nn.AdaptiveAvgPool2d):
        _, c, h, w = inputs[0].shape
        return c * (h + 1) * (w + 1)
    return 0


@torch.no_grad()
def count_paper_flops(model: nn.Module, shape: Sequence[int]) -> int:
    """Counts FLOPs of ``model(torch.randn(*shape))`` by the paper's rules (above).

    Args:
        model (nn.Module): Any model; put into eval mode for the count, then restored.
        shape (Sequence[int]): Input shape, e.g. (1, 3, 256, 192).

    Returns:
        int: the FLOPs (multiply-accumulates for convolutions).
    """
    last_call: Dict[nn.Module, int] = {}
    handles = [
        module.register_forward_hook(
            lambda m, i, o: last_call.__setitem__(m, _module_cost(m, i, o)))
        for module in model.modules() if not list(module.children())
    ]
    was_training = model.training
    model.eval()
    try:
        param = next(model.parameters(), None)
        device = param.device if param is not None else torch.device('cpu')
        model(torch.randn(*shape, device=device))
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return sum(last_call.values())


def format_mega(value: float) -> str:
    """``205.2M`` style, with M = 2**20 as in the paper."""
    return f'{value / 2**20:.1f}M'
