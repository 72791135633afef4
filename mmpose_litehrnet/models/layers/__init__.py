from .channel_shuffle import channel_shuffle, concat_shuffle
from .checkpoint import checkpoint_if
from .conv_norm_act import (
    ConvNormAct,
    DepthwiseSeparableConv,
    default_norm_cfg,
    folded_weighting_mlp,
    weighting_mlp,
)
from .cpu_kernels import (
    CPUKernelMixin,
    cache_root,
    call_list_kernel,
    calls_cpu_kernels,
    conv_operands,
    cpu_kernels_available,
    cpu_kernels_in_exports,
    dense_operands,
    is_kernel_conv,
    is_kernel_conv_act,
    is_kernel_separable,
    kernel,
    make_kernel_operands,
    pack_operands,
    runs_cpu_kernels,
)
from .deform_conv import GridSampleDeformConv2d, deform_conv2d
from .export import is_exporting_onnx
from .layout import channels_last_device_types, is_channels_last
from .pooling import adaptive_average_by_products, global_average
from .resize import NearestResize, add_nearest, mul_nearest, upsample_bilinear

__all__ = [
    'ConvNormAct', 'CPUKernelMixin', 'DepthwiseSeparableConv', 'GridSampleDeformConv2d',
    'NearestResize', 'adaptive_average_by_products', 'add_nearest', 'cache_root',
    'call_list_kernel', 'calls_cpu_kernels', 'channel_shuffle', 'channels_last_device_types',
    'checkpoint_if', 'concat_shuffle', 'conv_operands', 'cpu_kernels_available',
    'cpu_kernels_in_exports', 'default_norm_cfg', 'deform_conv2d', 'dense_operands',
    'folded_weighting_mlp', 'global_average', 'is_channels_last', 'is_exporting_onnx',
    'is_kernel_conv', 'is_kernel_conv_act', 'is_kernel_separable', 'kernel',
    'make_kernel_operands', 'mul_nearest', 'pack_operands', 'runs_cpu_kernels',
    'upsample_bilinear', 'weighting_mlp'
]
