"""Where each branch's channels lie in a concatenation of branches."""
from itertools import accumulate
from typing import Sequence, Tuple

__all__ = ['channel_bounds']


def channel_bounds(channels: Sequence[int]) -> Tuple[Tuple[int, int], ...]:
    """(start, end) of each branch's channels in the concatenation of branches of
    ``channels`` channels, in order: computed once at construction, so that forward
    passes slice with constants (no running offset).

    Example:
        >>> channel_bounds((20, 40, 80))
        ((0, 20), (20, 60), (60, 140))
    """
    ends = list(accumulate(int(c) for c in channels))
    return tuple(zip([0, *ends[:-1]], ends))
