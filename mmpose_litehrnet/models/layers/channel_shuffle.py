"""Channel shuffle (ShuffleNet, Zhang et al. 2018)."""
from torch import Tensor

__all__ = ['channel_shuffle']


def channel_shuffle(x: Tensor, groups: int) -> Tensor:
    """Interleaves the channels of ``groups`` equal groups.

    Args:
        x (Tensor): (N, C, H, W), C divisible by ``groups``.
        groups (int): Number of groups.

    Returns:
        Tensor: (N, C, H, W) where output channel ``k * groups + g`` is input channel
        ``g * C / groups + k``.
    """
    n, c, h, w = x.shape
    x = x.view(n, groups, c // groups, h, w).transpose(1, 2)
    return x.reshape(n, c, h, w)
