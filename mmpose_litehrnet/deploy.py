"""Inference form: batch norms folded into the convolutions before them.

``switch_to_deploy(model)`` rewrites any model in place (a backbone, or a whole MMPose /
MMSeg model): in every ``nn.Sequential`` (our ``ConvNormAct``, the fusion and transition
paths), a ``_BatchNorm`` right after a ``Conv2d`` is folded into the convolution's weight
and bias and removed from the container; each folded stem runs its two branches as one
path (``MergedBranchStem``); then every biased 1x1 ``Conv2d`` becomes a
:class:`MatmulConv1x1` (same parameters, a matrix product on the CPU), the channel
weightings whose norms are folded call their matrix products directly (each block's
spatial weightings as one block-diagonal pair, ``BlockDiagonalSpatialWeighting``), and
every Lite-HRNet backbone runs CPU inputs channels-last (``channels_last`` names the
devices, ``False`` none; ONNX export is never converted). Outputs stay equal to the
eval-mode training form up to float rounding. The training form and its state-dict keys
are untouched until this is called; a deployed model's state dict (without the folded
norms, with the merged stem's and the block-diagonal weightings' parameters) loads into
any model of the same config after ``switch_to_deploy``.
"""
import contextlib
import warnings
from typing import Any, Callable, Iterator, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

from .models.layers.cpu_kernels import runs_cpu_kernels
from .models.layers.export import is_exporting_onnx
from .models.layers.layout import channels_last_device_types

__all__ = ['MatmulConv1x1', 'TensorForward', 'channels_last_device_types',
           'compile_aot_package', 'compile_for_cpu_inference', 'export_onnx', 'fold_conv_bn',
           'load_aot_package', 'load_torchscript', 'switch_to_deploy', 'trace_torchscript']


class TensorForward(nn.Module):
    """Calls an MMEngine model in ``'tensor'`` mode (a pose model gives its heatmaps), a
    plain module as it is: the single-tensor forward that tracing, export and the FLOPs
    counters need.

    Shape:
        (N, 3, H, W) -> the model's tensor output
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> Any:
        from mmengine.model import BaseModel
        if isinstance(self.model, BaseModel):
            return self.model(x, None, mode='tensor')
        return self.model(x)


class MatmulConv1x1(nn.Conv2d):
    """A 1x1 convolution (stride 1, one group, with bias) computed as a matrix product
    on CPU tensors.

    At batch 1 on the CPU, oneDNN's fixed cost per convolution call dominates the small
    1x1 convolutions of Lite-HRNet; a matrix product with the bias fused costs a fraction
    of it. Inputs with their channels adjacent in memory (channels-last, a channel slice
    of it, or 1x1 maps) are a linear layer over the pixels, read in place, and give a
    channels-last result; NCHW-contiguous ones are (C_in, H * W) matrices per image.
    Same weight and bias as the ``Conv2d`` it replaces (same state-dict keys); on a GPU,
    for other layouts and in ONNX export it is the plain convolution, except after the CPU
    kernels' custom nodes (``export_onnx(..., cpu_kernels=True)``): there a ``MatMul`` on
    their channels-last output, which needs no transpose of its input.

    Shape:
        (N, C_in, H, W) -> (N, C_out, H, W)
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.is_cuda or is_exporting_onnx() and not runs_cpu_kernels([x]):
            return super().forward(x)
        n, c, h, w = x.shape
        weight = self.weight.view(self.out_channels, self.in_channels)
        if x.stride(1) == 1:  # channels adjacent: is_channels_last, or 1x1 maps
            return F.linear(x.permute(0, 2, 3, 1), weight, self.bias).permute(0, 3, 1, 2)
        if not x.is_contiguous():
            return super().forward(x)
        if n == 1:
            out = torch.addmm(self.bias.unsqueeze(1), weight, x.view(c, h * w))
        else:
            out = torch.baddbmm(self.bias.view(1, -1, 1),
                                weight.expand(n, self.out_channels, c), x.view(n, c, h * w))
        return out.view(n, self.out_channels, h, w)


def _as_matmul(conv: nn.Module) -> nn.Module:
    """``conv`` as a :class:`MatmulConv1x1` when it is a plain biased 1x1 convolution."""
    if type(conv) is not nn.Conv2d or conv.bias is None or conv.kernel_size != (1, 1) \
            or conv.stride != (1, 1) or conv.padding != (0, 0) or conv.dilation != (1, 1) \
            or conv.groups != 1 or conv.padding_mode != 'zeros':
        return conv
    fast = MatmulConv1x1(conv.in_channels, conv.out_channels, 1).to(conv.weight)
    fast.load_state_dict(conv.state_dict())
    return fast


def _folded(*blocks: nn.Sequential) -> bool:
    """Whether each conv-norm-act block is down to a biased convolution and its
    activation (its norm folded away, or none)."""
    return all(len(block) == 2 and isinstance(block[0], nn.Conv2d)
               and block[0].bias is not None for block in blocks)


@torch.no_grad()
def fold_conv_bn(conv: nn.Conv2d, bn: _BatchNorm) -> nn.Conv2d:
    """Returns ``conv`` with ``bn`` (eval mode) folded into its weight and bias."""
    def exact(t: Tensor) -> Tensor:
        # On the CPU in float64 (which not every device has), so that each folded value
        # is rounded once, when it is copied back, not after every step.
        return t.detach().to('cpu', torch.float64)

    scale = exact(bn.weight) / torch.sqrt(exact(bn.running_var) + bn.eps)
    bias = exact(conv.bias) if conv.bias is not None else torch.zeros_like(scale)
    fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                      conv.padding, conv.dilation, conv.groups, bias=True,
                      padding_mode=conv.padding_mode).to(conv.weight)
    fused.weight.copy_(exact(conv.weight) * scale.reshape(-1, 1, 1, 1))
    fused.bias.copy_((bias - exact(bn.running_mean)) * scale + exact(bn.bias))
    return fused


def switch_to_deploy(model: nn.Module, test_cfg: Optional[Any] = None,
                     channels_last: Union[bool, str, Sequence[str]] = True,
                     aot: Union[bool, str] = False, cpu_kernels: bool = True) -> nn.Module:
    """Folds every (Conv2d, BatchNorm) pair of ``model``'s sequential containers, in
    place, and puts the model in eval mode. ``test_cfg`` is accepted (and ignored) so
    that MMPose's ``BasePoseEstimator.switch_to_deploy`` can call it.

    ``channels_last`` names the device types on which every Lite-HRNet backbone in
    ``model`` converts its input to ``torch.channels_last`` and runs in that layout:
    ``True`` (the default) is the CPU alone, where oneDNN's depthwise convolutions then
    skip their layout reorders (about half their time at batch 1) and the 1x1
    convolutions read the pixels in place; ``False`` keeps NCHW everywhere; a device type
    or a sequence of them (``('cpu', 'cuda')``) opts GPUs in, and then the backbones'
    convolution weights are stored channels-last too (cuDNN would otherwise convert them
    at every call), so their convolutions give channels-last outputs on every device.
    ONNX export is never converted.

    ``aot`` (True, or a cache directory) makes every Lite-HRNet backbone run its no-grad
    float32 CPU forward passes through an AOTInductor package compiled on first use for
    the input's size (a batch of 1, or any larger one) and cached on disk
    (:class:`~mmpose_litehrnet.aot_backbone.AOTBackbone`): MMPose's own test and
    inference path then runs the compiled graph.

    ``cpu_kernels`` (the default) makes the stem, every transition path, every
    conditional channel weighting block, every multi-resolution fusion (with its ReLU),
    the iterative head and every stride-1 shuffle unit one operator call in no-grad
    float32 CPU passes that are not traced or exported
    (:mod:`~mmpose_litehrnet.models.layers.cpu_kernels`, built with the C++ compiler at
    first use and cached; where that fails a warning says so and the PyTorch operators
    run). Returns ``model``."""
    devices = channels_last_device_types(channels_last)
    from .models.backbones import LiteHRNet
    from .models.blocks import (
        BlockDiagonalSpatialWeighting,
        ConditionalChannelWeighting,
        CrossResolutionWeighting,
        MergedBranchStem,
        Stem,
    )
    from .models.layers import CPUKernelMixin
    model.eval()
    for module in list(model.modules()):
        if not isinstance(module, nn.Sequential):
            continue
        layers = list(module._modules.items())
        for (first, conv), (second, bn) in zip(layers, layers[1:]):
            if type(conv) is nn.Conv2d and isinstance(bn, _BatchNorm) \
                    and bn.track_running_stats and bn.affine:
                module._modules[first] = fold_conv_bn(conv, bn)
                del module._modules[second]
    for module in list(model.modules()):
        for name, child in list(module._modules.items()):
            if isinstance(child, Stem) and MergedBranchStem.mergeable(child):
                module._modules[name] = MergedBranchStem.from_stem(child)
    for module in list(model.modules()):
        for name, child in list(module._modules.items()):
            module._modules[name] = _as_matmul(child)
        if isinstance(module, LiteHRNet):
            module.set_channels_last(devices)
        if isinstance(module, CrossResolutionWeighting) and _folded(module.conv1,
                                                                    module.conv2):
            module.direct = True
        if isinstance(module, ConditionalChannelWeighting) \
                and isinstance(module.spatial_weighting, nn.ModuleList) \
                and _folded(*(fc for w in module.spatial_weighting for fc in (w.conv1, w.conv2))):
            module.spatial_weighting = BlockDiagonalSpatialWeighting.from_branches(
                module.spatial_weighting)
    for module in model.modules():  # once the blocks' weightings are in their deploy form
        if isinstance(module, CPUKernelMixin):
            module.cpu_kernel = cpu_kernels and module.supports_cpu_kernel()
    from .aot_backbone import aot_cache_dir, attach_aot_backbones
    cache_dir = aot_cache_dir(aot)
    if cache_dir is not None:
        attach_aot_backbones(model, cache_dir)
    return model


def export_onnx(model: nn.Module, x: torch.Tensor, path: str,
                output_names: Sequence[str] = ('heatmaps', ),
                dynamic_batch: bool = False, cpu_kernels: bool = False) -> None:
    """Exports ``model`` at ``x``'s shape to ONNX: opset 17, the TorchScript exporter
    (the dynamo one needs onnxscript), input named ``input``. The shape is fixed, or with
    ``dynamic_batch`` all but the batch axis of the input and outputs (a top-down model
    sees one crop per person). The export tool and the benchmark both go through here,
    so they measure the same graph.

    By default the file holds ONNX's operators only. With ``cpu_kernels``, each call the
    deploy form makes to its CPU kernels (where they build) is one custom node of the
    ``mmpose_litehrnet`` domain, which an ONNX Runtime session runs once it has loaded
    their library (:func:`~mmpose_litehrnet.models.layers.ort_kernels.add_ort_kernels`),
    on the CPU: much faster, but no other runtime knows those nodes."""
    axes = {name: {0: 'batch'} for name in ('input', *output_names)} if dynamic_batch \
        else None
    # The kernels run in passes without gradients only.
    with _quiet_tracer(), _kernels_in_export(model, cpu_kernels), \
            torch.set_grad_enabled(not cpu_kernels):
        torch.onnx.export(model, (x, ), path, opset_version=17, dynamo=False,
                          input_names=['input'], output_names=list(output_names),
                          dynamic_axes=axes,
                          custom_opsets={'mmpose_litehrnet': 1} if cpu_kernels else None)
    if cpu_kernels:
        _cancel_transposes(path)


def _cancel_transposes(path: str) -> None:
    """Removes each pair of transposes that undo each other from the ONNX file at
    ``path``: the kernel nodes take and give (N, H, W, C) tensors, and their export puts
    a transpose to (N, C, H, W) after each output and back before each input."""
    import onnx
    model = onnx.load(path)
    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}

    def perm(node: Any) -> Optional[list]:
        return list(node.attribute[0].ints) if node.op_type == 'Transpose' else None

    renamed = {}
    for node in graph.node:
        source = producer.get(node.input[0]) if node.input else None
        if perm(node) == [0, 2, 3, 1] and source is not None and perm(source) == [0, 3, 1, 2]:
            renamed[node.output[0]] = source.input[0]
    for node in graph.node:
        node.input[:] = [renamed.get(name, name) for name in node.input]
    outputs = {out.name for out in graph.output}
    while True:  # transposes whose output nothing reads, until none is left
        used = {name for node in graph.node for name in node.input} | outputs
        unused = [node for node in graph.node
                  if node.op_type == 'Transpose' and node.output[0] not in used]
        if not unused:
            break
        for node in unused:
            graph.node.remove(node)
    onnx.save(model, path)


def trace_torchscript(model: nn.Module, x: torch.Tensor,
                      cpu_kernels: bool = False) -> torch.jit.ScriptModule:
    """``model`` traced to TorchScript at ``x``'s shape: no Python left in its forward
    pass (on the CPU the deploy form runs about a third faster), loadable with
    ``torch.jit.load`` alone. The shape logic (resize targets, block views) is recorded
    for this input shape, so the result is only valid at that shape. The export tool and
    the benchmark both go through here.

    With ``cpu_kernels``, the trace records the deploy form's calls to its CPU kernels
    (where they build) as ``mmpose_litehrnet::*`` operators, as
    :func:`compile_aot_package` does: faster, but the saved file then loads only where
    the kernels are loaded (:func:`load_torchscript`)."""
    with _quiet_tracer(), _kernels_in_export(model, cpu_kernels), torch.no_grad():
        return torch.jit.trace(model, x, check_trace=False)


def load_torchscript(path: str) -> torch.jit.ScriptModule:
    """A file saved from :func:`trace_torchscript`, loaded after the CPU kernels (which a
    trace made with ``cpu_kernels`` calls).

    Shape:
        as the traced model, at its traced shape
    """
    from .models.layers import cpu_kernels_available
    cpu_kernels_available()
    return torch.jit.load(path)


def compile_for_cpu_inference(model: nn.Module) -> Callable[..., Any]:
    """``torch.compile(model)`` with TorchInductor's two switches for CPU inference, as a
    no-grad callable. ``freezing``: the parameters become constants of the compiled
    graph, so Inductor folds them and converts the convolution weights to oneDNN's
    layout once, at compile time (pytorch#103642), not at every call. ``cpp_wrapper``: the
    compiled graph runs from generated C++, not Python. ``freezing`` only takes effect as
    a global Inductor setting (passed in ``torch.compile``'s ``options`` it is ignored,
    torch 2.14), so each call sets it for its own duration (a new input shape compiles
    again, with it). Compile once the weights are final: a frozen graph does not follow
    later changes to them. The deploy form's CPU kernels (where they build) are ops of
    the compiled graph, their operands made from the weights first
    (:func:`~mmpose_litehrnet.models.layers.make_kernel_operands`). The first call
    compiles (about 20 s for Lite-HRNet-18's deploy form on 2 cores with the kernels, up
    to ~3 minutes without them, a cold cache; a C++ compiler is needed).

    Shape:
        as ``model``
    """
    import torch._inductor.config as inductor_config

    from .models.layers import make_kernel_operands
    make_kernel_operands(model)
    compiled = torch.compile(model, options={'cpp_wrapper': True})

    def run(*args: Any, **kwargs: Any) -> Any:
        with inductor_config.patch(freezing=True), torch.no_grad():
            return compiled(*args, **kwargs)
    return run


def compile_aot_package(model: nn.Module, x: Tensor, path: str, dynamic_batch: bool = False,
                        cpu_kernels: bool = False) -> str:
    """``model`` compiled ahead of time by TorchInductor (AOTInductor) for ``x``'s device
    into a ``.pt2`` package at ``path``, which it returns. ``torch.export`` captures the
    forward pass at ``x``'s shape (with ``dynamic_batch``, any batch size >= 1); then
    Inductor compiles it with ``freezing`` under no_grad (Inductor freezes only a graph
    without gradients: compiled with them, the package's convolutions reordered their
    weights at every call and it ran 2x slower), like :func:`compile_for_cpu_inference`.
    The package runs the compiled graph from C++ at once (no compile when it is loaded,
    no guards at each call). Compile once the weights are final; it takes a C++ compiler
    and, for Lite-HRNet-18's deploy form on 2 cores, about 2.5 minutes with PyTorch's
    operators or about 20 s with the kernels.

    By default the graph holds PyTorch's operators only: the package loads with
    ``torch._inductor.aoti_load_package(path)`` (or C++'s ``AOTIModelPackageLoader``)
    without this package, MMPose or the model's code. With ``cpu_kernels``, the deploy
    form's CPU kernels (where they build) are ops of the graph, as in
    :func:`compile_for_cpu_inference`: faster, but the package then runs only where the
    kernels are loaded (:func:`load_aot_package` loads them, then the package).

    Shape:
        the package: as ``model``, at ``x``'s shape (any batch with ``dynamic_batch``)
    """
    import torch._inductor.config as inductor_config
    if dynamic_batch and x.shape[0] < 2:
        raise ValueError('compile_aot_package: a dynamic batch needs an example batch of at '
                         f'least 2 (export specialises a batch of 0 or 1), got {x.shape[0]}')
    dynamic = ({0: torch.export.Dim('batch', min=1)}, ) if dynamic_batch else None
    with torch.no_grad():
        with _kernels_in_export(model, cpu_kernels):
            program = torch.export.export(model, (x, ), dynamic_shapes=dynamic)
        with inductor_config.patch(freezing=True):
            return torch._inductor.aoti_compile_and_package(program, package_path=path)


def load_aot_package(path: str) -> Any:
    """A package of :func:`compile_aot_package`, loaded after the CPU kernels (which a
    package compiled with ``cpu_kernels`` calls).

    Shape:
        as the packaged model
    """
    from .models.layers import cpu_kernels_available
    cpu_kernels_available()
    return torch._inductor.aoti_load_package(path)


def _kernels_in_export(model: nn.Module, cpu_kernels: bool) -> Any:
    """The scope an export of ``model`` runs in: with ``cpu_kernels``, its kernel operands
    made first and :func:`~mmpose_litehrnet.models.layers.cpu_kernels_in_exports`;
    otherwise nothing."""
    from .models.layers import cpu_kernels_in_exports, make_kernel_operands
    if not cpu_kernels:
        return contextlib.nullcontext()
    make_kernel_operands(model)
    return cpu_kernels_in_exports()


@contextlib.contextmanager
def _quiet_tracer() -> Iterator[None]:
    """Silences the tracer's warnings about Python-int shape logic, which both exports
    record for their fixed input shape on purpose."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        yield
