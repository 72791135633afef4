"""Activation checkpointing that works for one tensor or a list of branches."""
from typing import Callable, TypeVar

import torch
import torch.utils.checkpoint as cp
from torch import Tensor

__all__ = ['checkpoint_if']

T = TypeVar('T')


def checkpoint_if(enabled: bool, function: Callable[..., T], *inputs: Tensor) -> T:
    """Runs ``function(*inputs)``, through activation checkpointing when ``enabled``
    and a gradient is being recorded for one of the inputs.

    MMPose's Lite-HRNet tested ``x.requires_grad`` on a list of branches and crashed;
    here every input is a tensor argument, so any number of branches works, and the
    non-reentrant checkpoint gives the same gradients as the plain call.
    """
    if enabled and torch.is_grad_enabled() and any(t.requires_grad for t in inputs):
        return cp.checkpoint(function, *inputs, use_reentrant=False)
    return function(*inputs)
