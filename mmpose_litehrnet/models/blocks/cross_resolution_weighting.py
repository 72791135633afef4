"""Cross-resolution weighting H of conditional channel weighting."""
from typing import List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ..layers import (
    ConvNormAct,
    Reparameterizable,
    adaptive_average_by_products,
    concatenated_order,
    default_norm_cfg,
    folded_weighting_mlp,
    is_channels_last,
    is_exporting_onnx,
    is_folded_block,
    mul_nearest,
    permute_input_channels,
    permute_output_channels,
)

__all__ = ['CrossResolutionWeighting']


class CrossResolutionWeighting(Reparameterizable, nn.Module):
    """Channel weights for every branch computed from all branches (paper Eq. 4).

    Each branch is average-pooled to the size of the smallest (last) one, the results
    are concatenated, passed through 1x1 conv-norm-ReLU and 1x1 conv-norm-sigmoid, split
    back per branch, upsampled (nearest) to each branch's size and multiplied in.

    Args:
        channels (Sequence[int]): Channels C_i of each branch, highest resolution first.
        ratio (int): Reduction of the hidden layer, ``int(sum(C_i) / ratio)`` channels.
        conv_cfg (dict, optional): MMCV convolution config.
        norm_cfg (dict, optional): MMCV norm config; None means batch norm.

    Shape:
        [(N, C_i, H_i, W_i)] -> [(N, C_i, H_i, W_i)]
    """

    def __init__(self,
                 channels: Sequence[int],
                 ratio: int = 16,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = None) -> None:
        super().__init__()
        norm_cfg = default_norm_cfg(norm_cfg)
        self.channels = [int(c) for c in channels]
        total = sum(self.channels)
        hidden = int(total / ratio)
        if hidden < 1:
            raise ValueError(f'CrossResolutionWeighting: {total} channels / ratio={ratio} '
                             'leaves no hidden channel')
        self.conv1 = ConvNormAct(total, hidden, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                                 act_cfg=dict(type='ReLU'))
        self.conv2 = ConvNormAct(hidden, total, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                                 act_cfg=dict(type='Sigmoid'))
        #: Whether the two 1x1 convolutions run as plain matrix products over the pixels
        #: of the smallest branch (fewer module calls and views per block): set by
        #: :meth:`reparameterize` once both norms are folded.
        self.direct = False

    def reparameterize(self) -> None:
        """The deploy form's maths, once the norms are folded: :attr:`direct`."""
        self.direct = is_folded_block(self.conv1, act=nn.ReLU) \
            and is_folded_block(self.conv2, act=nn.Sigmoid)

    def permute_channels(self, orders: Sequence[Sequence[int]]) -> None:
        """Reorders the weights, in place, so that branch i's channels are taken and
        weighted in ``orders[i]`` (channel ``j`` is channel ``orders[i][j]``)."""
        order = concatenated_order(orders)
        permute_input_channels(self.conv1.conv.weight, order)
        permute_output_channels(self.conv2, order)

    @staticmethod
    def _pool(x: Tensor, size: List[int], source: Optional[Tensor] = None) -> Tensor:
        """``x`` average-pooled to ``size``; ``source`` is the tensor whose trailing
        channels ``x`` is, if any."""
        h, w, th, tw = (int(v) for v in (x.shape[-2], x.shape[-1], size[0], size[1]))
        divisible = not (h % th or w % tw)
        exporting = is_exporting_onnx()
        if divisible and not exporting and source is not None and is_channels_last(x) \
                and not x.is_cuda:
            # A strided channel slice is copied before it is pooled: pooling the whole
            # channels-last source and slicing the small result took about half the time
            # here (same values: pooling is per channel).
            pooled = F.avg_pool2d(source, (h // th, w // tw))
            return pooled[:, pooled.shape[1] - x.shape[1]:]
        if divisible and (exporting or x.is_cuda):
            # Plain average pooling equals the adaptive one when the sizes divide. ONNX
            # has no adaptive pooling with a computed size; on a GPU, adaptive pooling's
            # channels-last kernel took 20 us per call at batch 1 (H200), 4x the NCHW one.
            return F.avg_pool2d(x, (h // th, w // tw))
        if exporting:  # windows of unequal length: no ONNX pooling node has them
            return adaptive_average_by_products(x, size)
        return F.adaptive_avg_pool2d(x, size)

    def forward(self, xs: List[Tensor],
                sources: Optional[Sequence[Tensor]] = None) -> List[Tensor]:
        """Args:
            xs (list[Tensor]): The branches, [(N, C_i, H_i, W_i)].
            sources (Sequence[Tensor], optional): Tensors whose trailing C_i channels the
                branches are (the conditional channel weighting passes its inputs, whose
                second halves it weights); only used to pool faster.
        """
        smallest = xs[-1].shape[-2:]
        sources = [None] * len(xs) if sources is None else sources
        pooled = [self._pool(x, smallest, source)
                  for x, source in zip(xs[:-1], sources)] + [xs[-1]]
        # The direct form's matrix products would need two Transposes in an ONNX graph;
        # exported as the 1x1 convolutions, ONNX Runtime took 0.96x the time per round
        # (Lite-HRNet-18 at 256x192, 2 threads, 80 alternating rounds).
        weights = self._direct_weights(pooled) if self.direct and not is_exporting_onnx() \
            else self.conv2(self.conv1(torch.cat(pooled, dim=1)))
        # A split, not a slice per branch: see ConditionalChannelWeighting._forward.
        return [mul_nearest(x, w) for x, w in zip(xs, weights.split(self.channels, dim=1))]

    def _direct_weights(self, pooled: List[Tensor]) -> Tensor:
        """``conv2(conv1(cat(pooled)))`` of the folded form as matrix products over the
        pixels: [(N, C_i, h, w)] -> (N, C, h, w), channels-last."""
        n, _, h, w = pooled[-1].shape
        total = sum(self.channels)  # not -1: an empty batch has no size to infer it from
        # Concatenated as (N, h, w, C_i) views, the pixel matrix comes out contiguous
        # whatever TorchInductor makes of the layouts: from an NCHW concatenation its
        # matrix product copied it first (16 copies per Lite-HRNet-18 pass).
        pixels = torch.cat([p.permute(0, 2, 3, 1) for p in pooled], dim=3)
        pixels = pixels.view(n * h * w, total)
        weights = folded_weighting_mlp(pixels, self.conv1, self.conv2)
        return weights.view(n, h, w, total).permute(0, 3, 1, 2)
