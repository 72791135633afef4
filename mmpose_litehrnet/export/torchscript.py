"""TorchScript traces, which can call the CPU kernels."""
import torch
import torch.nn as nn

from ..kernels import cpu_kernels_available
from .scope import kernels_in_export, quiet_tracer

__all__ = ['load_torchscript', 'trace_torchscript']


def trace_torchscript(model: nn.Module, x: torch.Tensor,
                      cpu_kernels: bool = False) -> torch.jit.ScriptModule:
    """``model`` traced to TorchScript at ``x``'s shape: no Python left in its forward
    pass (on the CPU the deploy form runs about a third faster), loadable with
    ``torch.jit.load`` alone. The shape logic (resize targets, block views) is recorded
    for this input shape, so the result is only valid at that shape. The export tool and
    the benchmark both go through here.

    With ``cpu_kernels``, the trace records the deploy form's calls to its CPU kernels
    (where they build) as ``mmpose_litehrnet::*`` operators, as
    :func:`compile_aot_package` does: faster, but the saved file then loads only where
    the kernels are loaded (:func:`load_torchscript`)."""
    with quiet_tracer(), kernels_in_export(model, cpu_kernels), torch.no_grad():
        return torch.jit.trace(model, x, check_trace=False)


def load_torchscript(path: str) -> torch.jit.ScriptModule:
    """A file saved from :func:`trace_torchscript`, loaded after the CPU kernels (which a
    trace made with ``cpu_kernels`` calls).

    Shape:
        as the traced model, at its traced shape
    """
    cpu_kernels_available()
    return torch.jit.load(path)
