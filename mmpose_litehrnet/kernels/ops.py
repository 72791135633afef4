"""The kernels' operators, one table: each operator's arguments, and the shapes of its
outputs given its inputs. The operator schemas (``torch.ops.mmpose_litehrnet.*``), the
packed twins of the operators that return lists, their fake kernels for
``torch.compile``, and the ONNX node names and attributes are all made from it; the
C++ hosts (``csrc/lite_hrnet_cpu.cpp``, ``csrc/lite_hrnet_ort.cpp``) register the
implementations under the same names."""
from dataclasses import dataclass
from typing import Callable, Dict, List, Sequence, Tuple

import torch
from torch import Tensor

__all__ = ['KERNEL_OPS', 'KernelOp', 'NAMESPACE', 'define_operators', 'list_output_shapes']

#: The namespace of the PyTorch operators and the domain of the ONNX nodes.
NAMESPACE = 'mmpose_litehrnet'

Shape = Tuple[int, int, int, int]


@dataclass(frozen=True)
class KernelOp:
    """One kernel operator.

    Args:
        name (str): ``torch.ops.mmpose_litehrnet.<name>``.
        arguments (tuple[str]): Its arguments in order: ``x`` (an image) or ``xs`` (a
            list of branches), ``operands`` and ``layout`` (see ``pack_operands``), and
            int arguments (every other name), which ONNX nodes carry as attributes.
        shapes (callable): The output shapes, given the inputs' shapes and the int
            arguments by name: one per output (one for ``x``, a list for ``xs``).
    """

    name: str
    arguments: Tuple[str, ...]
    shapes: Callable[..., List[Shape]]

    @property
    def returns_list(self) -> bool:
        """Whether it takes and returns a list of branches."""
        return 'xs' in self.arguments

    @property
    def attributes(self) -> Tuple[str, ...]:
        """The int arguments."""
        return tuple(a for a in self.arguments if a not in ('x', 'xs', 'operands', 'layout'))

    @property
    def onnx_name(self) -> str:
        """The ONNX node's name (``depthwise_separable`` -> ``DepthwiseSeparable``)."""
        return ''.join(part.capitalize() for part in self.name.split('_'))

    def schema(self, packed: bool = False) -> str:
        """The PyTorch schema; with ``packed``, the twin's, which returns the outputs
        packed in order in one flat tensor (see ``call_list_kernel``)."""
        types = {'x': 'Tensor', 'xs': 'Tensor[]', 'operands': 'Tensor', 'layout': 'Tensor'}
        args = ', '.join(f'{types.get(a, "int")} {a}' for a in self.arguments)
        returns = 'Tensor[]' if self.returns_list and not packed else 'Tensor'
        return f'{self.name}{"_packed" if packed else ""}({args}) -> {returns}'


def _down(shape: Shape, channels: int, stride: int) -> Shape:
    n, _, h, w = shape
    return (n, channels, (h - 1) // stride + 1, (w - 1) // stride + 1)


def _head_shapes(xs: Sequence[Shape]) -> List[Shape]:
    # Output k has the channels of branch k - 1 (the first its own).
    return [(n, xs[max(k - 1, 0)][1], h, w) for k, (n, _, h, w) in enumerate(xs)]


#: Every kernel operator.
KERNEL_OPS: Dict[str, KernelOp] = {op.name: op for op in (
    KernelOp('stem', ('x', 'operands', 'layout', 'passed', 'out_channels'),
             lambda x, out_channels, **_: [_down(_down(x, 1, 2), out_channels, 2)]),
    KernelOp('depthwise_separable', ('x', 'stride', 'out_channels', 'operands', 'layout'),
             lambda x, stride, out_channels: [_down(x, out_channels, stride)]),
    KernelOp('shuffle_unit', ('x', 'operands', 'layout'), lambda x: [x]),
    KernelOp('conditional_channel_weighting', ('xs', 'operands', 'layout'), list),
    KernelOp('multi_resolution_fusion', ('xs', 'operands', 'layout'), list),
    KernelOp('iterative_head', ('xs', 'operands', 'layout'), _head_shapes),
)}


def list_output_shapes(name: str, xs: Sequence[Tensor]) -> List[Shape]:
    """The output shapes of the list operator ``name`` on the branches ``xs``."""
    return KERNEL_OPS[name].shapes([tuple(x.shape) for x in xs])


_library = None


def define_operators() -> None:
    """Defines every operator's schema (and its packed twin's) in PyTorch, with fake
    kernels for ``torch.compile``, once per process; the C++ library registers the CPU
    implementations (before or after: the dispatcher takes both orders)."""
    global _library
    if _library is not None:
        return
    library = torch.library.Library(NAMESPACE, 'DEF')
    for op in KERNEL_OPS.values():
        library.define(op.schema())
        torch.library.register_fake(f'{NAMESPACE}::{op.name}', _fake(op), lib=library)
        if op.returns_list:
            library.define(op.schema(packed=True))
            torch.library.register_fake(f'{NAMESPACE}::{op.name}_packed',
                                        _fake(op, packed=True), lib=library)
    _library = library


def _fake(op: KernelOp, packed: bool = False) -> Callable[..., object]:
    """The fake kernel of ``op``: channels-last outputs of the table's shapes (or one
    flat tensor of their total size)."""

    def fake(*args: object) -> object:
        bound = dict(zip(op.arguments, args))
        branches = bound.pop('xs') if op.returns_list else [bound.pop('x')]
        like = branches[0]
        ints = {k: v for k, v in bound.items() if k not in ('operands', 'layout')}
        shapes = [tuple(x.shape) for x in branches]
        outs = op.shapes(shapes, **ints) if op.returns_list else op.shapes(shapes[0], **ints)
        if packed:
            return like.new_empty(sum(n * c * h * w for n, c, h, w in outs))
        made = [like.new_empty(s).contiguous(memory_format=torch.channels_last) for s in outs]
        return made if op.returns_list else made[0]
    return fake
