"""TorchInductor: a compiled callable for CPU inference, and AOTInductor packages."""
from typing import Any, Callable

import torch
import torch.nn as nn
from torch import Tensor

from ..kernels import cpu_kernels_available, make_kernel_operands
from .scope import kernels_in_export

__all__ = ['compile_aot_package', 'compile_for_cpu_inference', 'load_aot_package']


def compile_for_cpu_inference(model: nn.Module) -> Callable[..., Any]:
    """``torch.compile(model)`` with TorchInductor's two switches for CPU inference, as a
    no-grad callable. ``freezing``: the parameters become constants of the compiled
    graph, so Inductor folds them and converts the convolution weights to oneDNN's
    layout once, at compile time (pytorch#103642), not at every call. ``cpp_wrapper``: the
    compiled graph runs from generated C++, not Python. ``freezing`` only takes effect as
    a global Inductor setting (passed in ``torch.compile``'s ``options`` it is ignored,
    torch 2.14), so each call sets it for its own duration (a new input shape compiles
    again, with it). Compile once the weights are final: a frozen graph does not follow
    later changes to them. The deploy form's CPU kernels (where they build) are ops of
    the compiled graph, their operands made from the weights first
    (:func:`~mmpose_litehrnet.kernels.make_kernel_operands`). The first call
    compiles (about 20 s for Lite-HRNet-18's deploy form on 2 cores with the kernels, up
    to ~3 minutes without them, a cold cache; a C++ compiler is needed).

    Shape:
        as ``model``
    """
    import torch._inductor.config as inductor_config

    make_kernel_operands(model)
    compiled = torch.compile(model, options={'cpp_wrapper': True})

    def run(*args: Any, **kwargs: Any) -> Any:
        with inductor_config.patch(freezing=True), torch.no_grad():
            return compiled(*args, **kwargs)
    return run


def compile_aot_package(model: nn.Module, x: Tensor, path: str, dynamic_batch: bool = False,
                        cpu_kernels: bool = False) -> str:
    """``model`` compiled ahead of time by TorchInductor (AOTInductor) for ``x``'s device
    into a ``.pt2`` package at ``path``, which it returns. ``torch.export`` captures the
    forward pass at ``x``'s shape (with ``dynamic_batch``, any batch size >= 1); then
    Inductor compiles it with ``freezing`` under no_grad (Inductor freezes only a graph
    without gradients: compiled with them, the package's convolutions reordered their
    weights at every call and it ran 2x slower), like :func:`compile_for_cpu_inference`.
    The package runs the compiled graph from C++ at once (no compile when it is loaded,
    no guards at each call). Compile once the weights are final; it takes a C++ compiler
    and, for Lite-HRNet-18's deploy form on 2 cores, about 2.5 minutes with PyTorch's
    operators or about 20 s with the kernels.

    By default the graph holds PyTorch's operators only: the package loads with
    ``torch._inductor.aoti_load_package(path)`` (or C++'s ``AOTIModelPackageLoader``)
    without this package, MMPose or the model's code. With ``cpu_kernels``, the deploy
    form's CPU kernels (where they build) are ops of the graph, as in
    :func:`compile_for_cpu_inference`: faster, but the package then runs only where the
    kernels are loaded (:func:`load_aot_package` loads them, then the package).

    Shape:
        the package: as ``model``, at ``x``'s shape (any batch with ``dynamic_batch``)
    """
    import torch._inductor.config as inductor_config
    if dynamic_batch and x.shape[0] < 2:
        raise ValueError('compile_aot_package: a dynamic batch needs an example batch of at '
                         f'least 2 (export specialises a batch of 0 or 1), got {x.shape[0]}')
    dynamic = ({0: torch.export.Dim('batch', min=1)}, ) if dynamic_batch else None
    with torch.no_grad():
        with kernels_in_export(model, cpu_kernels):
            program = torch.export.export(model, (x, ), dynamic_shapes=dynamic)
        with inductor_config.patch(freezing=True):
            return torch._inductor.aoti_compile_and_package(program, package_path=path)


def load_aot_package(path: str) -> Any:
    """A package of :func:`compile_aot_package`, loaded after the CPU kernels (which a
    package compiled with ``cpu_kernels`` calls).

    Shape:
        as the packaged model
    """
    cpu_kernels_available()
    return torch._inductor.aoti_load_package(path)
