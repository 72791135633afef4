"""A neck that passes the backbone's features through, after checking that their size is
the one a head with fixed-size layers was built for.

MMPose's ``SimCCHead`` and ``RTMCCHead`` flatten the feature map into linear layers sized
by ``in_featuremap_size``, which a config computes from the codec's input size. An input
of another size then fails inside the linear layer with a matrix-shape error; this neck
names both sizes instead.
"""
from typing import Sequence, Tuple

import torch
import torch.nn as nn

__all__ = ['FeatureMapSizeCheck']


def _pair(value: Sequence[int], name: str) -> Tuple[int, int]:
    if (not isinstance(value, (tuple, list)) or len(value) != 2
            or not all(isinstance(v, int) and v > 0 for v in value)):
        raise ValueError(f'FeatureMapSizeCheck: {name} must be two positive integers '
                         f'(width, height), got {value!r}')
    return int(value[0]), int(value[1])


class FeatureMapSizeCheck(nn.Module):
    """Identity on a tuple of feature maps whose last one must be ``input_size /
    stride`` (rounded up, as the backbone's strided convolutions round).

    Args:
        input_size (Sequence[int]): The codec's input size, (width, height).
        stride (int): The last feature map's stride (4 for Lite-HRNet's
            high-resolution output).

    Raises:
        ValueError: from ``forward``, when the last feature map has another size; the
            message names the expected input and feature sizes and the ones that came.

    Shape:
        tuple of (N, C_k, H_k, W_k) -> the same tuple.
    """

    def __init__(self, input_size: Sequence[int], stride: int = 4) -> None:
        super().__init__()
        self.input_size = _pair(input_size, 'input_size')
        if not isinstance(stride, int) or stride < 1:
            raise ValueError(f'FeatureMapSizeCheck: stride must be a positive integer, '
                             f'got {stride!r}')
        self.stride = stride
        #: The expected size of the last feature map, (width, height).
        self.feature_size = tuple(-(-s // stride) for s in self.input_size)

    def forward(self, feats: Tuple[torch.Tensor, ...]) -> Tuple[torch.Tensor, ...]:
        height, width = feats[-1].shape[-2:]
        if (width, height) != self.feature_size:
            w, h = self.input_size
            fw, fh = self.feature_size
            raise ValueError(
                f'the head was built for {fw}x{fh} features (width x height), those of a '
                f'{w}x{h} input (the codec\'s input_size, stride {self.stride}); got '
                f'{width}x{height} features, from an input of about '
                f'{width * self.stride}x{height * self.stride}. Feed inputs of the codec\'s '
                f'size, or change the codec\'s input_size and the head\'s '
                f'in_featuremap_size together')
        return feats
