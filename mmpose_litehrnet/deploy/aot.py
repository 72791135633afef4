"""The deploy form's backbone compiled ahead of time (AOTInductor) inside MMPose's own
test and inference path, cached on disk."""
import hashlib
import os.path as osp
from typing import Any, Dict, Optional, Tuple, Union

import torch
import torch.nn as nn
from torch import Tensor

from ..cache import cache_root, cached_file, digest
from ..export import compile_aot_package, load_aot_package
from ..kernels import calls_cpu_kernels
from ..models import LiteHRNet
from ..models.layers import is_exporting_onnx
from ..version import __version__

__all__ = ['AOTBackbone', 'aot_cache_dir', 'attach_aot_backbones', 'default_aot_cache_dir']


def default_aot_cache_dir() -> str:
    """``$MMPOSE_LITEHRNET_CACHE/aoti``, else ``~/.cache/mmpose_litehrnet/aoti``."""
    return osp.join(cache_root(), 'aoti')


def aot_cache_dir(aot: Union[bool, str]) -> Optional[str]:
    """The cache directory that an ``aot`` argument names: None for False,
    :func:`default_aot_cache_dir` for True, else the directory itself.

    Raises:
        ValueError: for anything but a bool or a non-empty string.
    """
    if not isinstance(aot, (bool, str)) or aot == '':
        raise ValueError(f'aot must be a bool or a cache directory, got {aot!r}')
    if aot is False:
        return None
    return default_aot_cache_dir() if aot is True else aot


class AOTBackbone:
    """Runs a deploy-form backbone's no-grad float32 CPU forward passes through an
    AOTInductor package (:func:`~mmpose_litehrnet.export.compile_aot_package`) compiled
    for the input's channels and size: one for a batch of 1 (one person, the common
    inference case) and one for any larger batch, each compiled when first needed (a
    package for any batch ran Lite-HRNet-18's backbone at batch 1 in 27.4 ms where the
    batch-1 one took 23.7, 40 alternating rounds). MMPose's model calls the backbone
    as before (``mim test``, ``inference_topdown``, the inferencer) and gets the compiled
    graph's outputs, with none of the eager form's per-operator Python and dispatch
    cost. Where the backbone calls the CPU kernels, so do its packages
    (``compile_aot_package(..., cpu_kernels=True)``). Other calls (gradients, GPUs,
    other dtypes, tracing and export) run the backbone's own forward. It is the
    backbone's accelerator (:class:`~mmpose_litehrnet.models.layers.Accelerated`).

    The first call at a new size compiles (minutes on 2 cores, a C++ compiler needed)
    and stores the package in ``cache_dir`` under a digest of everything it depends on:
    the backbone's structure and deploy-form weights, the input's channels, size and
    dtype, torch's version and this package's. Later calls, in this process or any
    other, load it in about a second. Compile once the weights are final: a package does
    not follow later changes to them (new weights give a new digest only when a new
    runner is made, e.g. by ``switch_to_deploy``).

    Args:
        backbone (nn.Module): The deploy form (``switch_to_deploy`` applied).
        cache_dir (str): Where packages are stored and looked up.
    """

    def __init__(self, backbone: nn.Module, cache_dir: str) -> None:
        self.backbone = backbone
        self.cache_dir = cache_dir
        #: Loaded packages by (batch of 1, (C, H, W)).
        self.packages: Dict[Tuple[bool, Tuple[int, ...]], Any] = {}
        self.compiling = False
        self._weights_digest: Optional[str] = None

    def applies(self, x: Tensor) -> bool:
        """Whether the compiled graph stands in for the backbone's forward on ``x``."""
        return not self.compiling and not torch.is_grad_enabled() \
            and x.device.type == 'cpu' and x.dtype == torch.float32 and x.dim() == 4 \
            and x.shape[0] >= 1 and not self.backbone.training \
            and not torch.jit.is_tracing() and not torch.compiler.is_compiling() \
            and not is_exporting_onnx()

    def __call__(self, backbone: nn.Module, x: Tensor) -> Optional[Tuple[Tensor, ...]]:
        """The compiled graph's outputs on ``x`` where it :meth:`applies`, else None."""
        if backbone is not self.backbone or not self.applies(x):
            return None
        key = (x.shape[0] == 1, tuple(x.shape[1:]))
        if key not in self.packages:
            self.packages[key] = self._load_or_compile(x)
        return tuple(self.packages[key](x))

    def package_path(self, x: Tensor) -> str:
        """The cached package's path for inputs shaped like ``x`` (a batch of 1, or any
        larger batch)."""
        return cached_file(osp.abspath(self.cache_dir), self._package_name(x))

    def _package_name(self, x: Tensor) -> str:
        if self._weights_digest is None:
            sha = hashlib.sha256(repr(self.backbone).encode())
            for name, value in sorted(self.backbone.state_dict().items()):
                sha.update(name.encode())
                sha.update(value.detach().cpu().contiguous().numpy().tobytes())
            self._weights_digest = sha.hexdigest()
        batch = 'batch 1' if x.shape[0] == 1 else 'any batch'
        kernels = 'kernels' if calls_cpu_kernels(self.backbone) else 'operators'
        key = f'{self._weights_digest} {batch} {kernels} {tuple(x.shape[1:])} {x.dtype} ' \
              f'torch {torch.__version__} mmpose_litehrnet {__version__}'
        return digest(key, length=32) + '.pt2'

    def _load_or_compile(self, x: Tensor) -> Any:
        single = x.shape[0] == 1

        def compile_into(partial: str) -> None:
            example = torch.randn(1 if single else 2, *x.shape[1:], dtype=x.dtype)
            self.compiling = True
            try:
                compile_aot_package(self.backbone, example, partial, dynamic_batch=not single,
                                    cpu_kernels=calls_cpu_kernels(self.backbone))
            finally:
                self.compiling = False
        return load_aot_package(cached_file(osp.abspath(self.cache_dir), self._package_name(x),
                                            compile_into))

    def __getstate__(self) -> Dict[str, Any]:
        # Loaded packages are not copied or pickled: a copy loads its own on first use.
        return {**self.__dict__, 'packages': {}}


def attach_aot_backbones(model: nn.Module, cache_dir: Optional[str]) -> None:
    """Gives every Lite-HRNet backbone in ``model`` an :class:`AOTBackbone` that caches its
    packages in ``cache_dir``; with None, takes any away."""
    for backbone in model.modules():
        if isinstance(backbone, LiteHRNet):
            if cache_dir is not None:
                backbone.accelerator = AOTBackbone(backbone, cache_dir)
            elif isinstance(backbone.accelerator, AOTBackbone):
                backbone.accelerator = None
