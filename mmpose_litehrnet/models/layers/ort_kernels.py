"""The deploy form's CPU kernels as ONNX Runtime custom operators (``csrc/lite_hrnet_ort.cpp``,
domain ``mmpose_litehrnet``).

An ONNX export inside :func:`~mmpose_litehrnet.models.layers.cpu_kernels_in_exports`
writes one node of that domain where the eager deploy form calls a kernel (the stem, each
transition path, block, fusion and the iterative head: about 30 nodes for Lite-HRNet-18,
where PyTorch's operators export about 1100). Such a file runs in an ONNX Runtime session
that has loaded the library: :func:`add_ort_kernels` builds it (once, cached like the
PyTorch kernels) and registers it with the session's options.

The library needs ONNX Runtime's C/C++ headers, which the ``onnxruntime`` wheel does not
ship: ``$ONNXRUNTIME_INCLUDE_DIR``, else ``<prefix>/include/onnxruntime`` of this Python
environment (``make setup`` puts them there), ``/usr/include/onnxruntime`` or
``/usr/local/include/onnxruntime``. Headers of an older ONNX Runtime than the one that
runs are fine (its C API only grows). It does not need PyTorch.
"""
import hashlib
import os
import os.path as osp
import subprocess
import sys
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from .cpu_kernels import _CSRC, _FLAG_SETS, _KERNELS, _cpu_identity, _read, cache_root

__all__ = ['add_ort_kernels', 'onnx_kernel', 'onnxruntime_include_dir', 'ort_kernels_library']

_SOURCE = osp.join(_CSRC, 'lite_hrnet_ort.cpp')
#: The ONNX domain of the operators.
DOMAIN = 'mmpose_litehrnet'
_HEADER = 'onnxruntime_cxx_api.h'


def onnxruntime_include_dir() -> Optional[str]:
    """The first folder holding ONNX Runtime's C++ header, in the order the module
    docstring gives; None where there is none."""
    candidates = [os.environ.get('ONNXRUNTIME_INCLUDE_DIR', ''),
                  osp.join(sys.prefix, 'include', 'onnxruntime'),
                  '/usr/include/onnxruntime', '/usr/local/include/onnxruntime']
    return next((d for d in candidates if d and osp.isfile(osp.join(d, _HEADER))), None)


def ort_kernels_library() -> str:
    """The path of the custom-op library, compiled at the first call (about 6 s on 2
    cores) into ``$MMPOSE_LITEHRNET_CACHE/ort_kernels`` under a digest of the sources,
    the flags, the headers and the CPU (``-march=native``); a ``RuntimeError`` that says
    what is missing where it cannot be built."""
    include = onnxruntime_include_dir()
    if include is None:
        raise RuntimeError(
            'mmpose_litehrnet: the ONNX Runtime kernels need ONNX Runtime\'s C++ headers '
            f'({_HEADER}), which the onnxruntime wheel does not ship: set '
            'ONNXRUNTIME_INCLUDE_DIR to their folder (make setup installs them into the '
            'virtual environment)')
    flags = ['-std=c++17', *_FLAG_SETS[0], '-fPIC', '-shared']
    digest = hashlib.sha256(_read(_SOURCE, _KERNELS, osp.join(include, _HEADER))
                            + ' '.join(flags).encode() + _cpu_identity()).hexdigest()[:16]
    path = osp.join(cache_root(), 'ort_kernels', digest, 'libmmpose_litehrnet_ort.so')
    if not osp.isfile(path):
        os.makedirs(osp.dirname(path), exist_ok=True)
        partial = f'{path}.{os.getpid()}'
        command = [os.environ.get('CXX', 'c++'), *flags, f'-I{include}', _SOURCE, '-o', partial]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError('mmpose_litehrnet: the ONNX Runtime kernels did not build:\n'
                               + ' '.join(command) + '\n' + result.stderr[-4000:])
        os.replace(partial, path)  # whole or not at all, for processes building at once
    return path


def add_ort_kernels(options: Any = None) -> Any:
    """``options`` (an ``onnxruntime.SessionOptions``, a new one by default) with the
    kernels' library registered, which it returns: a session made with them runs the
    files :func:`~mmpose_litehrnet.deploy.export_onnx` writes with ``cpu_kernels``."""
    import onnxruntime as ort
    options = ort.SessionOptions() if options is None else options
    options.register_custom_ops_library(ort_kernels_library())
    return options


class _KernelNode(torch.autograd.Function):
    """One kernel call, exported as one node of the ``mmpose_litehrnet`` domain; in the
    trace it runs the PyTorch operator."""

    @staticmethod
    def forward(ctx: Any, name: str, attributes: Tuple[Tuple[str, int], ...],
                branch_list: bool, operands: Tensor, layout: Tensor,
                *xs: Tensor) -> Union[Tensor, Tuple[Tensor, ...]]:
        branches = {'xs': list(xs)} if branch_list else {'x': xs[0]}
        out = getattr(torch.ops.mmpose_litehrnet, name)(
            **branches, operands=operands, layout=layout, **dict(attributes))
        return tuple(out) if isinstance(out, list) else out

    @staticmethod
    def symbolic(g: Any, name: str, attributes: Tuple[Tuple[str, int], ...],
                 branch_list: bool, operands: Any, layout: Any, *xs: Any) -> Any:
        # ONNX tensors are dense in their own order: the kernels' are (N, H, W, C). The
        # transposes between two kernel nodes cancel (see deploy.export_onnx).
        nhwc = [g.op('Transpose', x, perm_i=[0, 2, 3, 1]) for x in xs]
        outputs = len(xs) if branch_list else 1  # a kernel of branches returns as many
        outs = g.op(f'{DOMAIN}::{_onnx_name(name)}', operands, layout, *nhwc, outputs=outputs,
                    **{f'{key}_i': value for key, value in attributes})
        outs = outs if outputs > 1 else (outs, )
        nchw = tuple(g.op('Transpose', out, perm_i=[0, 3, 1, 2]) for out in outs)
        return nchw if outputs > 1 else nchw[0]


def _onnx_name(name: str) -> str:
    return ''.join(part.capitalize() for part in name.split('_'))


def onnx_kernel(name: str) -> Callable[..., Union[Tensor, List[Tensor]]]:
    """A stand-in for ``torch.ops.mmpose_litehrnet.<name>`` (same arguments) that an ONNX
    export records as one ``mmpose_litehrnet`` node: the branches (``x`` or ``xs``)
    channels-last as inputs after the operands and their layout, the int arguments as
    attributes of the same names."""
    schema = getattr(torch.ops.mmpose_litehrnet, name).default._schema
    names = [argument.name for argument in schema.arguments]

    def call(*args: Any) -> Union[Tensor, List[Tensor]]:
        bound: Dict[str, Any] = dict(zip(names, args))
        branch_list = 'xs' in bound
        xs: Sequence[Tensor] = bound.pop('xs') if branch_list else [bound.pop('x')]
        operands, layout = bound.pop('operands'), bound.pop('layout')
        out = _KernelNode.apply(name, tuple(bound.items()), branch_list, operands, layout, *xs)
        if not branch_list:
            return out
        return list(out) if isinstance(out, tuple) else [out]
    return call
