"""What every export of the deploy form runs in."""
import contextlib
import warnings
from typing import Any, Iterator

import torch.nn as nn

from ..kernels import cpu_kernels_in_exports, make_kernel_operands

__all__ = ['kernels_in_export', 'quiet_tracer']


def kernels_in_export(model: nn.Module, cpu_kernels: bool) -> Any:
    """The scope an export of ``model`` runs in: with ``cpu_kernels``, its kernel operands
    made first and :func:`~mmpose_litehrnet.kernels.cpu_kernels_in_exports`; otherwise
    nothing."""
    if not cpu_kernels:
        return contextlib.nullcontext()
    make_kernel_operands(model)
    return cpu_kernels_in_exports()


@contextlib.contextmanager
def quiet_tracer() -> Iterator[None]:
    """Silences the tracer's warnings about Python-int shape logic, which both exports
    record for their fixed input shape on purpose."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        yield
