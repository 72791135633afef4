"""A 1x1 convolution computed as a matrix product: the deploy form's pointwise layer."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from .tracing import is_exporting_onnx, onnx_export_records_matmuls

__all__ = ['MatmulConv1x1']


class MatmulConv1x1(nn.Conv2d):
    """A 1x1 convolution (stride 1, one group, with bias) computed as a matrix product
    on CPU tensors.

    At batch 1 on the CPU, oneDNN's fixed cost per convolution call dominates the small
    1x1 convolutions of Lite-HRNet; a matrix product with the bias fused costs a fraction
    of it. Inputs with their channels adjacent in memory (channels-last, a channel slice
    of it, or 1x1 maps) are a linear layer over the pixels, read in place, and give a
    channels-last result; NCHW-contiguous ones are (C_in, H * W) matrices per image.
    Same weight and bias as the ``Conv2d`` it replaces (same state-dict keys). On a GPU
    it is the plain convolution, and in an ONNX export too, except inside
    :func:`~.tracing.matmuls_in_onnx_export` (``export_onnx(..., cpu_kernels=True)``):
    there the matrix product, which after the kernels' custom nodes (channels-last
    outputs) is a ``MatMul`` that needs no transpose of its input.

    Shape:
        (N, C_in, H, W) -> (N, C_out, H, W)
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.is_cuda or is_exporting_onnx() and not (
                onnx_export_records_matmuls() and x.dtype == torch.float32):
            return super().forward(x)
        n, c, h, w = x.shape
        weight = self.weight.view(self.out_channels, self.in_channels)
        if x.stride(1) == 1:  # channels adjacent: is_channels_last, or 1x1 maps
            return F.linear(x.permute(0, 2, 3, 1), weight, self.bias).permute(0, 3, 1, 2)
        if not x.is_contiguous():
            return super().forward(x)
        if n == 1:
            out = torch.addmm(self.bias.unsqueeze(1), weight, x.view(c, h * w))
        else:
            out = torch.baddbmm(self.bias.view(1, -1, 1),
                                weight.expand(n, self.out_channels, c), x.view(n, c, h * w))
        return out.view(n, self.out_channels, h, w)
