"""OpenVINO: the ONNX export converted to an OpenVINO model, and its INT8 form by NNCF's
post-training quantization."""
import contextlib
import ctypes
import os
import os.path as osp
import sys
import tempfile
from typing import Any, Iterator, Sequence

import numpy as np
import torch
import torch.nn as nn

from ..kernels import add_openvino_kernels, openvino_kernels_library
from ..kernels.ops import NAMESPACE
from .onnx import export_onnx

__all__ = ['INT8_RECIPES', 'compile_openvino', 'convert_openvino', 'quantize_openvino',
           'signal_stack_kept', 'uses_openvino_kernels']

#: Per recipe, the node-name patterns (regular expressions over the exported graph's
#: names) that NNCF leaves in float. ``'lite-hrnet'`` keeps the cross-resolution
#: weighting's products and the fusions' sums in float, as Intel's Lite-HRNet templates
#: do (open-edge-platform/geti PR #1313: without it, quantization cost 8.5 Dice points of
#: their segmentation model; with it, none); ``'default'`` is NNCF's plain preset.
INT8_RECIPES = {
    'lite-hrnet': ('.*cross_resolution_weighting.*/Mul.*', '.*fuse_layers.*/Add.*'),
    'default': (),
}


class _SignalStack(ctypes.Structure):
    _fields_ = [('ss_sp', ctypes.c_void_p), ('ss_flags', ctypes.c_int),
                ('ss_size', ctypes.c_size_t)]


@contextlib.contextmanager
def signal_stack_kept() -> Iterator[None]:
    """Puts the calling thread's alternate signal stack back as it was after the block
    (on Linux; elsewhere it does nothing).

    OpenVINO's CPU plugin (2026.4 here) gives each compiled model a signal stack of its
    own on the thread that compiles it (room for AMX state), and a model, when freed,
    puts back the stack it found. Two models freed oldest first leave the thread on the
    first one's unmapped stack, and the next signal Python handles there (SIGTERM from
    ``timeout``, Ctrl-C) crashes the process: it did here, in the suite. Put back at
    once, no model's stack stays the thread's, and each model puts back a live one.
    """
    if not sys.platform.startswith('linux'):
        yield
        return
    libc = ctypes.CDLL(None, use_errno=True)
    before = _SignalStack()
    if libc.sigaltstack(None, ctypes.byref(before)) != 0:
        yield
        return
    try:
        yield
    finally:
        libc.sigaltstack(ctypes.byref(before), None)


def convert_openvino(model: nn.Module, x: torch.Tensor,
                     output_names: Sequence[str] = ('heatmaps', ),
                     cpu_kernels: bool = False) -> Any:
    """``model`` at ``x``'s shape as an ``openvino.Model``: its ONNX export
    (:func:`~.onnx.export_onnx`) converted by ``openvino.convert_model``. By default the
    file holds ONNX's operators, channel shuffles folded; with ``cpu_kernels`` (the deploy
    form) each kernel call is one operation of our OpenVINO extension
    (:func:`~mmpose_litehrnet.kernels.openvino_kernels_library`), which any ``Core``
    that compiles or reads the model needs added (:func:`compile_openvino` adds it)."""
    import openvino as ov
    extension = {'extension': openvino_kernels_library()} if cpu_kernels else {}
    with tempfile.TemporaryDirectory() as work:
        path = osp.join(work, 'model.onnx')
        export_onnx(model, x, path, output_names=output_names, cpu_kernels=cpu_kernels)
        return ov.convert_model(path, **extension)


def compile_openvino(model: Any, precision: str = 'f32') -> Any:
    """The OpenVINO ``model`` (or IR path) compiled for the CPU, for latency, with
    ``precision`` as its inference precision hint (``f32``, or ``bf16``: OpenVINO's
    default on CPUs with AVX-512 BF16 or AMX; an INT8 model runs its quantized parts in
    INT8 either way), on as many threads as torch, its threads not pinned: beside
    PyTorch's threads in one process, pinned ones ran Lite-HRNet-18 2.5x slower here
    (29.6 against 11.9 ms per pass); the calling thread's signal stack as it was
    (:func:`signal_stack_kept`). A model with our kernels' operations (an IR path or
    ``convert_openvino(..., cpu_kernels=True)``) gets the extension added; the kernels
    compute in float32, but under ``bf16`` the plugin rounds their first input to
    bfloat16 (1.2% of the outputs' range here): use ``f32`` with them."""
    import openvino as ov
    core = ov.Core()
    if uses_openvino_kernels(model):
        core = add_openvino_kernels(core)
    with signal_stack_kept():
        return core.compile_model(model, 'CPU', {
            'INFERENCE_PRECISION_HINT': precision, 'PERFORMANCE_HINT': 'LATENCY',
            'INFERENCE_NUM_THREADS': torch.get_num_threads(), 'ENABLE_CPU_PINNING': False})


def uses_openvino_kernels(model: Any) -> bool:
    """Whether ``model`` holds an operation of our kernels' extension: an
    ``openvino.Model``, or the path of an IR (``.xml``) or ONNX file, which names the
    extension's domain where it does."""
    if isinstance(model, (str, os.PathLike)):
        with open(model, 'rb') as f:
            return NAMESPACE.encode() in f.read()
    return any(op.get_type_info().version_id == NAMESPACE for op in model.get_ops())


def quantize_openvino(model: Any, inputs: Sequence[np.ndarray],
                      recipe: str = 'lite-hrnet') -> Any:
    """The OpenVINO ``model`` quantized to INT8 by ``nncf.quantize``, calibrated on
    ``inputs`` (network inputs, as it takes them; all of them are used), with the
    recipe's nodes left in float (:data:`INT8_RECIPES`)."""
    import nncf
    if recipe not in INT8_RECIPES:
        raise ValueError(f'quantize_openvino: recipe must be one of {sorted(INT8_RECIPES)}, '
                         f'got {recipe!r}')
    if not inputs:
        raise ValueError('quantize_openvino: no calibration inputs')
    kwargs = {}
    if INT8_RECIPES[recipe]:
        kwargs['ignored_scope'] = nncf.IgnoredScope(patterns=list(INT8_RECIPES[recipe]),
                                                    validate=False)
    with signal_stack_kept():  # NNCF compiles models to gather its statistics
        return nncf.quantize(model, nncf.Dataset(list(inputs)), subset_size=len(inputs),
                             **kwargs)
