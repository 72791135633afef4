"""The deploy form's CPU kernels (``csrc/lite_hrnet_kernels.h``, registered by
``csrc/lite_hrnet_cpu.cpp``), ``torch.ops.mmpose_litehrnet.*``:
the stem, each transition path, each conditional channel weighting block, each
multi-resolution fusion (with its ReLU), the iterative head and each stride-1 shuffle unit
(Naive Lite-HRNet's block) as one operator call.

At batch 1 on the CPU the eager deploy form's time is mostly a fixed cost per operator
call (about 2100 calls per Lite-HRNet-18 pass); the kernels cut that to 30. The modules
call them (:meth:`CPUKernelMixin.uses_cpu_kernel`) in no-grad float32 CPU passes of the
deploy form, and in ``torch.compile`` graphs once their operands are made; never while
tracing or exporting.

The source is compiled at first use with the C++ compiler PyTorch uses for extensions
(``-O3 -march=native``: for the CPU it runs on; about 20 s on 2 cores here) into
``$MMPOSE_LITEHRNET_CACHE/kernels`` (else ``~/.cache/mmpose_litehrnet/kernels``), under a
digest of the source, the flags, the torch version and the CPU, so a later process loads
it in well under a second. Where it cannot be built (no compiler, another OS) a warning
says so once and the deploy form runs its PyTorch code. ``MMPOSE_LITEHRNET_CPU_KERNELS=0``
turns the kernels off.
"""
import contextlib
import hashlib
import os
import os.path as osp
import platform
import warnings
from typing import Any, Callable, Iterator, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from .export import is_exporting_onnx

__all__ = ['CPUKernelMixin', 'OperandCache', 'cache_root', 'call_list_kernel', 'calls_cpu_kernels',
           'conv_operands', 'cpu_kernels_available', 'cpu_kernels_in_exports', 'dense_operands',
           'is_kernel_conv', 'is_kernel_conv_act', 'is_kernel_separable', 'kernel',
           'make_kernel_operands', 'pack_operands', 'runs_cpu_kernels']

_CSRC = osp.join(osp.dirname(__file__), '..', '..', 'csrc')
_SOURCE = osp.join(_CSRC, 'lite_hrnet_cpu.cpp')
#: The kernels themselves, which both hosts include: lite_hrnet_cpu.cpp (PyTorch) and
#: lite_hrnet_ort.cpp (ONNX Runtime).
_KERNELS = osp.join(_CSRC, 'lite_hrnet_kernels.h')
_loaded: Optional[bool] = None
_in_exports = False
#: For the CPU it runs on, multiply-adds fused (C++17 mode would keep them apart), and
#: OpenMP on: ATen's parallel_for runs its loops on one thread without it (the library
#: links to the OpenMP runtime PyTorch has loaded). A compiler without OpenMP (Apple's
#: clang) gets the second set: the same kernels on one thread.
_FLAG_SETS = (['-O3', '-march=native', '-ffp-contract=fast', '-fopenmp'],
              ['-O3', '-march=native', '-ffp-contract=fast'])
#: The kernels' vector width in floats: their matrix products take weights padded to it.
LANES = 16


def cache_root() -> str:
    """``$MMPOSE_LITEHRNET_CACHE``, else ``~/.cache/mmpose_litehrnet``."""
    return os.environ.get('MMPOSE_LITEHRNET_CACHE',
                          osp.join(osp.expanduser('~'), '.cache', 'mmpose_litehrnet'))


def _cpu_identity() -> bytes:
    """What ``-march=native`` depends on: the machine and its CPU's feature flags."""
    identity = platform.machine() + platform.processor()
    try:
        with open('/proc/cpuinfo') as f:
            identity += next((line for line in f if line.startswith(('flags', 'Features'))), '')
    except OSError:
        pass
    return identity.encode()


def _read(*paths: str) -> bytes:
    contents = b''
    for path in paths:
        with open(path, 'rb') as f:
            contents += f.read()
    return contents


def _build(flags: List[str]) -> None:
    from torch.utils.cpp_extension import load
    digest = hashlib.sha256(_read(_SOURCE, _KERNELS) + ' '.join(flags).encode()
                            + torch.__version__.encode() + _cpu_identity())
    name = f'mmpose_litehrnet_cpu_{digest.hexdigest()[:16]}'
    build_dir = osp.join(cache_root(), 'kernels', name)
    os.makedirs(build_dir, exist_ok=True)
    load(name, [_SOURCE], extra_cflags=flags,
         extra_ldflags=[f for f in flags if f == '-fopenmp'], build_directory=build_dir,
         is_python_module=False, verbose=False)


def cpu_kernels_available() -> bool:
    """Whether the CPU kernels are loaded, building them on the first call (about 20 s
    on 2 cores here; cached across processes)."""
    global _loaded
    if _loaded is None:
        if os.environ.get('MMPOSE_LITEHRNET_CPU_KERNELS', '1') == '0':
            _loaded = False
        else:
            errors = []
            for flags in _FLAG_SETS:
                try:
                    _build(flags)
                    break
                except Exception as error:  # no compiler, an unsupported platform, ...
                    errors.append(f'{" ".join(flags)}: {error}')
            _loaded = len(errors) < len(_FLAG_SETS)
            if _loaded:
                _register_fakes()
            else:
                warnings.warn('mmpose_litehrnet: the CPU kernels could not be built, the '
                              'deploy form runs its PyTorch operators instead ('
                              + '; '.join(errors) + ')', stacklevel=2)
    return _loaded


Shape = Tuple[int, int, int, int]


def _shapes_like_inputs(xs: Sequence[Tensor]) -> List[Shape]:
    return [tuple(x.shape) for x in xs]


def _head_shapes(xs: Sequence[Tensor]) -> List[Shape]:
    # Output k has the channels of branch k - 1 (the first its own).
    return [(x.shape[0], xs[max(k - 1, 0)].shape[1], x.shape[2], x.shape[3])
            for k, x in enumerate(xs)]


#: The kernels that return a list of branches, with their outputs' shapes given the
#: branches they take. Each has a ``_packed`` twin returning the same outputs in one flat
#: tensor, for ``torch.compile`` (see :func:`call_list_kernel`).
_LIST_KERNELS = {
    'conditional_channel_weighting': _shapes_like_inputs,
    'multi_resolution_fusion': _shapes_like_inputs,
    'iterative_head': _head_shapes,
}


def call_list_kernel(name: str, xs: Sequence[Tensor], *operands: Any) -> List[Tensor]:
    """``torch.ops.mmpose_litehrnet.<name>(xs, *operands)``, a kernel that returns a list
    of branches. Under ``torch.compile`` it calls the kernel's ``_packed`` twin, whose
    outputs are packed in order in one flat tensor, and returns views of them: Inductor's
    C++ wrapper calls an operator that returns a tensor directly, but one that returns a
    list through Python (about 150 us a call, 4 ms of a Lite-HRNet-18 pass)."""
    if not torch.compiler.is_compiling():
        return kernel(name)(list(xs), *operands)
    flat = getattr(torch.ops.mmpose_litehrnet, f'{name}_packed')(list(xs), *operands)
    outs, offset = [], 0
    for n, c, h, w in _LIST_KERNELS[name](xs):
        outs.append(flat.as_strided((n, c, h, w), (h * w * c, 1, w * c, c), offset))
        offset += n * c * h * w
    return outs


def _register_fakes() -> None:
    """Shapes for ``torch.compile``."""

    def new(x: Tensor, c: int, h: int, w: int) -> Tensor:
        return x.new_empty((x.shape[0], c, h, w)).contiguous(memory_format=torch.channels_last)

    def stem(x: Tensor, operands: Tensor, layout: Tensor, passed: int,
             out_channels: int) -> Tensor:
        return new(x, out_channels, (x.shape[2] - 1) // 4 + 1, (x.shape[3] - 1) // 4 + 1)

    def separable(x: Tensor, stride: int, out_channels: int, *args) -> Tensor:
        return new(x, out_channels, (x.shape[2] - 1) // stride + 1,
                   (x.shape[3] - 1) // stride + 1)

    for op, shapes in _LIST_KERNELS.items():
        torch.library.register_fake(f'mmpose_litehrnet::{op}')(
            lambda xs, *args, shapes=shapes: [new(xs[0], *shape[1:]) for shape in shapes(xs)])
        torch.library.register_fake(f'mmpose_litehrnet::{op}_packed')(
            lambda xs, *args, shapes=shapes: xs[0].new_empty(
                sum(n * c * h * w for n, c, h, w in shapes(xs))))
    torch.library.register_fake('mmpose_litehrnet::shuffle_unit')(
        lambda x, *args: torch.empty_like(x, memory_format=torch.channels_last))
    for op, fake in (('stem', stem), ('depthwise_separable', separable)):
        torch.library.register_fake(f'mmpose_litehrnet::{op}')(fake)


def is_kernel_conv(conv: nn.Module, kernel_size: int, stride: int = 1,
                   depthwise: Optional[bool] = None) -> bool:
    """Whether ``conv`` is a convolution the kernels compute: a plain biased one (its
    norm folded) with that square kernel and stride, padded to keep
    ``ceil(H / stride)``; depthwise or dense as ``depthwise`` says (by default depthwise
    when 3x3 and dense when 1x1)."""
    if depthwise is None:
        depthwise = kernel_size == 3
    return isinstance(conv, nn.Conv2d) and conv.bias is not None \
        and conv.kernel_size == (kernel_size, kernel_size) and conv.stride == (stride, stride) \
        and conv.padding == (kernel_size // 2, ) * 2 and conv.dilation == (1, 1) \
        and conv.padding_mode == 'zeros' \
        and (conv.groups == conv.in_channels == conv.out_channels if depthwise
             else conv.groups == 1)


def is_kernel_conv_act(block: nn.Module, kernel_size: int, stride: int = 1, relu: bool = False,
                       depthwise: Optional[bool] = None) -> bool:
    """Whether ``block`` is a conv-norm-act block with its norm folded that the kernels
    compute: a convolution as :func:`is_kernel_conv` says, then a ReLU when ``relu``,
    nothing else."""
    return isinstance(block, nn.Sequential) and len(block) == 1 + relu \
        and is_kernel_conv(block[0], kernel_size, stride, depthwise) \
        and (not relu or type(block[1]) is nn.ReLU)


def is_kernel_separable(step: nn.Module, stride: int, relu: bool) -> bool:
    """Whether ``step`` is a depthwise separable step with its norms folded that the
    kernels compute: a 3x3 depthwise convolution with that stride and a 1x1 convolution
    (as :func:`is_kernel_conv` says), then a ReLU when ``relu``, nothing else."""
    return isinstance(step, nn.Sequential) and len(step) == 2 + relu \
        and is_kernel_conv(step[0], 3, stride) and is_kernel_conv(step[1], 1) \
        and (not relu or type(step[2]) is nn.ReLU)


def dense_operands(weight: Tensor, bias: Tensor) -> List[Tensor]:
    """A dense convolution's (C_out, C_in, k, k) weight and its bias as the kernels take
    them: a matrix product over its windows, the (k * k * C_in, C_out) transposed weight
    with rows in (ky, kx, c) order, and the bias, zero-padded to whole vectors along
    C_out."""
    weight = weight.permute(2, 3, 1, 0).reshape(-1, weight.shape[0])
    pad = -weight.shape[1] % LANES
    return [F.pad(weight, (0, pad)).contiguous(), F.pad(bias, (0, pad)).contiguous()]


def pack_operands(tensors: Sequence[Tensor]) -> List[Tensor]:
    """Operands as every kernel takes them: one contiguous float32 tensor holding each
    of ``tensors`` in turn (flattened, padded with zeros to whole vectors of
    :data:`LANES` values) and its int64 layout (each tensor's number of dimensions, then
    its sizes). Two tensors per call, not a list: each tensor of a call cost the compiled
    graph a conversion and a guard (about 600 per Lite-HRNet-18 pass)."""
    flat = torch.cat([F.pad(t.detach().reshape(-1), (0, -t.numel() % LANES)) for t in tensors])
    layout = torch.tensor([v for t in tensors for v in (t.dim(), *t.shape)], dtype=torch.int64)
    return [flat, layout]


def conv_operands(conv: nn.Conv2d) -> List[Tensor]:
    """A convolution's weight and bias as the kernels take them (see
    :func:`is_kernel_conv`): a dense one's as :func:`dense_operands` gives them; a 3x3
    depthwise one's as the (9, C) tap-major weight and the bias."""
    if conv.groups == 1:
        return dense_operands(conv.weight, conv.bias)
    return [conv.weight.flatten(1).t().contiguous(), conv.bias.contiguous()]


def runs_cpu_kernels(xs: Sequence[Tensor]) -> bool:
    """Whether a deploy-form module may call its kernel on ``xs``: channels-last 4-D
    float32 CPU tensors (the deploy form's CPU layout; with ``channels_last=False`` it
    keeps NCHW and its PyTorch operators) in a pass that records no gradient and is not
    traced or exported (TorchScript, ONNX, ``torch.export`` and AOTInductor graphs keep
    the operators, and need no library of ours), with the kernels built. Inside
    :func:`cpu_kernels_in_exports`, traces and ``torch.export`` graphs call the kernels,
    and ONNX exports write them as custom nodes (of any layout: ONNX has none)."""
    tracing = torch.jit.is_tracing()
    if not _in_exports and (tracing or torch.compiler.is_exporting()):
        return False
    onnx = tracing and is_exporting_onnx()
    return not torch.is_grad_enabled() \
        and all(x.dim() == 4 and x.dtype == torch.float32 and x.device.type == 'cpu'
                and (onnx or x.is_contiguous(memory_format=torch.channels_last)) for x in xs) \
        and cpu_kernels_available()


def kernel(name: str) -> Callable[..., Any]:
    """``torch.ops.mmpose_litehrnet.<name>``; in an ONNX export (which
    :func:`runs_cpu_kernels` allows only inside :func:`cpu_kernels_in_exports`), a
    stand-in with the same arguments that the export writes as one custom node (see
    :mod:`.ort_kernels`)."""
    if torch.jit.is_tracing() and is_exporting_onnx():
        from .ort_kernels import onnx_kernel
        return onnx_kernel(name)
    return getattr(torch.ops.mmpose_litehrnet, name)


@contextlib.contextmanager
def cpu_kernels_in_exports() -> Iterator[None]:
    """In its scope, exports of the deploy form call the CPU kernels where eager passes
    would: ``torch.export`` graphs and TorchScript traces as PyTorch operators (an
    AOTInductor package compiled from such a graph, or the saved trace, then needs the
    kernels loaded to run: see :func:`~mmpose_litehrnet.deploy.load_aot_package` and
    :func:`~mmpose_litehrnet.deploy.load_torchscript`), ONNX files as custom nodes (which
    an ONNX Runtime session runs once it has loaded their library: see
    :func:`~mmpose_litehrnet.models.layers.ort_kernels.add_ort_kernels`)."""
    global _in_exports
    before, _in_exports = _in_exports, True
    try:
        yield
    finally:
        _in_exports = before


class OperandCache:
    """The operands a kernel takes, derived from a module's parameters (transposed,
    split per branch), made again whenever a parameter changes: a loaded state dict (in
    place or assigned), an in-place update, a move. The parameters are named by slots
    (the submodule that holds one, and its name), found when the operands are made; each
    call checks that every slot still holds the same tensor with the same storage and
    version (about 5 us per block or fusion call, where collecting the parameters
    through the modules again took about 40: 1 ms of a 13 ms Lite-HRNet-18 pass).
    Submodules swapped in after that are not seen: call ``switch_to_deploy`` on a fresh
    copy instead. A copied or pickled cache is empty."""

    def __init__(self) -> None:
        self._slots: tuple = ()
        self._operands: Optional[list] = None

    @property
    def operands(self) -> Optional[list]:
        """The operands made last, unchecked (None before the first :meth:`get`)."""
        return self._operands

    def __getstate__(self) -> dict:
        return {'_slots': (), '_operands': None}

    def get(self, slots: Callable[[], Sequence[Tuple[nn.Module, str]]],
            build: Callable[[], list]) -> list:
        """The operands ``build()`` made from the parameters ``slots()`` names, made
        again if any of them changed since."""
        if not self._slots or not all(
                module._parameters.get(name) is t and t.data_ptr() == ptr
                and t._version == version
                for module, name, t, ptr, version in self._slots):
            with torch.no_grad():
                self._operands = build()
            self._slots = tuple((module, name, module._parameters[name],
                                 module._parameters[name].data_ptr(),
                                 module._parameters[name]._version)
                                for module, name in slots())
        return self._operands


class CPUKernelMixin:
    """A module whose deploy form one CPU kernel computes (a block, a fusion, a shuffle
    unit). :func:`mmpose_litehrnet.deploy.switch_to_deploy` sets ``cpu_kernel`` from
    :meth:`supports_cpu_kernel`; :meth:`kernel_operands` gives the kernel's operands,
    made from the parameters :meth:`_kernel_slots` names by :meth:`_kernel_operands` and
    kept in an :class:`OperandCache`."""

    #: Whether the module calls its kernel (where :meth:`uses_cpu_kernel` allows).
    cpu_kernel = False

    def uses_cpu_kernel(self, xs: Sequence[Tensor]) -> bool:
        """Whether this call on ``xs`` runs the kernel: ``cpu_kernel`` is set and
        :func:`runs_cpu_kernels` allows it; under ``torch.compile``, only once the
        operands are made (by an eager pass, or :func:`make_kernel_operands`): the
        compiled graph then calls the kernel with them."""
        if not self.cpu_kernel or not runs_cpu_kernels(xs):
            return False
        if torch.compiler.is_compiling():
            cache = self.__dict__.get('_cpu_operands')
            return cache is not None and cache.operands is not None
        return True

    def supports_cpu_kernel(self) -> bool:
        """Whether the module is in the form its kernel computes."""
        raise NotImplementedError

    def _kernel_slots(self) -> List[Tuple[nn.Module, str]]:
        """The parameters the operands are made from, as (module, name)."""
        raise NotImplementedError

    def _kernel_operands(self) -> list:
        raise NotImplementedError

    def call_kernel(self, xs: Any) -> Any:
        """The kernel's call on ``xs`` (a tensor or a list of branches) with the
        module's operands, unchecked: the forward pass calls it where
        :meth:`uses_cpu_kernel` allows."""
        raise NotImplementedError

    def kernel_operands(self) -> list:
        """The kernel's operands, made again when a parameter changed (under
        ``torch.compile``: the ones made last, which the compiled graph keeps, as a
        frozen graph keeps its weights)."""
        cache = self.__dict__.get('_cpu_operands')
        if cache is None:
            cache = self.__dict__['_cpu_operands'] = OperandCache()
        if torch.compiler.is_compiling():
            return cache.operands
        return cache.get(self._kernel_slots, self._kernel_operands)


def _kernel_modules(model: nn.Module) -> List[CPUKernelMixin]:
    """The modules of ``model`` that ``switch_to_deploy`` set to call a kernel."""
    return [module for module in model.modules()
            if isinstance(module, CPUKernelMixin) and module.cpu_kernel]


def calls_cpu_kernels(model: nn.Module) -> bool:
    """Whether ``model`` calls the kernels: ``switch_to_deploy`` set some module of it
    to, and the kernels are built."""
    return bool(_kernel_modules(model)) and cpu_kernels_available()


def make_kernel_operands(model: nn.Module) -> None:
    """Makes the kernel operands of every module of ``model`` that calls a kernel, so
    that a ``torch.compile`` of it calls the kernels (see
    :meth:`CPUKernelMixin.uses_cpu_kernel`), and loads the kernels first: a first load
    inside the compile (it reads files) broke the graph into nine."""
    modules = _kernel_modules(model)
    if modules and cpu_kernels_available():
        for module in modules:
            module.kernel_operands()
