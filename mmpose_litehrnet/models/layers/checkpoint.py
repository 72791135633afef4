"""Activation checkpointing that works for one tensor or a list of branches."""
import contextlib
from typing import Callable, Iterator, List, TypeVar

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from torch import Tensor

__all__ = ['checkpoint_if']

T = TypeVar('T')


@contextlib.contextmanager
def _buffers_kept(buffers: List[Tensor]) -> Iterator[None]:
    """Restores the values of ``buffers`` on exit."""
    saved = [b.clone() for b in buffers]
    try:
        yield
    finally:
        with torch.no_grad():
            for buffer, value in zip(buffers, saved):
                buffer.copy_(value)


def checkpoint_if(enabled: bool, function: Callable[..., T], *inputs: Tensor) -> T:
    """Runs ``function(*inputs)``, through activation checkpointing when ``enabled``
    and a gradient is being recorded for one of the inputs.

    MMPose's Lite-HRNet tested ``x.requires_grad`` on a list of branches and crashed;
    here every input is a tensor argument, so any number of branches works, and the
    non-reentrant checkpoint gives the same gradients as the plain call. When
    ``function`` is a method of a module, that module's buffers (the norms' running
    statistics: batch norms, MMCV's and PyTorch's SyncBN) are restored after the forward
    pass that the backward pass recomputes, which would otherwise update them a second
    time: once per step, as without checkpointing.
    """
    if not (enabled and torch.is_grad_enabled() and any(t.requires_grad for t in inputs)):
        return function(*inputs)
    owner = getattr(function, '__self__', None)
    buffers = list(owner.buffers()) if isinstance(owner, nn.Module) else []
    return cp.checkpoint(function, *inputs, use_reentrant=False,
                         context_fn=lambda: (contextlib.nullcontext(), _buffers_kept(buffers)))
