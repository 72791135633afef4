"""Operands: a module's parameters as the kernels take them, packed, and kept until a
parameter changes."""
from typing import Callable, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

__all__ = ['LANES', 'OperandCache', 'conv_operands', 'dense_operands', 'pack_operands']

#: The kernels' vector width in floats: operands are padded to it (the C++ side is built
#: with ``-DMMPOSE_LITEHRNET_LANES`` equal to it).
LANES = 16


def dense_operands(weight: Tensor, bias: Tensor) -> List[Tensor]:
    """A dense convolution's (C_out, C_in, k, k) weight and its bias as the kernels take
    them: a matrix product over its windows, the (k * k * C_in, C_out) transposed weight
    with rows in (ky, kx, c) order, and the bias, zero-padded to whole vectors along
    C_out."""
    weight = weight.permute(2, 3, 1, 0).reshape(-1, weight.shape[0])
    pad = -weight.shape[1] % LANES
    return [F.pad(weight, (0, pad)).contiguous(), F.pad(bias, (0, pad)).contiguous()]


def conv_operands(conv: nn.Conv2d) -> List[Tensor]:
    """A folded convolution's weight and bias as the kernels take them: a dense one's as
    :func:`dense_operands` gives them; a 3x3 depthwise one's as the (9, C) tap-major
    weight and the bias."""
    if conv.groups == 1:
        return dense_operands(conv.weight, conv.bias)
    return [conv.weight.flatten(1).t().contiguous(), conv.bias.contiguous()]


def pack_operands(tensors: Sequence[Tensor]) -> List[Tensor]:
    """Operands as every kernel takes them: one contiguous float32 tensor holding each
    of ``tensors`` in turn (flattened, padded with zeros to whole vectors of
    :data:`LANES` values) and its int64 layout (each tensor's number of dimensions, then
    its sizes). Two tensors per call, not a list: each tensor of a call cost the compiled
    graph a conversion and a guard (about 600 per Lite-HRNet-18 pass)."""
    flat = torch.cat([F.pad(t.detach().reshape(-1), (0, -t.numel() % LANES)) for t in tensors])
    layout = torch.tensor([v for t in tensors for v in (t.dim(), *t.shape)], dtype=torch.int64)
    return [flat, layout]


Slots = Sequence[Tuple[nn.Module, str]]


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

    def get(self, slots: Callable[[], Slots], build: Callable[[], list]) -> list:
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
