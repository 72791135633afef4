"""MMPose's DEKR head with its deformable convolutions on ``grid_sample``."""
from mmpose.models.heads import DEKRHead
from mmpose.models.heads.hybrid_heads.dekr_head import AdaptiveActivationBlock

from ..layers.deform_conv import GridSampleDeformConv2d

__all__ = ['GridSampleDEKRHead']


class GridSampleDEKRHead(DEKRHead):
    """``DEKRHead`` (same arguments, parameters, state dict and outputs) whose adaptive
    activation blocks run :class:`GridSampleDeformConv2d` instead of mmcv's
    ``DeformConv2d``: on the CPU its forward and backward took 1.3 s against mmcv's
    18 s for the displacement branch's convolution at batch 10, 64x64 (255 channels,
    17 groups). Checkpoints move between the two heads unchanged.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for module in self.modules():
            if isinstance(module, AdaptiveActivationBlock):
                module.adapt_conv = GridSampleDeformConv2d.from_deform_conv(module.adapt_conv)
