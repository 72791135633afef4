"""What the forward pass runs under: an ONNX export (or a trace made portable like one),
cheaply asked, whether that export records the 1x1 convolutions as matrix products, and
whether the pass may write in place."""
import contextlib
from typing import Iterator

import torch

__all__ = ['is_exporting_onnx', 'matmuls_in_onnx_export', 'onnx_export_records_matmuls',
           'portable_trace', 'writes_in_place']


class _PortableTrace:
    """Whether JIT traces record what an ONNX export records (see :func:`portable_trace`)."""
    active = False


@contextlib.contextmanager
def portable_trace() -> Iterator[None]:
    """In its scope, the JIT tracer records the graph an ONNX export records (plain
    convolutions, poolings and resizes, NCHW; :func:`is_exporting_onnx` is true): for
    converters that read TorchScript, such as pnnx for ncnn."""
    before, _PortableTrace.active = _PortableTrace.active, True
    try:
        yield
    finally:
        _PortableTrace.active = before


def is_exporting_onnx() -> bool:
    """``torch.onnx.is_in_onnx_export()``, at no cost in eager mode; also true for a JIT
    trace inside :func:`portable_trace`.

    That call imports two modules each time (a few microseconds) and the forward pass
    asks a few hundred times; an ONNX export always runs under the JIT tracer or the
    compiler, so those cheap flags are checked first.
    """
    if torch.jit.is_tracing() and _PortableTrace.active:
        return True
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


def writes_in_place() -> bool:
    """Whether the pass may accumulate into tensors it made itself (no gradient is
    recorded, and no graph is): not under the JIT tracer, whose graphs other converters
    read. pnnx turns a trace's in-place ``add_`` into a new value while later nodes still
    read the old one: ncnn then gave fusion outputs off by as much as the outputs
    themselves. Nor in an ONNX export."""
    return not torch.is_grad_enabled() and not torch.jit.is_tracing() \
        and not is_exporting_onnx()
