"""The deploy pipeline: the training form -> the deploy form's maths
(:func:`~mmpose_litehrnet.models.reparameterize`) -> the CPU kernels
(:mod:`mmpose_litehrnet.kernels`) and the ahead-of-time compiled backbone
(:mod:`.aot`).

The training form and its state-dict keys are untouched until this is called; a
deployed model's state dict (without the folded norms, with the merged stem's and the
block-diagonal weightings' parameters) loads into any model of the same config after
``switch_to_deploy``.
"""
from typing import Any, Optional, Sequence, Union

import torch.nn as nn

from ..kernels import attach_cpu_kernels
from ..models import reparameterize
from .aot import aot_cache_dir, attach_aot_backbones

__all__ = ['switch_to_deploy']


def switch_to_deploy(model: nn.Module, test_cfg: Optional[Any] = None,
                     channels_last: Union[bool, str, Sequence[str]] = True,
                     aot: Union[bool, str] = False, cpu_kernels: bool = True) -> nn.Module:
    """Folds every (Conv2d, BatchNorm) pair of ``model``'s sequential containers, in
    place, and puts the model in eval mode. ``test_cfg`` is accepted (and ignored) so
    that MMPose's ``BasePoseEstimator.switch_to_deploy`` can call it.

    ``channels_last`` names the device types on which every Lite-HRNet backbone in
    ``model`` converts its input to ``torch.channels_last`` and runs in that layout:
    ``True`` (the default) is the CPU alone, where oneDNN's depthwise convolutions then
    skip their layout reorders (about half their time at batch 1) and the 1x1
    convolutions read the pixels in place; ``False`` keeps NCHW everywhere; a device type
    or a sequence of them (``('cpu', 'cuda')``) opts GPUs in, and then the backbones'
    convolution weights are stored channels-last too (cuDNN would otherwise convert them
    at every call), so their convolutions give channels-last outputs on every device.
    ONNX export is never converted.

    ``aot`` (True, or a cache directory) makes every Lite-HRNet backbone run its no-grad
    float32 CPU forward passes through an AOTInductor package compiled on first use for
    the input's size (a batch of 1, or any larger one) and cached on disk
    (:class:`~mmpose_litehrnet.deploy.aot.AOTBackbone`): MMPose's own test and
    inference path then runs the compiled graph.

    ``cpu_kernels`` (the default) makes the stem, every transition path, every
    conditional channel weighting block, every multi-resolution fusion (with its ReLU),
    the iterative head and every stride-1 shuffle unit one operator call in no-grad
    float32 CPU passes that are not traced or exported
    (:mod:`mmpose_litehrnet.kernels`, built with the C++ compiler at first use and
    cached; where that fails a warning says so and the PyTorch operators run). Returns
    ``model``."""
    cache_dir = aot_cache_dir(aot)
    reparameterize(model, channels_last)
    attach_cpu_kernels(model, cpu_kernels)
    attach_aot_backbones(model, cache_dir)
    return model
