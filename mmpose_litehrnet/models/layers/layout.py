"""Memory layout of (N, C, H, W) tensors: the CPU deploy form runs channels-last."""
from typing import Sequence, Tuple, Union

import torch
from torch import Tensor

__all__ = ['channels_last_device_types', 'is_channels_last']


def is_channels_last(x: Tensor) -> bool:
    """Whether ``x`` (N, C, H, W) has its channels adjacent in memory and is not also
    NCHW-contiguous: a ``torch.channels_last`` tensor, or a channel slice of one (the
    halves a shuffle block splits off). Tensors that are both (C = 1 or H = W = 1) count
    as NCHW: every path treats them the same."""
    return x.dim() == 4 and x.stride(1) == 1 and x.shape[1] > 1 and not x.is_contiguous()


def channels_last_device_types(channels_last: Union[bool, str, Sequence[str]]) -> Tuple[str, ...]:
    """A ``channels_last`` argument (``LiteHRNet``'s, ``switch_to_deploy``'s, the deploy
    hook's) as a tuple of device types (``True``: the CPU alone, ``False``: none); a
    ``ValueError`` for a value that names no device type, so that a config fails when it
    is built."""
    if isinstance(channels_last, bool):
        return ('cpu', ) if channels_last else ()
    devices = (channels_last, ) if isinstance(channels_last, str) else tuple(channels_last)
    for device in devices:
        try:
            valid = isinstance(device, str) and torch.device(device).type == device
        except RuntimeError:
            valid = False
        if not valid:
            raise ValueError('channels_last must be a bool or device types such as '
                             f"('cpu', 'cuda'), got {channels_last!r}")
    return devices
