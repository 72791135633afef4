"""One kernel adapter per block: which form of the module its kernel computes, the
parameters its operands come from, the inputs it takes, and the call. Installed on the
modules through the model's seam (:class:`~mmpose_litehrnet.models.layers.Accelerated`)
by :func:`attach_cpu_kernels`."""
from typing import Any, Dict, List, Optional, Sequence, Tuple, Type

import torch
import torch.nn as nn
from torch import Tensor

from ..models.backbones import LiteHRModule
from ..models.blocks import (
    BlockDiagonalSpatialWeighting,
    ConditionalChannelWeighting,
    IterativeHead,
    MergedBranchStem,
    ShuffleUnit,
    Transition,
)
from ..models.layers import is_folded_block, is_folded_conv
from .build import cpu_kernels_available
from .gate import call_list_kernel, kernel, runs_cpu_kernels
from .operands import OperandCache, Slots, conv_operands, dense_operands, pack_operands

__all__ = ['ADAPTERS', 'KernelAdapter', 'attach_cpu_kernels', 'calls_cpu_kernels',
           'kernel_modules', 'make_kernel_operands']


def _conv(conv: nn.Module, kernel_size: int, stride: int = 1) -> bool:
    """A folded convolution the kernels compute: 3x3 depthwise or 1x1 dense."""
    return is_folded_conv(conv, kernel_size, stride, depthwise=kernel_size == 3)


def _block(block: nn.Module, kernel_size: int, stride: int = 1, *, relu: bool = False,
           depthwise: Optional[bool] = None) -> bool:
    """A folded conv-act block the kernels compute (3x3 depthwise or 1x1 dense unless
    ``depthwise`` says), with a ReLU when ``relu``."""
    return is_folded_block(block, kernel_size, stride,
                           kernel_size == 3 if depthwise is None else depthwise,
                           act=nn.ReLU if relu else None)


def _separable(step: nn.Module, stride: int, relu: bool) -> bool:
    """A folded depthwise separable step the kernels compute: a 3x3 depthwise
    convolution with that stride and a 1x1 convolution, then a ReLU when ``relu``."""
    return isinstance(step, nn.Sequential) and len(step) == 2 + relu \
        and _conv(step[0], 3, stride) and _conv(step[1], 1) \
        and (not relu or type(step[2]) is nn.ReLU)


def _weights_and_biases(convs: Sequence[nn.Conv2d]) -> List[Tuple[nn.Module, str]]:
    return [(conv, name) for conv in convs for name in ('weight', 'bias')]


class KernelAdapter:
    """Computes one module's accelerated step (see the module's docstring) with one
    kernel call, on the inputs :func:`~.gate.runs_cpu_kernels` and :meth:`accepts`
    allow; otherwise it declines (None) and the module's PyTorch code runs. It keeps the
    operands made from the module's parameters (:class:`~.operands.OperandCache`); under
    ``torch.compile`` it calls the kernel only once they are made (by an eager pass, or
    :func:`make_kernel_operands`), and the compiled graph keeps those, as a frozen graph
    keeps its weights.

    A subclass per block says what :meth:`fits` (the form of the module its kernel
    computes), :meth:`slots`, :meth:`operands` and :meth:`call`.
    """

    def __init__(self) -> None:
        self.cache = OperandCache()

    @staticmethod
    def fits(module: nn.Module) -> bool:
        """Whether ``module`` is in the form the kernel computes."""
        raise NotImplementedError

    def slots(self, module: Any) -> Slots:
        """The parameters the operands are made from, as (module, name)."""
        raise NotImplementedError

    def operands(self, module: Any) -> list:
        """The kernel's operands, made from the parameters."""
        raise NotImplementedError

    def accepts(self, module: Any, xs: Sequence[Tensor]) -> bool:
        """Whether the kernel takes these branches (beyond their dtype, device and
        layout): their sizes."""
        return True

    def call(self, module: Any, x: Any, operands: list) -> Any:
        """The kernel's call on the step's input ``x`` (a tensor or a list of branches)."""
        raise NotImplementedError

    def make_operands(self, module: Any) -> list:
        """The operands, made again when a parameter changed."""
        return self.cache.get(lambda: self.slots(module), lambda: self.operands(module))

    def __call__(self, module: Any, x: Any) -> Optional[Any]:
        xs = x if isinstance(x, (list, tuple)) else [x]
        if not runs_cpu_kernels(xs) or not self.accepts(module, xs):
            return None
        if torch.compiler.is_compiling():
            operands = self.cache.operands
            if operands is None:
                return None
        else:
            operands = self.make_operands(module)
        return self.call(module, x, operands)


class StemKernel(KernelAdapter):
    """``stem``: a :class:`MergedBranchStem`, every convolution folded."""

    @staticmethod
    def fits(module: MergedBranchStem) -> bool:
        return _block(module.conv1, 3, 2, relu=True, depthwise=False) \
            and _block(module.expand_conv, 1, relu=True) \
            and _block(module.depthwise_conv, 3, 2) \
            and _block(module.linear_conv, 1, relu=True)

    def slots(self, module: MergedBranchStem) -> Slots:
        return _weights_and_biases([block.conv for block in module])

    def operands(self, module: MergedBranchStem) -> list:
        """The convolutions', the expansion's without the rows and columns of the
        channels it passes through, and how many those are."""
        passed = module.passed_channels()
        expand = module.expand_conv.conv
        return [*pack_operands([
            *conv_operands(module.conv1.conv),
            *dense_operands(expand.weight[passed:, passed:], expand.bias[passed:]),
            *conv_operands(module.depthwise_conv.conv),
            *conv_operands(module.linear_conv.conv)]), passed]

    def call(self, module: MergedBranchStem, x: Tensor, operands: list) -> Tensor:
        return kernel('stem')(x, *operands, module.out_channels)


class TransitionKernel(KernelAdapter):
    """``depthwise_separable`` per path of a :class:`Transition`: every path a folded
    depthwise separable step with its ReLU, or an identity."""

    @staticmethod
    def _steps(module: Transition) -> List[Optional[nn.Sequential]]:
        """Each path's (depthwise, 1x1, ReLU) layers, None for an identity."""
        return [None if isinstance(path, nn.Identity) else path[0] if len(path) == 1 else path
                for path in module]

    @staticmethod
    def fits(module: Transition) -> bool:
        return all(step is None or _separable(step, 1 if i < module.num_inputs else 2, True)
                   for i, step in enumerate(TransitionKernel._steps(module)))

    def slots(self, module: Transition) -> Slots:
        return _weights_and_biases([conv for step in self._steps(module) if step is not None
                                    for conv in step[:2]])

    def operands(self, module: Transition) -> List[Optional[list]]:
        """Per path, None for an identity, else the kernel's arguments after the input:
        stride, output channels, then the two convolutions' operands."""
        return [None if step is None else
                [1 if i < module.num_inputs else 2, step[1].out_channels,
                 *pack_operands([*conv_operands(step[0]), *conv_operands(step[1])])]
                for i, step in enumerate(self._steps(module))]

    def call(self, module: Transition, xs: List[Tensor], operands: list) -> List[Tensor]:
        last = module.num_inputs - 1
        return [xs[i] if path is None else kernel('depthwise_separable')(xs[min(i, last)], *path)
                for i, path in enumerate(operands)]


class ShuffleUnitKernel(KernelAdapter):
    """``shuffle_unit``: a stride-1 :class:`ShuffleUnit` with equal halves, folded, a
    ReLU after both 1x1 convolutions."""

    @staticmethod
    def fits(module: ShuffleUnit) -> bool:
        if module.stride != 1 or module.split_sizes[0] != module.split_sizes[1]:
            return False
        first, depthwise, last = module.branch2
        return _block(first, 1, relu=True) and _block(depthwise, 3) \
            and _block(last, 1, relu=True)

    def slots(self, module: ShuffleUnit) -> Slots:
        return _weights_and_biases([block.conv for block in module.branch2])

    def operands(self, module: ShuffleUnit) -> list:
        return pack_operands([t for block in module.branch2 for t in conv_operands(block.conv)])

    def call(self, module: ShuffleUnit, x: Tensor, operands: list) -> Tensor:
        return kernel('shuffle_unit')(x, *operands)


class ConditionalChannelWeightingKernel(KernelAdapter):
    """``conditional_channel_weighting``: both weightings in their deploy form (the
    cross-resolution one direct, the spatial ones block-diagonal) and folded 3x3
    depthwise convolutions."""

    @staticmethod
    def fits(module: ConditionalChannelWeighting) -> bool:
        crw = module.cross_resolution_weighting
        return crw is not None and crw.direct \
            and isinstance(module.spatial_weighting, BlockDiagonalSpatialWeighting) \
            and all(len(dw) == 1 and _conv(dw.conv, 3) for dw in module.depthwise_convs)

    def slots(self, module: ConditionalChannelWeighting) -> Slots:
        crw, sw = module.cross_resolution_weighting, module.spatial_weighting
        convs = [crw.conv1.conv, crw.conv2.conv, *(dw.conv for dw in module.depthwise_convs)]
        return [(sw, name) for name in ('weight1', 'bias1', 'weight2', 'bias2')] + \
            _weights_and_biases(convs)

    def operands(self, module: ConditionalChannelWeighting) -> list:
        """Transposed FC weights, tap-major depthwise weights, each branch's diagonal
        block of the spatial weighting."""
        crw, sw = module.cross_resolution_weighting, module.spatial_weighting
        blocks = []
        for weight in (sw.weight1, sw.weight2):
            rows = sw.hidden if weight is sw.weight1 else sw.channels
            cols = sw.channels if weight is sw.weight1 else sw.hidden
            row = col = 0
            branch = []
            for r, c in zip(rows, cols):
                branch.append(weight[row:row + r, col:col + c].t().contiguous())
                row, col = row + r, col + c
            blocks.append(branch)
        depthwise = [conv_operands(dw.conv) for dw in module.depthwise_convs]
        return pack_operands([
            *conv_operands(crw.conv1.conv), *conv_operands(crw.conv2.conv),
            *(weight for weight, _ in depthwise), *(bias for _, bias in depthwise),
            *blocks[0], *sw.bias1.split(sw.hidden), *blocks[1], *sw.bias2.split(sw.channels)])

    def accepts(self, module: ConditionalChannelWeighting, xs: Sequence[Tensor]) -> bool:
        """Branch sizes that divide by the smallest's, each branch twice its half."""
        h, w = xs[-1].shape[-2:]
        return h > 0 and w > 0 and all(
            x.shape[-2] % h == 0 and x.shape[-1] % w == 0 and x.shape[1] == 2 * c
            for x, c in zip(xs, module.halves))

    def call(self, module: ConditionalChannelWeighting, xs: List[Tensor],
             operands: list) -> List[Tensor]:
        return call_list_kernel('conditional_channel_weighting', xs, *operands)


class FusionKernel(KernelAdapter):
    """``multi_resolution_fusion``: a :class:`LiteHRModule`'s fusion and its ReLU
    (:meth:`LiteHRModule.fuse`), in legacy mode, an output per input, every norm
    folded."""

    @staticmethod
    def fits(module: LiteHRModule) -> bool:
        fusion = getattr(module, 'fuse_layers', None)
        if not module.with_fuse or not isinstance(module.relu, nn.ReLU) \
                or fusion.mode != 'legacy' or any(len(row) != len(fusion) for row in fusion):
            return False
        for i, row in enumerate(fusion):
            for j, path in enumerate(row):
                if j > i and not (len(path) == 2 and _conv(path[0], 1)):
                    return False
                if j < i and not all(_separable(step, 2, relu=k < i - j - 1)
                                     for k, step in enumerate(path)):
                    return False
        return True

    @staticmethod
    def _convs(module: LiteHRModule) -> List[nn.Conv2d]:
        """Every convolution, in the order of the kernel's operands."""
        return [conv for i, row in enumerate(module.fuse_layers) for j, path in enumerate(row)
                for conv in ([path[0]] if j > i else
                             [c for step in path for c in step[:2]] if j < i else [])]

    def slots(self, module: LiteHRModule) -> Slots:
        return _weights_and_biases(self._convs(module))

    def operands(self, module: LiteHRModule) -> list:
        return pack_operands([t for conv in self._convs(module) for t in conv_operands(conv)])

    def accepts(self, module: LiteHRModule, xs: Sequence[Tensor]) -> bool:
        """Branch sizes that halve exactly."""
        h, w = xs[0].shape[-2:]
        return all(x.shape[-2] << k == h and x.shape[-1] << k == w for k, x in enumerate(xs))

    def call(self, module: LiteHRModule, xs: List[Tensor], operands: list) -> List[Tensor]:
        return call_list_kernel('multi_resolution_fusion', xs, *operands)


class IterativeHeadKernel(KernelAdapter):
    """``iterative_head``: an :class:`IterativeHead` with its norms folded."""

    @staticmethod
    def fits(module: IterativeHead) -> bool:
        return all(_block(project.depthwise_conv, 3)
                   and _block(project.pointwise_conv, 1, relu=True)
                   for project in module.projects)

    def slots(self, module: IterativeHead) -> Slots:
        return _weights_and_biases([block.conv for project in module.projects
                                    for block in project])

    def operands(self, module: IterativeHead) -> list:
        return pack_operands([t for project in module.projects for block in project
                              for t in conv_operands(block.conv)])

    def accepts(self, module: IterativeHead, xs: Sequence[Tensor]) -> bool:
        """A branch per projection."""
        return len(xs) == len(module.projects)

    def call(self, module: IterativeHead, xs: List[Tensor], operands: list) -> List[Tensor]:
        return call_list_kernel('iterative_head', xs, *operands)


#: The adapter of each block type.
ADAPTERS: Dict[Type[nn.Module], Type[KernelAdapter]] = {
    MergedBranchStem: StemKernel,
    Transition: TransitionKernel,
    ShuffleUnit: ShuffleUnitKernel,
    ConditionalChannelWeighting: ConditionalChannelWeightingKernel,
    LiteHRModule: FusionKernel,
    IterativeHead: IterativeHeadKernel,
}


def _adapter_type(module: nn.Module) -> Optional[Type[KernelAdapter]]:
    return next((ADAPTERS[cls] for cls in type(module).__mro__ if cls in ADAPTERS), None)


def attach_cpu_kernels(model: nn.Module, enabled: bool = True) -> nn.Module:
    """Installs a kernel adapter on every module of ``model`` (in its deploy form) that
    one computes, where it :meth:`~KernelAdapter.fits`; with ``enabled`` False, or where
    it does not fit, removes any. The kernels are built at their first call, not here.
    Returns ``model``."""
    for module in model.modules():
        adapter = _adapter_type(module)
        if adapter is None:
            continue
        if enabled and adapter.fits(module):
            module.accelerator = adapter()
        elif isinstance(module.accelerator, KernelAdapter):
            module.accelerator = None
    return model


def kernel_modules(model: nn.Module) -> List[nn.Module]:
    """The modules of ``model`` with a kernel adapter installed."""
    return [module for module in model.modules()
            if isinstance(getattr(module, 'accelerator', None), KernelAdapter)]


def calls_cpu_kernels(model: nn.Module) -> bool:
    """Whether ``model`` calls the kernels: some module of it has an adapter, and the
    kernels are built."""
    return bool(kernel_modules(model)) and cpu_kernels_available()


def make_kernel_operands(model: nn.Module) -> None:
    """Makes the kernel operands of every module of ``model`` that calls a kernel, so
    that a ``torch.compile`` of it calls the kernels (see :class:`KernelAdapter`), and
    loads the kernels first: a first load inside the compile (it reads files) broke the
    graph into nine."""
    modules = kernel_modules(model)
    if modules and cpu_kernels_available():
        for module in modules:
            module.accelerator.make_operands(module)
