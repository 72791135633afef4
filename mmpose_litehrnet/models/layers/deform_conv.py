"""Deformable convolution (Dai et al., 2017) from ``grid_sample`` and one matrix product.

mmcv's ``DeformConv2d`` (what MMPose's DEKR head uses) runs on the CPU as one im2col per
sample, single-threaded: in a Lite-HRNet-18 DEKR training step at 256x256 its backward
alone took 34 of 43 seconds. Here every kernel point's bilinear sample of every deform
group is one ``grid_sample`` call (vectorised, multi-threaded, with its own backward) and
the convolution one batched product, with mmcv's arithmetic: the same offset layout
(per deform group, per kernel point, ``(dy, dx)``), zero outside the input, the same
weight. It also traces and exports (``GridSample``) where mmcv's op does not.
"""
from typing import Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from .tracing import is_exporting_onnx

__all__ = ['GridSampleDeformConv2d', 'deform_conv2d']

_Pair = Union[int, Tuple[int, int]]


def _pair(value: _Pair, name: str) -> Tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) and v >= 0 for v in pair):
        raise ValueError(f'GridSampleDeformConv2d: {name} must be a non-negative integer or '
                         f'a pair of them, got {value!r}')
    return pair


def _sampling_origins(x: torch.Tensor, kernel: Tuple[int, int], out_size: Tuple[int, int],
                      stride: Tuple[int, int], padding: Tuple[int, int],
                      dilation: Tuple[int, int]) -> Tuple[torch.Tensor, torch.Tensor]:
    """Where each kernel point (row-major) samples at each output pixel before its offset:
    the rows, (points, H_out, 1), and the columns, (points, 1, W_out), in ``x``'s dtype
    and device."""
    (kh, kw), (h_out, w_out) = kernel, out_size
    rows = torch.arange(h_out, dtype=x.dtype, device=x.device) * stride[0] - padding[0]
    cols = torch.arange(w_out, dtype=x.dtype, device=x.device) * stride[1] - padding[1]
    kernel_rows = torch.arange(kh, dtype=x.dtype, device=x.device) * dilation[0]
    kernel_cols = torch.arange(kw, dtype=x.dtype, device=x.device) * dilation[1]
    return (kernel_rows.repeat_interleave(kw).view(kh * kw, 1, 1) + rows.view(1, h_out, 1),
            kernel_cols.repeat(kh).view(kh * kw, 1, 1) + cols.view(1, 1, w_out))


def deform_conv2d(x: torch.Tensor, offset: torch.Tensor, weight: torch.Tensor,
                  stride: Tuple[int, int] = (1, 1), padding: Tuple[int, int] = (0, 0),
                  dilation: Tuple[int, int] = (1, 1), groups: int = 1,
                  deform_groups: int = 1) -> torch.Tensor:
    """mmcv's ``deform_conv2d`` (no bias), by bilinear sampling and a matrix product.

    Args:
        x (Tensor): The input, (N, C, H, W).
        offset (Tensor): (N, deform_groups * 2 * kh * kw, H_out, W_out): for each deform
            group and kernel point (row-major), the ``(dy, dx)`` added to its position.
        weight (Tensor): (C_out, C / groups, kh, kw).
        stride, padding, dilation (tuple[int, int]): As for a convolution.
        groups (int): Convolution groups.
        deform_groups (int): Channel groups with their own offsets.

    Shape:
        (N, C, H, W), offset -> (N, C_out, H_out, W_out).
    """
    if is_exporting_onnx():
        return _portable_deform_conv2d(x, offset, weight, stride, padding, dilation,
                                       groups, deform_groups)
    n, c, h, w = x.shape
    c_out, _, kh, kw = weight.shape
    points = kh * kw
    h_out, w_out = offset.shape[-2:]
    offset = offset.reshape(n * deform_groups, points, 2, h_out, w_out)
    base_y, base_x = _sampling_origins(x, (kh, kw), (h_out, w_out), stride, padding, dilation)
    y = offset[:, :, 0] + base_y
    x_pos = offset[:, :, 1] + base_x
    # Pixel centres in grid_sample's [-1, 1] coordinates (align_corners=False): position
    # p of a size-s axis is (2p + 1) / s - 1; outside the input the samples are zero.
    grid = torch.stack(((2 * x_pos + 1) / w - 1, (2 * y + 1) / h - 1), dim=-1)
    samples = F.grid_sample(x.reshape(n * deform_groups, c // deform_groups, h, w),
                            grid.view(n * deform_groups, points * h_out, w_out, 2),
                            mode='bilinear', padding_mode='zeros', align_corners=False)
    columns = samples.reshape(n, groups, c // groups * points, h_out * w_out)
    out = torch.matmul(weight.reshape(groups, c_out // groups, -1), columns)
    return out.reshape(n, c_out, h_out, w_out)


def _portable_deform_conv2d(x: torch.Tensor, offset: torch.Tensor, weight: torch.Tensor,
                            stride: Tuple[int, int], padding: Tuple[int, int],
                            dilation: Tuple[int, int], groups: int,
                            deform_groups: int) -> torch.Tensor:
    """:func:`deform_conv2d` for exports, with the batch first and at most 4-D tensors
    throughout (ncnn's converter takes the first axis for the batch and drops it; ncnn
    holds no more than 4-D): the deform groups' inputs stacked into one tall image, each
    between zero rows, sampled by one ``grid_sample``, then one grouped 1x1 convolution.
    The same samples (a row outside the input is zero either way), the same sums in
    another order."""
    n, c, h, w = x.shape
    c_out, _, kh, kw = weight.shape
    points, g, cg = kh * kw, deform_groups, c // deform_groups
    h_out, w_out = offset.shape[-2:]
    offset = offset.reshape(n, g * points, 2, h_out * w_out)
    # Each (group, kernel point)'s position at each output pixel, (g * points, pixels).
    base_y, base_x = (
        base.expand(points, h_out, w_out).reshape(points, h_out * w_out).repeat(g, 1)
        for base in _sampling_origins(x, (kh, kw), (h_out, w_out), stride, padding,
                                      dilation))
    # Group k's rows start at k * (h + 2) + 1 in the tall image, a zero row on each side:
    # a row clamped to [-1, h] samples zeros wherever the unclamped one would.
    first_row = (torch.arange(g, dtype=x.dtype, device=x.device) * (h + 2) + 1
                 ).repeat_interleave(points).view(g * points, 1)
    y = (offset[:, :, 0] + base_y).clamp(-1, h) + first_row
    x_pos = offset[:, :, 1] + base_x
    grid = torch.stack(((2 * x_pos + 1) / w - 1, (2 * y + 1) / (g * (h + 2)) - 1), dim=-1)
    tall = F.pad(x.reshape(n, g, cg, h * w).transpose(1, 2), (w, w))
    samples = F.grid_sample(tall.reshape(n, cg, g * (h + 2), w),
                            grid.reshape(n, g * points * h_out, w_out, 2),
                            mode='bilinear', padding_mode='zeros', align_corners=False)
    # (N, cg, g, points * pixels) -> channels in deform_conv2d's column order.
    columns = samples.reshape(n, cg, g, points * h_out * w_out).transpose(1, 2)
    return F.conv2d(columns.reshape(n, c * points, h_out, w_out),
                    weight.reshape(c_out, -1, 1, 1), groups=groups)


class GridSampleDeformConv2d(nn.Module):
    """A drop-in for mmcv's ``DeformConv2d`` (no bias): the same arguments, the same
    ``weight`` parameter (so the same state dict), :func:`deform_conv2d` as forward.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        kernel_size, stride, padding, dilation (int | tuple[int, int]): As for a
            convolution.
        groups (int): Convolution groups; divides both channel counts.
        deform_groups (int): Channel groups with their own offsets; divides
            ``in_channels``.

    Shape:
        (N, C_in, H, W), offset (N, deform_groups * 2 * kh * kw, H_out, W_out) ->
        (N, C_out, H_out, W_out).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: _Pair,
                 stride: _Pair = 1, padding: _Pair = 0, dilation: _Pair = 1,
                 groups: int = 1, deform_groups: int = 1) -> None:
        super().__init__()
        for name, value, divisor in (('in_channels', in_channels, groups),
                                     ('out_channels', out_channels, groups),
                                     ('in_channels', in_channels, deform_groups)):
            if not isinstance(divisor, int) or divisor < 1 or value % divisor:
                raise ValueError(f'GridSampleDeformConv2d: {name}={value} must be a multiple '
                                 f'of groups={groups} and in_channels of '
                                 f'deform_groups={deform_groups}')
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _pair(kernel_size, 'kernel_size')
        self.stride = _pair(stride, 'stride')
        self.padding = _pair(padding, 'padding')
        self.dilation = _pair(dilation, 'dilation')
        self.groups, self.deform_groups = groups, deform_groups
        self.weight = nn.Parameter(
            torch.empty(out_channels, in_channels // groups, *self.kernel_size))
        fan_in = in_channels * self.kernel_size[0] * self.kernel_size[1]
        nn.init.uniform_(self.weight, -fan_in**-0.5, fan_in**-0.5)  # mmcv's default

    @classmethod
    def from_deform_conv(cls, module: nn.Module) -> 'GridSampleDeformConv2d':
        """The same layer as mmcv's ``DeformConv2d`` ``module``, sharing its weight (the
        global random stream is left where it was: a model built with this layer draws
        the same initial weights as with mmcv's)."""
        if getattr(module, 'bias', None) is not None:
            raise ValueError('GridSampleDeformConv2d: mmcv DeformConv2d with a bias is not '
                             'supported')
        with torch.random.fork_rng(devices=[]):  # leave the random stream as it was
            new = cls(module.in_channels, module.out_channels, module.kernel_size,
                      module.stride, module.padding, module.dilation, module.groups,
                      module.deform_groups)
        new.weight = module.weight
        return new

    def forward(self, x: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
        return deform_conv2d(x, offset, self.weight, self.stride, self.padding,
                             self.dilation, self.groups, self.deform_groups)

    def extra_repr(self) -> str:
        return (f'{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, '
                f'stride={self.stride}, padding={self.padding}, dilation={self.dilation}, '
                f'groups={self.groups}, deform_groups={self.deform_groups}')
