"""ONNX export: ONNX's operators, or the CPU kernels as custom nodes."""
import copy
from typing import Any, Optional, Sequence

import torch
import torch.nn as nn

from ..models import fold_channel_shuffles
from .scope import kernels_in_export, quiet_tracer

__all__ = ['export_onnx']


def export_onnx(model: nn.Module, x: torch.Tensor, path: str,
                output_names: Sequence[str] = ('heatmaps', ),
                dynamic_batch: bool = False, cpu_kernels: bool = False,
                fold_shuffles: bool = True) -> None:
    """Exports ``model`` at ``x``'s shape to ONNX: opset 17, the TorchScript exporter
    (the dynamo one needs onnxscript), input named ``input``. The shape is fixed, or with
    ``dynamic_batch`` all but the batch axis of the input and outputs (a top-down model
    sees one crop per person). The export tool and the benchmark both go through here,
    so they measure the same graph.

    By default the file holds ONNX's operators only, and with ``fold_shuffles`` (the
    default) the Lite-HRNet modules' channel splits and shuffles are folded into their
    weights (:func:`~mmpose_litehrnet.models.fold_channel_shuffles`, on a copy of
    ``model``): OpenVINO ran Lite-HRNet-18 about 10% faster. With ``cpu_kernels``, each
    call the deploy form makes to its CPU kernels (where they build) is one custom node
    of the ``mmpose_litehrnet`` domain, which ONNX Runtime and OpenVINO run on the CPU
    once they have loaded their library (:func:`~mmpose_litehrnet.kernels.add_ort_kernels`,
    :func:`~mmpose_litehrnet.kernels.add_openvino_kernels`): much faster, but no other
    runtime knows those nodes."""
    if fold_shuffles and not cpu_kernels:
        model = fold_channel_shuffles(copy.deepcopy(model))
    axes = {name: {0: 'batch'} for name in ('input', *output_names)} if dynamic_batch \
        else None
    # The kernels run in passes without gradients only.
    with quiet_tracer(), kernels_in_export(model, cpu_kernels), \
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
