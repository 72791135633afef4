"""What the forward pass runs under: an ONNX export, cheaply asked."""
import torch

__all__ = ['is_exporting_onnx']


def is_exporting_onnx() -> bool:
    """``torch.onnx.is_in_onnx_export()``, at no cost in eager mode.

    That call imports two modules each time (a few microseconds) and the forward pass
    asks a few hundred times; an ONNX export always runs under the JIT tracer or the
    compiler, so those cheap flags are checked first.
    """
    return (torch.jit.is_tracing() or torch.compiler.is_compiling()) \
        and torch.onnx.is_in_onnx_export()
