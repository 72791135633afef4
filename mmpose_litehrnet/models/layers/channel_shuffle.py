"""Channel shuffle (ShuffleNet, Zhang et al. 2018)."""
import torch
from torch import Tensor

from .layout import is_channels_last
from .tracing import is_exporting_onnx

__all__ = ['channel_shuffle', 'concat_shuffle']


def channel_shuffle(x: Tensor, groups: int) -> Tensor:
    """Interleaves the channels of ``groups`` equal groups.

    Args:
        x (Tensor): (N, C, H, W), C divisible by ``groups``.
        groups (int): Number of groups.

    Returns:
        Tensor: (N, C, H, W) where output channel ``k * groups + g`` is input channel
        ``g * C / groups + k``.
    """
    # Python ints and -1 for the batch: an exported graph then reshapes to constant
    # shapes (no Shape nodes), whatever its batch axis.
    c, h, w = (int(v) for v in x.shape[1:])
    x = x.view(-1, groups, c // groups, h, w).transpose(1, 2)
    return x.reshape(-1, c, h, w)


def concat_shuffle(a: Tensor, b: Tensor) -> Tensor:
    """``channel_shuffle(torch.cat((a, b), 1), 2)`` in one copy instead of two.

    Stacking along a new axis after the channels interleaves them directly: output
    channel ``2k`` is ``a[:, k]`` and ``2k + 1`` is ``b[:, k]``, bit-identical to the
    concatenation followed by the shuffle. Channels-last inputs are stacked along a new
    innermost axis and give a channels-last result, with no layout change.

    Args:
        a (Tensor): (N, C_a, H, W).
        b (Tensor): (N, C_b, H, W); the one-copy path needs C_b = C_a.

    Returns:
        Tensor: (N, C_a + C_b, H, W).
    """
    # Unequal halves, and ONNX export (ONNX Runtime runs Concat + Transpose at least as
    # fast as the stacked form): the plain definition.
    if a.shape != b.shape or is_exporting_onnx():
        return channel_shuffle(torch.cat((a, b), dim=1), 2)
    n, c, h, w = a.shape
    if is_channels_last(a) and is_channels_last(b):
        pixels = torch.stack((a.permute(0, 2, 3, 1), b.permute(0, 2, 3, 1)), dim=4)
        return pixels.reshape(n, h, w, 2 * c).permute(0, 3, 1, 2)
    return torch.stack((a, b), dim=2).reshape(n, 2 * c, h, w)
