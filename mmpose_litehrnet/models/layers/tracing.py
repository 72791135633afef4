"""What the forward pass runs under: an ONNX export, cheaply asked, and whether that
export records the 1x1 convolutions as matrix products."""
import contextlib
from typing import Iterator

import torch

__all__ = ['is_exporting_onnx', 'matmuls_in_onnx_export', 'onnx_export_records_matmuls']


def is_exporting_onnx() -> bool:
    """``torch.onnx.is_in_onnx_export()``, at no cost in eager mode.

    That call imports two modules each time (a few microseconds) and the forward pass
    asks a few hundred times; an ONNX export always runs under the JIT tracer or the
    compiler, so those cheap flags are checked first.
    """
    return (torch.jit.is_tracing() or torch.compiler.is_compiling()) \
        and torch.onnx.is_in_onnx_export()


class _MatmulExport:
    """Whether ONNX exports record the 1x1 convolutions as matrix products (see
    :func:`matmuls_in_onnx_export`)."""
    active = False


@contextlib.contextmanager
def matmuls_in_onnx_export() -> Iterator[None]:
    """In its scope, an ONNX export records every ``MatmulConv1x1`` as the matrix product
    it computes (a ``MatMul``), not as a ``Conv``: what an export with the CPU kernels'
    custom nodes wants, whose outputs are channels-last (``export_onnx(...,
    cpu_kernels=True)`` enters it)."""
    before, _MatmulExport.active = _MatmulExport.active, True
    try:
        yield
    finally:
        _MatmulExport.active = before


def onnx_export_records_matmuls() -> bool:
    """Whether the pass runs inside :func:`matmuls_in_onnx_export`."""
    return _MatmulExport.active
