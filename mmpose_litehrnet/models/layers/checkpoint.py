"""Activation checkpointing that works for one tensor or a list of branches."""
import contextlib
from typing import Callable, Iterator, List, TypeVar

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = ['checkpoint_if']

T = TypeVar('T')


@contextlib.contextmanager
def _statistics_kept(norms: List[_BatchNorm]) -> Iterator[None]:
    """Restores the running statistics of ``norms`` on exit."""
    saved = [(m.running_mean.clone(), m.running_var.clone(), m.num_batches_tracked.clone())
             for m in norms]
    try:
        yield
    finally:
        with torch.no_grad():
            for m, (mean, var, count) in zip(norms, saved):
                m.running_mean.copy_(mean)
                m.running_var.copy_(var)
                m.num_batches_tracked.copy_(count)


def checkpoint_if(enabled: bool, function: Callable[..., T], *inputs: Tensor) -> T:
    """Runs ``function(*inputs)``, through activation checkpointing when ``enabled``
    and a gradient is being recorded for one of the inputs.

    MMPose's Lite-HRNet tested ``x.requires_grad`` on a list of branches and crashed;
    here every input is a tensor argument, so any number of branches works, and the
    non-reentrant checkpoint gives the same gradients as the plain call. When
    ``function`` is a method of a module, the batch norms in that module update their
    running statistics once per step, as without checkpointing: the forward pass that
    the backward pass recomputes would otherwise update them a second time.
    """
    if not (enabled and torch.is_grad_enabled() and any(t.requires_grad for t in inputs)):
        return function(*inputs)
    owner = getattr(function, '__self__', None)
    norms = [m for m in owner.modules() if isinstance(m, _BatchNorm) and m.training
             and m.track_running_stats] if isinstance(owner, nn.Module) else []
    return cp.checkpoint(function, *inputs, use_reentrant=False,
                         context_fn=lambda: (contextlib.nullcontext(), _statistics_kept(norms)))
