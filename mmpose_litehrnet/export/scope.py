"""What every export of the deploy form runs in."""
import contextlib
import warnings
from typing import Iterator

import torch.nn as nn

from ..kernels import cpu_kernels_available, cpu_kernels_in_exports, make_kernel_operands
from ..models.layers import matmuls_in_onnx_export

__all__ = ['kernels_in_export', 'quiet_tracer']


@contextlib.contextmanager
def kernels_in_export(model: nn.Module, cpu_kernels: bool) -> Iterator[None]:
    """The scope an export of ``model`` runs in: with ``cpu_kernels``, its kernel operands
    made first, :func:`~mmpose_litehrnet.kernels.cpu_kernels_in_exports` and, where the
    kernels are built, the 1x1 convolutions as matrix products in an ONNX file
    (:func:`~mmpose_litehrnet.models.layers.matmuls_in_onnx_export`: the heatmap head's
    reads the last kernel node's channels-last output); otherwise nothing."""
    if not cpu_kernels:
        yield
        return
    make_kernel_operands(model)
    with cpu_kernels_in_exports(), (matmuls_in_onnx_export() if cpu_kernels_available()
                                    else contextlib.nullcontext()):
        yield


@contextlib.contextmanager
def quiet_tracer() -> Iterator[None]:
    """Silences the tracer's warnings about Python-int shape logic, which both exports
    record for their fixed input shape on purpose."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        yield
