"""When the kernels run, and what a call runs: the PyTorch operator, its packed twin
under ``torch.compile``, or an ONNX node in an ONNX export."""
import contextlib
from typing import Any, Callable, Iterator, List, Sequence

import torch
from torch import Tensor

from ..models.layers import is_exporting_onnx
from .build import cpu_kernels_available
from .onnx import onnx_kernel
from .ops import NAMESPACE, list_output_shapes

__all__ = ['call_list_kernel', 'cpu_kernels_in_exports', 'kernel', 'runs_cpu_kernels']


class _ExportScope:
    """Whether exports record kernel calls (see :func:`cpu_kernels_in_exports`)."""
    active = False


def runs_cpu_kernels(xs: Sequence[Tensor]) -> bool:
    """Whether a kernel may run on ``xs``: channels-last 4-D float32 CPU tensors (the
    deploy form's CPU layout; with ``channels_last=False`` it keeps NCHW and its PyTorch
    operators) in a pass that records no gradient and is not traced or exported
    (TorchScript, ONNX, ``torch.export`` and AOTInductor graphs keep the operators, and
    need no library of ours), with the kernels built. Inside
    :func:`cpu_kernels_in_exports`, traces and ``torch.export`` graphs call the kernels,
    and ONNX exports write them as custom nodes (of any layout: ONNX has none)."""
    tracing = torch.jit.is_tracing()
    if not _ExportScope.active and (tracing or torch.compiler.is_exporting()):
        return False
    onnx = tracing and is_exporting_onnx()
    return not torch.is_grad_enabled() \
        and all(x.dim() == 4 and x.dtype == torch.float32 and x.device.type == 'cpu'
                and (onnx or x.is_contiguous(memory_format=torch.channels_last)) for x in xs) \
        and cpu_kernels_available()


@contextlib.contextmanager
def cpu_kernels_in_exports() -> Iterator[None]:
    """In its scope, exports of the deploy form call the CPU kernels where eager passes
    would: ``torch.export`` graphs and TorchScript traces as PyTorch operators (an
    AOTInductor package compiled from such a graph, or the saved trace, then needs the
    kernels loaded to run: see ``load_aot_package`` and ``load_torchscript``), ONNX
    files as custom nodes (which an ONNX Runtime session runs once it has loaded their
    library: see :func:`~mmpose_litehrnet.kernels.add_ort_kernels`)."""
    before, _ExportScope.active = _ExportScope.active, True
    try:
        yield
    finally:
        _ExportScope.active = before


def kernel(name: str) -> Callable[..., Any]:
    """``torch.ops.mmpose_litehrnet.<name>``; in an ONNX export (which
    :func:`runs_cpu_kernels` allows only inside :func:`cpu_kernels_in_exports`), a
    stand-in with the same arguments that the export writes as one custom node."""
    if torch.jit.is_tracing() and is_exporting_onnx():
        return onnx_kernel(name)
    return getattr(getattr(torch.ops, NAMESPACE), name)


def call_list_kernel(name: str, xs: Sequence[Tensor], *operands: Any) -> List[Tensor]:
    """``torch.ops.mmpose_litehrnet.<name>(xs, *operands)``, a kernel that returns a list
    of branches. Under ``torch.compile`` it calls the kernel's ``_packed`` twin, whose
    outputs are packed in order in one flat tensor, and returns views of them: Inductor's
    C++ wrapper calls an operator that returns a tensor directly, but one that returns a
    list through Python (about 150 us a call, 4 ms of a Lite-HRNet-18 pass)."""
    if not torch.compiler.is_compiling():
        return kernel(name)(list(xs), *operands)
    flat = getattr(getattr(torch.ops, NAMESPACE), f'{name}_packed')(list(xs), *operands)
    outs, offset = [], 0
    for n, c, h, w in list_output_shapes(name, xs):
        outs.append(flat.as_strided((n, c, h, w), (h * w * c, 1, w * c, c), offset))
        offset += n * c * h * w
    return outs
