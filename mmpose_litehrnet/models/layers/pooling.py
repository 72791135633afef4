"""Average pooling that stays fast on the channels-last tensors of the CPU deploy form,
and adaptive average pooling that ONNX can express at any size."""
from typing import Sequence

import torch
from torch import Tensor

from .tracing import is_exporting_onnx

__all__ = ['adaptive_average_by_products', 'global_average']


def global_average(x: Tensor) -> Tensor:
    """``x.mean((2, 3))``: the average of every channel over its pixels.

    For a dense channels-last CPU tensor at batch 1 it is a product of a constant row
    with the (H * W, C) pixel matrix: PyTorch's reduction over the non-innermost
    dimensions took 1.1-2.4x the product's time here (Lite-HRNet-18's branch shapes,
    2 threads). Other inputs, batches and ONNX export take the plain mean. Equal up to
    float rounding (the product sums pixels scaled by 1 / (H * W)).

    Shape:
        (N, C, H, W) -> (N, C)
    """
    n, c, h, w = x.shape
    if n != 1 or x.is_cuda or x.is_contiguous() \
            or not x.is_contiguous(memory_format=torch.channels_last) or is_exporting_onnx():
        return x.mean((2, 3))
    row = x.new_full((1, h * w), 1.0 / (h * w))
    return torch.mm(row, x.permute(0, 2, 3, 1).reshape(h * w, c))


def _pooling_matrix(size_in: int, size_out: int, like: Tensor) -> Tensor:
    """The (size_out, size_in) matrix whose row i averages the inputs of adaptive
    pooling's window i: ``floor(i * in / out)`` to ``ceil((i + 1) * in / out)``."""
    rows = []
    for i in range(size_out):
        start, end = i * size_in // size_out, -(-(i + 1) * size_in // size_out)
        rows.append([1.0 / (end - start) if start <= j < end else 0.0
                     for j in range(size_in)])
    return torch.tensor(rows, dtype=like.dtype, device=like.device)


def adaptive_average_by_products(x: Tensor, size: Sequence[int]) -> Tensor:
    """``F.adaptive_avg_pool2d(x, size)`` as two matrix products, one per axis (adaptive
    average pooling is separable): ``P_h @ x @ P_w^T``. For ONNX export at sizes where
    the windows differ in length (branch sizes that do not divide), which no ONNX pooling
    node expresses; the matrices are constants of the exported graph, so the graph is
    fixed to ``x``'s size. Equal up to float rounding (each window is summed after
    scaling).

    Shape:
        (N, C, H, W), size: [h, w] -> (N, C, h, w)
    """
    h, w = (int(v) for v in x.shape[-2:])
    rows = _pooling_matrix(h, int(size[0]), x)
    cols = _pooling_matrix(w, int(size[1]), x)
    return torch.matmul(torch.matmul(rows, x), cols.t())
