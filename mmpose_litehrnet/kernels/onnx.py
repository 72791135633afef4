"""A kernel call in an ONNX export: one node of the ``mmpose_litehrnet`` domain, which
ONNX Runtime runs once it has loaded the kernels' library (see :mod:`.ort`)."""
from typing import Any, Callable, List, Sequence, Tuple, Union

import torch
from torch import Tensor

from .ops import KERNEL_OPS, NAMESPACE

__all__ = ['onnx_kernel']


class _KernelNode(torch.autograd.Function):
    """One kernel call, exported as one node of the ``mmpose_litehrnet`` domain; in the
    trace it runs the PyTorch operator."""

    @staticmethod
    def forward(ctx: Any, name: str, attributes: Tuple[Tuple[str, int], ...],
                operands: Tensor, layout: Tensor,
                *xs: Tensor) -> Union[Tensor, Tuple[Tensor, ...]]:
        branches = {'xs': list(xs)} if KERNEL_OPS[name].returns_list else {'x': xs[0]}
        out = getattr(getattr(torch.ops, NAMESPACE), name)(
            **branches, operands=operands, layout=layout, **dict(attributes))
        return tuple(out) if isinstance(out, list) else out

    @staticmethod
    def symbolic(g: Any, name: str, attributes: Tuple[Tuple[str, int], ...],
                 operands: Any, layout: Any, *xs: Any) -> Any:
        # ONNX tensors are dense in their own order: the kernels' are (N, H, W, C). The
        # transposes between two kernel nodes cancel (see export_onnx).
        nhwc = [g.op('Transpose', x, perm_i=[0, 2, 3, 1]) for x in xs]
        op = KERNEL_OPS[name]
        outputs = len(xs) if op.returns_list else 1  # a kernel of branches returns as many
        outs = g.op(f'{NAMESPACE}::{op.onnx_name}', operands, layout, *nhwc, outputs=outputs,
                    **{f'{key}_i': value for key, value in attributes})
        outs = outs if outputs > 1 else (outs, )
        nchw = tuple(g.op('Transpose', out, perm_i=[0, 3, 1, 2]) for out in outs)
        return nchw if outputs > 1 else nchw[0]


def onnx_kernel(name: str) -> Callable[..., Union[Tensor, List[Tensor]]]:
    """A stand-in for ``torch.ops.mmpose_litehrnet.<name>`` (same arguments) that an ONNX
    export records as one ``mmpose_litehrnet`` node: the branches (``x`` or ``xs``)
    channels-last as inputs after the operands and their layout, the int arguments as
    attributes of the same names."""
    op = KERNEL_OPS[name]

    def call(*args: Any) -> Union[Tensor, List[Tensor]]:
        bound = dict(zip(op.arguments, args))
        xs: Sequence[Tensor] = bound.pop('xs') if op.returns_list else [bound.pop('x')]
        operands, layout = bound.pop('operands'), bound.pop('layout')
        out = _KernelNode.apply(name, tuple(bound.items()), operands, layout, *xs)
        if not op.returns_list:
            return out
        return list(out) if isinstance(out, tuple) else [out]
    return call
