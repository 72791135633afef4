"""Memory layout of (N, C, H, W) tensors: the CPU deploy form runs channels-last."""
from torch import Tensor

__all__ = ['is_channels_last']


def is_channels_last(x: Tensor) -> bool:
    """Whether ``x`` (N, C, H, W) has its channels adjacent in memory and is not also
    NCHW-contiguous: a ``torch.channels_last`` tensor, or a channel slice of one (the
    halves a shuffle block splits off). Tensors that are both (C = 1 or H = W = 1) count
    as NCHW: every path treats them the same."""
    return x.dim() == 4 and x.stride(1) == 1 and x.shape[1] > 1 and not x.is_contiguous()
