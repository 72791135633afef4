from .accelerated import (
    Accelerated,
    Accelerator,
    DeployPipeline,
    install_deploy_pipeline,
    run_deploy_pipeline,
)
from .channel_order import (
    Gathering,
    concatenated_order,
    cut_points,
    permute_input_channels,
    permute_output_channels,
    plan_gathering,
    shuffle_groups,
)
from .channel_shuffle import channel_shuffle, concat_shuffle
from .checkpoint import checkpoint_if
from .conv_norm_act import (
    ConvNormAct,
    DepthwiseSeparableConv,
    default_norm_cfg,
    folded_weighting_mlp,
    weighting_mlp,
)
from .deform_conv import GridSampleDeformConv2d, deform_conv2d
from .folding import (
    Reparameterizable,
    as_matmul_conv,
    fold_batch_norms,
    fold_conv_bn,
    is_folded_block,
    is_folded_conv,
)
from .layout import channels_last_device_types, is_channels_last
from .matmul_conv import MatmulConv1x1
from .pooling import adaptive_average_by_products, global_average
from .resize import NearestResize, add_nearest, mul_nearest, upsample_bilinear
from .tracing import (
    is_exporting_onnx,
    matmuls_in_onnx_export,
    onnx_export_records_matmuls,
    portable_trace,
    writes_in_place,
)

__all__ = [
    'Accelerated', 'Accelerator', 'ConvNormAct', 'DeployPipeline', 'DepthwiseSeparableConv',
    'Gathering', 'GridSampleDeformConv2d', 'MatmulConv1x1', 'NearestResize',
    'Reparameterizable', 'adaptive_average_by_products', 'add_nearest', 'as_matmul_conv',
    'channel_shuffle', 'channels_last_device_types', 'checkpoint_if', 'concat_shuffle',
    'concatenated_order', 'cut_points', 'default_norm_cfg', 'deform_conv2d',
    'fold_batch_norms', 'fold_conv_bn', 'folded_weighting_mlp', 'global_average',
    'install_deploy_pipeline', 'is_channels_last', 'is_exporting_onnx', 'is_folded_block',
    'is_folded_conv', 'matmuls_in_onnx_export', 'mul_nearest',
    'onnx_export_records_matmuls', 'portable_trace', 'permute_input_channels',
    'permute_output_channels', 'plan_gathering', 'run_deploy_pipeline', 'shuffle_groups',
    'upsample_bilinear', 'weighting_mlp', 'writes_in_place'
]
