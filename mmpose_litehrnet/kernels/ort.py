"""The deploy form's CPU kernels as ONNX Runtime custom operators (``csrc/lite_hrnet_ort.cpp``,
domain ``mmpose_litehrnet``).

An ONNX export inside :func:`~mmpose_litehrnet.kernels.cpu_kernels_in_exports`
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
import os
import os.path as osp
import sys
from typing import Any, Optional

from .build import build_host_library, flag_sets

__all__ = ['add_ort_kernels', 'onnxruntime_include_dir', 'ort_kernels_library']

_SOURCE = 'lite_hrnet_ort.cpp'
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
    the flags, the headers and the CPU (``-march`` as the PyTorch library's); a
    ``RuntimeError`` that says what is missing where it cannot be built."""
    include = onnxruntime_include_dir()
    if include is None:
        raise RuntimeError(
            'mmpose_litehrnet: the ONNX Runtime kernels need ONNX Runtime\'s C++ headers '
            f'({_HEADER}), which the onnxruntime wheel does not ship: set '
            'ONNXRUNTIME_INCLUDE_DIR to their folder (make setup installs them into the '
            'virtual environment)')
    return build_host_library('ort', _SOURCE, ['-std=c++17', *flag_sets()[0]],
                              [osp.join(include, _HEADER)], [f'-I{include}'])


def add_ort_kernels(options: Any = None) -> Any:
    """``options`` (an ``onnxruntime.SessionOptions``, a new one by default) with the
    kernels' library registered, which it returns: a session made with them runs the
    files :func:`~mmpose_litehrnet.deploy.export_onnx` writes with ``cpu_kernels``."""
    import onnxruntime as ort
    options = ort.SessionOptions() if options is None else options
    options.register_custom_ops_library(ort_kernels_library())
    return options
