"""Channel orders kept as data instead of moved: the planning of a graph whose channel
splits and shuffles are folded into the weights around them, and the weight edits that
let a layer take or give its channels in another order."""
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = ['Gathering', 'Location', 'concatenated_order', 'cut_points', 'plan_gathering',
           'permute_input_channels',
           'permute_output_channels', 'shuffle_groups']

#: Where a channel is stored: (which stored tensor, channel index in it).
Location = Tuple[int, int]


@dataclass(frozen=True)
class Gathering:
    """How to bring channels stored in several tensors into one.

    Attributes:
        runs: ``(piece, start, stop)`` slices of the stored tensors, concatenated in this
            order.
        order: For each channel of the result, the index of the wanted channel it holds.
    """
    runs: Tuple[Tuple[int, int, int], ...]
    order: Tuple[int, ...]


def plan_gathering(locations: Sequence[Location]) -> Gathering:
    """The fewest slices that hold the channels at ``locations`` (wanted channel ``k`` is
    stored at ``locations[k]``), whatever order that leaves them in.

    A slice is a run of adjacent stored channels of one tensor whose wanted indices step
    by a constant; runs are concatenated by their first wanted index, so that a tensor
    stored as every ``g``-th wanted channel gives an order that one channel shuffle
    restores (:func:`shuffle_groups`).
    """
    runs: List[List[int]] = []  # piece, start, stop, step, wanted...
    for (piece, channel), wanted in sorted(zip(locations, range(len(locations)))):
        run = runs[-1] if runs else None
        if run is not None and run[0] == piece and run[2] == channel and (
                run[3] is None or wanted - run[-1] == run[3]):
            run[2] += 1
            run[3] = wanted - run[-1]
            run.append(wanted)
        else:
            runs.append([piece, channel, channel + 1, None, wanted])
    runs.sort(key=lambda run: run[4])
    return Gathering(tuple((r[0], r[1], r[2]) for r in runs),
                     tuple(w for r in runs for w in r[4:]))


def shuffle_groups(order: Sequence[int]) -> Optional[int]:
    """The ``groups`` for which ``channel_shuffle(t, groups)`` puts the channels of a
    tensor ``t`` holding wanted channels ``order`` back in order (1: already in order),
    or None if no channel shuffle does."""
    c = len(order)
    for groups in range(1, c + 1):
        if c % groups == 0 and all(
                w == (j % (c // groups)) * groups + j // (c // groups)
                for j, w in enumerate(order)):
            return groups
    return None


def cut_points(gatherings: Sequence[Gathering]) -> Dict[int, Tuple[int, ...]]:
    """Per stored tensor, the channel boundaries of all the slices ``gatherings`` take
    of it, sorted."""
    cuts: Dict[int, set] = {}
    for gathering in gatherings:
        for piece, start, stop in gathering.runs:
            cuts.setdefault(piece, set()).update((start, stop))
    return {piece: tuple(sorted(points)) for piece, points in cuts.items()}


def concatenated_order(orders: Sequence[Sequence[int]]) -> List[int]:
    """The order of a concatenation of parts each in its own order: part i's channel ``j``
    is channel ``orders[i][j]`` of that part, and the parts follow one another."""
    order, start = [], 0
    for part in orders:
        order += [start + k for k in part]
        start += len(part)
    return order


def _index(order: Sequence[int], device: torch.device) -> Tensor:
    return torch.as_tensor(list(order), dtype=torch.long, device=device)


@torch.no_grad()
def permute_output_channels(module: nn.Module, order: Sequence[int]) -> None:
    """Makes ``module`` (a ``Conv2d``, a norm layer, or a sequence of them and
    activations, like ``ConvNormAct``) give its output channels in ``order``: its output
    channel ``j`` becomes what channel ``order[j]`` was. A depthwise convolution's input
    channels follow its output channels."""
    layers = list(module) if isinstance(module, nn.Sequential) else [module]
    for layer in layers:
        if isinstance(layer, nn.Conv2d):
            if layer.groups not in (1, layer.out_channels) or \
                    layer.groups != 1 and layer.in_channels != layer.out_channels:
                raise ValueError(f'permute_output_channels: groups={layer.groups} of '
                                 f'{layer} is neither 1 nor depthwise')
            index = _index(order, layer.weight.device)
            layer.weight.copy_(layer.weight[index])
            if layer.bias is not None:
                layer.bias.copy_(layer.bias[index])
        elif isinstance(layer, _BatchNorm):
            index = _index(order, layer.running_mean.device)
            for t in (layer.weight, layer.bias, layer.running_mean, layer.running_var):
                if t is not None:
                    t.copy_(t[index])
        elif isinstance(layer, nn.Module) and any(True for _ in layer.parameters()):
            raise ValueError(f'permute_output_channels: cannot reorder {type(layer).__name__}')


@torch.no_grad()
def permute_input_channels(weight: Tensor, order: Sequence[int]) -> None:
    """Makes a dense layer's ``weight`` (``(C_out, C_in, ...)``) take its input channels
    in ``order``: its input channel ``j`` becomes what ``order[j]`` was."""
    weight.copy_(weight[:, _index(order, weight.device)])
