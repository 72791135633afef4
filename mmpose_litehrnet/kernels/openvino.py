"""The deploy form's CPU kernels as OpenVINO operations (``csrc/lite_hrnet_openvino.cpp``):
an extension library whose ONNX frontend extensions read the ``mmpose_litehrnet`` nodes
that an export with ``cpu_kernels`` writes (the files the ONNX Runtime host runs), and
whose op extensions read them back from an IR.

:func:`openvino_kernels_library` builds it (once, cached like the other hosts) from the
``openvino`` wheel alone: its C++ headers (``openvino/include``, TBB's among them) and its
``libopenvino`` and ``libtbb``. The kernels run on OpenVINO's own inference threads (its
TBB arena), as many as ``INFERENCE_NUM_THREADS``. OpenVINO's C++ API is not stable across
releases, so the library is rebuilt for each OpenVINO version.

In C++, ``core.add_extension("<path>/libmmpose_litehrnet_openvino.so")`` before
``read_model`` does what :func:`add_openvino_kernels` does.
"""
import glob
import os.path as osp
from typing import Any, List, Tuple

from .build import build_host_library, flag_sets

__all__ = ['add_openvino_kernels', 'openvino_kernels_library']

_SOURCE = 'lite_hrnet_openvino.cpp'
_HEADERS = ('openvino/op/op.hpp', 'openvino/frontend/onnx/extension/op.hpp',
            'tbb/parallel_for.h')


def _openvino_files() -> Tuple[str, str, List[str]]:
    """The wheel's version, include folder and the libraries the extension links to."""
    import openvino
    root = osp.dirname(openvino.__file__)
    include, libs = osp.join(root, 'include'), osp.join(root, 'libs')
    link = [sorted(glob.glob(osp.join(libs, pattern))) for pattern in
            ('libopenvino.so*', 'libtbb.so.*')]
    missing = [h for h in _HEADERS if not osp.isfile(osp.join(include, h))]
    if missing or not all(link):
        raise RuntimeError(
            'mmpose_litehrnet: the OpenVINO kernels need the openvino wheel\'s C++ headers '
            f'and libraries ({include}: missing {missing or "nothing"}; {libs}: '
            f'libopenvino.so {"found" if link[0] else "missing"}, libtbb.so '
            f'{"found" if link[1] else "missing"})')
    # The unversioned name first where there is one (libopenvino.so < libopenvino.so.2641).
    return openvino.__version__, include, [link[0][0], link[1][0]]


def openvino_kernels_library() -> str:
    """The path of the extension library, compiled at the first call (about 15 s on 2
    cores) into ``$MMPOSE_LITEHRNET_CACHE/openvino_kernels`` under a digest of the
    sources, the flags, OpenVINO's version and headers and the CPU (``-march`` as the
    PyTorch library's); a ``RuntimeError`` that says what is missing where it cannot be
    built."""
    version, include, libraries = _openvino_files()
    # OpenMP's simd loops, not its threads: the kernels' threads are OpenVINO's.
    flags = ['-std=c++17', *flag_sets()[-1], '-fopenmp-simd', '-Wno-attributes']
    libs = osp.dirname(libraries[0])
    return build_host_library(
        'openvino', _SOURCE, flags, [osp.join(include, h) for h in _HEADERS],
        [f'-I{include}', *libraries, f'-Wl,-rpath,{libs}'], version)


def add_openvino_kernels(core: Any = None) -> Any:
    """``core`` (an ``openvino.Core``, a new one by default) with the extension added,
    which it returns: its ``read_model`` reads the ONNX files that
    :func:`~mmpose_litehrnet.deploy.export_onnx` writes with ``cpu_kernels``, and IRs
    saved from them."""
    import openvino as ov
    core = ov.Core() if core is None else core
    core.add_extension(openvino_kernels_library())
    return core
