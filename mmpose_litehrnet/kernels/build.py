"""Builds and loads the kernels' PyTorch library (``csrc/lite_hrnet_cpu.cpp``, which
includes the kernels, ``csrc/lite_hrnet_kernels.h``) at first use, or ahead of time:

    python -m mmpose_litehrnet.kernels      # or: make kernels

It is compiled with the C++ compiler PyTorch uses for extensions (``-O3``, for the CPU
it runs on: ``-march=native``; about 20 s on 2 cores here) into
``$MMPOSE_LITEHRNET_CACHE/kernels`` (else ``~/.cache/mmpose_litehrnet/kernels``), under a
digest of the sources, the flags, the torch version and the CPU, so a later process
loads it in well under a second. The build says what it does (MMEngine's logger).

``MMPOSE_LITEHRNET_CPU_TARGET`` names another target for ``-march`` (``haswell``,
``x86-64-v2``, ``x86-64-v3``, ``armv8.2-a``, ...): for images built on one machine and run
on others; the cache key follows it. Where the library cannot be built (no compiler,
another OS) a warning says so once and the deploy form runs its PyTorch code.
``MMPOSE_LITEHRNET_CPU_KERNELS=0`` turns the kernels off.
"""
import os
import os.path as osp
import platform
import subprocess
import time
import warnings
from typing import List, Optional, Sequence

import torch

from ..cache import cache_folder, cached_file, digest
from .operands import LANES
from .ops import define_operators

__all__ = ['CSRC', 'KernelLibrary', 'LIBRARY', 'build_host_library', 'cpu_flags', 'cpu_identity',
           'cpu_kernels_available', 'cpu_target', 'flag_sets', 'read_sources']

#: The C++ sources: the kernels (``lite_hrnet_kernels.h``) and their hosts.
CSRC = osp.join(osp.dirname(__file__), 'csrc')


def cpu_target() -> str:
    """The ``-march`` target: ``$MMPOSE_LITEHRNET_CPU_TARGET``, else ``native``."""
    return os.environ.get('MMPOSE_LITEHRNET_CPU_TARGET', '') or 'native'


def flag_sets() -> List[List[str]]:
    """The compiler flags to try, in order: for :func:`cpu_target`, multiply-adds fused
    (C++17 mode would keep them apart), the vector width the operands are padded to, and
    OpenMP on (ATen's parallel_for runs its loops on one thread without it; the library
    links to the OpenMP runtime PyTorch has loaded). A compiler without OpenMP (Apple's
    clang) gets the second set: the same kernels on one thread."""
    flags = ['-O3', f'-march={cpu_target()}', '-ffp-contract=fast',
             f'-DMMPOSE_LITEHRNET_LANES={LANES}']
    return [flags + ['-fopenmp'], flags]


def _cpuinfo_flags_line() -> str:
    """The feature-flags line of ``/proc/cpuinfo`` (``flags`` on x86, ``Features`` on
    ARM); empty where there is none."""
    try:
        with open('/proc/cpuinfo') as f:
            return next((line for line in f if line.startswith(('flags', 'Features'))), '')
    except OSError:
        return ''


def cpu_flags() -> set:
    """The CPU's feature flags (``avx2``, ``avx512f``, ...), from ``/proc/cpuinfo``."""
    return set(_cpuinfo_flags_line().partition(':')[2].split())


def cpu_identity() -> bytes:
    """What ``-march=native`` depends on: the machine and its CPU's feature flags."""
    return (platform.machine() + platform.processor() + _cpuinfo_flags_line()).encode()


def read_sources(*names: str) -> bytes:
    """The contents of the files ``names`` of :data:`CSRC` (or absolute paths), in turn."""
    contents = b''
    for name in names:
        with open(osp.join(CSRC, name), 'rb') as f:
            contents += f.read()
    return contents


def build_host_library(host: str, source: str, flags: Sequence[str],
                       dependencies: Sequence[str], extra: Sequence[str] = (),
                       version: str = '') -> str:
    """The path of a kernel host's shared library (one of :data:`CSRC`'s sources, with
    no PyTorch), compiled at the first call into ``$MMPOSE_LITEHRNET_CACHE/<host>_kernels``
    under a digest of the sources, ``dependencies`` (files: the runtime's headers),
    ``version``, the flags and the CPU; a ``RuntimeError`` with the compiler's message
    where it does not build.

    Args:
        host (str): The runtime's short name (``ort``, ``openvino``), in the folder and
            file names and in the error message.
        source (str): The host's file in :data:`CSRC`.
        flags (Sequence[str]): Compiler flags (``-fPIC -shared`` are added).
        dependencies (Sequence[str]): Absolute paths of the headers it includes.
        extra (Sequence[str]): Arguments after the source: ``-I``, libraries to link.
        version (str): The runtime's version, where its headers are not enough.
    """
    flags = [*flags, '-fPIC', '-shared']
    key = digest(read_sources(source, 'lite_hrnet_kernels.h', 'plain_host.h', *dependencies),
                 ' '.join(flags), ' '.join(extra), version, cpu_identity())

    def build(partial: str) -> None:
        command = [os.environ.get('CXX', 'c++'), *flags, osp.join(CSRC, source), *extra,
                   '-o', partial]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f'mmpose_litehrnet: the {host} kernels did not build:\n'
                               + ' '.join(command) + '\n' + result.stderr[-4000:])
    return cached_file(osp.join(f'{host}_kernels', key), f'libmmpose_litehrnet_{host}.so',
                       build)


def _log(message: str) -> None:
    """``message`` through MMEngine's current logger (a runner's, in ``mim test``)."""
    from mmengine.logging import print_log
    print_log(f'mmpose_litehrnet: {message}', logger='current')


class KernelLibrary:
    """The kernels' PyTorch library: built and loaded at the first :meth:`available`
    call, which says whether it is (and then always the same).

    Args:
        flag_sets (Sequence[list[str]], optional): The compiler flags to try, in order;
            None means :func:`flag_sets` when building.
    """

    source = 'lite_hrnet_cpu.cpp'

    def __init__(self, flag_sets: Optional[Sequence[List[str]]] = None) -> None:
        self.flag_sets = flag_sets
        #: None before the first :meth:`available`, then whether the library loaded.
        self.loaded: Optional[bool] = None

    def candidate_flags(self) -> Sequence[List[str]]:
        """The flag sets tried, in order: the constructor's, else :func:`flag_sets`."""
        return flag_sets() if self.flag_sets is None else self.flag_sets

    def build_dir(self, flags: List[str]) -> str:
        """The cache folder of the library built with ``flags``."""
        return cache_folder(osp.join('kernels', 'mmpose_litehrnet_cpu_' + digest(
            read_sources(self.source, 'lite_hrnet_kernels.h'), ' '.join(flags),
            torch.__version__, cpu_identity())))

    def build(self, flags: List[str]) -> None:
        """Compiles (or finds in the cache) and loads the library with ``flags``."""
        from torch.utils.cpp_extension import load
        build_dir = self.build_dir(flags)
        name = osp.basename(build_dir)
        cached = osp.exists(osp.join(build_dir, f'{name}.so'))
        if not cached:
            _log(f'building the CPU kernels for -march={cpu_target()} (once, about 20 s on 2 '
                 f'cores) into {build_dir}')
        start = time.perf_counter()
        load(name, [osp.join(CSRC, self.source)], extra_cflags=flags,
             extra_ldflags=[f for f in flags if f == '-fopenmp'], build_directory=build_dir,
             is_python_module=False, verbose=False)
        if not cached:
            _log(f'built the CPU kernels in {time.perf_counter() - start:.0f} s')

    def available(self) -> bool:
        """Whether the kernels are loaded, building them on the first call."""
        if self.loaded is None:
            if os.environ.get('MMPOSE_LITEHRNET_CPU_KERNELS', '1') == '0':
                self.loaded = False
                return False
            define_operators()
            errors = []
            sets = self.candidate_flags()
            for flags in sets:
                try:
                    self.build(flags)
                    break
                except Exception as error:  # no compiler, an unsupported platform, ...
                    errors.append(f'{" ".join(flags)}: {error}')
            self.loaded = len(errors) < len(sets)
            if not self.loaded:
                warnings.warn('mmpose_litehrnet: the CPU kernels could not be built, the '
                              'deploy form runs its PyTorch operators instead ('
                              + '; '.join(errors) + ')', stacklevel=3)
        return self.loaded


#: The process's kernel library.
LIBRARY = KernelLibrary()


def cpu_kernels_available() -> bool:
    """Whether the CPU kernels are loaded, building them on the first call (about 20 s
    on 2 cores here; cached across processes)."""
    return LIBRARY.available()

