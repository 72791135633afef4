"""The deploy form's maths: the training form reparameterised for inference.

:func:`reparameterize` rewrites any model in place (a backbone, or a whole MMPose /
MMSeg model): batch norms folded into the convolutions before them
(:func:`~.layers.fold_batch_norms`); each folded stem's two branches as one path
(:class:`~.blocks.MergedBranchStem`); every plain biased 1x1 ``Conv2d`` as a
:class:`~.layers.MatmulConv1x1`; each :class:`~.layers.Reparameterizable` block's own
maths (the channel weightings as matrix products, the spatial weightings
block-diagonal); and every Lite-HRNet backbone's input layout. Outputs stay equal to
the eval-mode training form up to float rounding. Nothing here knows of accelerators:
``mmpose_litehrnet.deploy`` adds them (:func:`~.layers.install_deploy_pipeline`).
"""
from typing import Sequence, Union

import torch.nn as nn

from .backbones import LiteHRModule, LiteHRNet, ShuffleFreeLiteHRModule
from .blocks import MergedBranchStem, Stem
from .layers import (
    Reparameterizable,
    as_matmul_conv,
    channels_last_device_types,
    fold_batch_norms,
)

__all__ = ['fold_channel_shuffles', 'reparameterize']


def reparameterize(model: nn.Module,
                   channels_last: Union[bool, str, Sequence[str]] = True) -> nn.Module:
    """``model`` in its deploy form, in place, in eval mode (see the module docstring);
    ``channels_last`` names the device types on which its Lite-HRNet backbones run
    channels-last (``LiteHRNet.set_channels_last``). Returns ``model``."""
    devices = channels_last_device_types(channels_last)
    model.eval()
    fold_batch_norms(model)
    for module in list(model.modules()):
        for name, child in list(module._modules.items()):
            if isinstance(child, Stem) and MergedBranchStem.mergeable(child):
                module._modules[name] = MergedBranchStem.from_stem(child)
    for module in list(model.modules()):
        for name, child in list(module._modules.items()):
            module._modules[name] = as_matmul_conv(child)
        if isinstance(module, LiteHRNet):
            module.set_channels_last(devices)
        if isinstance(module, Reparameterizable):
            module.reparameterize()
    return model


def fold_channel_shuffles(model: nn.Module) -> nn.Module:
    """``model`` with every ``'LITE'`` module of even branch widths replaced by its
    :class:`~.backbones.ShuffleFreeLiteHRModule`, in place: the form the ONNX exports
    without our kernels take (fewer copies in OpenVINO; slower in eager PyTorch, whose
    splits are views). Outputs stay equal up to float rounding. Returns ``model``."""
    for module in list(model.modules()):
        for name, child in list(module._modules.items()):
            if isinstance(child, LiteHRModule) and child.module_type == 'LITE' \
                    and not any(c % 2 for c in child.in_channels):
                module._modules[name] = ShuffleFreeLiteHRModule(child)
    return model
