"""Builds and loads the kernels' PyTorch library (``csrc/lite_hrnet_cpu.cpp``, which
includes the kernels, ``csrc/lite_hrnet_kernels.h``) at first use.

It is compiled with the C++ compiler PyTorch uses for extensions (``-O3
-march=native``: for the CPU it runs on; about 20 s on 2 cores here) into
``$MMPOSE_LITEHRNET_CACHE/kernels`` (else ``~/.cache/mmpose_litehrnet/kernels``), under a
digest of the sources, the flags, the torch version and the CPU, so a later process
loads it in well under a second. Where it cannot be built (no compiler, another OS) a
warning says so once and the deploy form runs its PyTorch code.
``MMPOSE_LITEHRNET_CPU_KERNELS=0`` turns the kernels off.
"""
import os
import os.path as osp
import platform
import warnings
from typing import List, Optional, Sequence

import torch

from ..cache import cache_folder, digest
from .operands import LANES
from .ops import define_operators

__all__ = ['CSRC', 'FLAG_SETS', 'KernelLibrary', 'LIBRARY', 'cpu_identity', 'cpu_kernels_available',
           'read_sources']

#: The C++ sources: the kernels (``lite_hrnet_kernels.h``) and their two hosts.
CSRC = osp.join(osp.dirname(__file__), 'csrc')
#: For the CPU it runs on, multiply-adds fused (C++17 mode would keep them apart), the
#: vector width the operands are padded to, and OpenMP on: ATen's parallel_for runs its
#: loops on one thread without it (the library links to the OpenMP runtime PyTorch has
#: loaded). A compiler without OpenMP (Apple's clang) gets the second set: the same
#: kernels on one thread.
FLAG_SETS = (['-O3', '-march=native', '-ffp-contract=fast', f'-DMMPOSE_LITEHRNET_LANES={LANES}',
              '-fopenmp'],
             ['-O3', '-march=native', '-ffp-contract=fast', f'-DMMPOSE_LITEHRNET_LANES={LANES}'])


def cpu_identity() -> bytes:
    """What ``-march=native`` depends on: the machine and its CPU's feature flags."""
    identity = platform.machine() + platform.processor()
    try:
        with open('/proc/cpuinfo') as f:
            identity += next((line for line in f if line.startswith(('flags', 'Features'))), '')
    except OSError:
        pass
    return identity.encode()


def read_sources(*names: str) -> bytes:
    """The contents of the files ``names`` of :data:`CSRC` (or absolute paths), in turn."""
    contents = b''
    for name in names:
        with open(osp.join(CSRC, name), 'rb') as f:
            contents += f.read()
    return contents


class KernelLibrary:
    """The kernels' PyTorch library: built and loaded at the first :meth:`available`
    call, which says whether it is (and then always the same)."""

    source = 'lite_hrnet_cpu.cpp'

    def __init__(self, flag_sets: Sequence[List[str]] = FLAG_SETS) -> None:
        self.flag_sets = flag_sets
        #: None before the first :meth:`available`, then whether the library loaded.
        self.loaded: Optional[bool] = None

    def build(self, flags: List[str]) -> None:
        """Compiles (or finds in the cache) and loads the library with ``flags``."""
        from torch.utils.cpp_extension import load
        name = 'mmpose_litehrnet_cpu_' + digest(
            read_sources(self.source, 'lite_hrnet_kernels.h'), ' '.join(flags),
            torch.__version__, cpu_identity())
        build_dir = cache_folder(osp.join('kernels', name))
        load(name, [osp.join(CSRC, self.source)], extra_cflags=flags,
             extra_ldflags=[f for f in flags if f == '-fopenmp'], build_directory=build_dir,
             is_python_module=False, verbose=False)

    def available(self) -> bool:
        """Whether the kernels are loaded, building them on the first call."""
        if self.loaded is None:
            if os.environ.get('MMPOSE_LITEHRNET_CPU_KERNELS', '1') == '0':
                self.loaded = False
                return False
            define_operators()
            errors = []
            for flags in self.flag_sets:
                try:
                    self.build(flags)
                    break
                except Exception as error:  # no compiler, an unsupported platform, ...
                    errors.append(f'{" ".join(flags)}: {error}')
            self.loaded = len(errors) < len(self.flag_sets)
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
