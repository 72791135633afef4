"""Deployment: the training form to the deploy form (:func:`switch_to_deploy`: the
maths, then the CPU kernels and the ahead-of-time compiled backbone), with the export
functions and the deploy form's layers re-exported under the names users import from
here."""
from ..export import (
    INT8_RECIPES,
    compile_aot_package,
    compile_for_cpu_inference,
    compile_openvino,
    convert_openvino,
    export_ncnn,
    export_onnx,
    load_aot_package,
    load_torchscript,
    ncnn_runner,
    quantize_openvino,
    trace_torchscript,
    uses_openvino_kernels,
)
from ..models import TensorForward
from ..models.layers import (
    MatmulConv1x1,
    channels_last_device_types,
    fold_conv_bn,
    install_deploy_pipeline,
)
from .aot import AOTBackbone, aot_cache_dir, default_aot_cache_dir
from .pipeline import switch_to_deploy

install_deploy_pipeline(switch_to_deploy)

__all__ = ['AOTBackbone', 'INT8_RECIPES', 'MatmulConv1x1', 'TensorForward', 'aot_cache_dir',
           'channels_last_device_types', 'compile_aot_package', 'compile_for_cpu_inference',
           'compile_openvino', 'convert_openvino', 'default_aot_cache_dir', 'export_ncnn',
           'export_onnx', 'fold_conv_bn', 'load_aot_package', 'load_torchscript', 'ncnn_runner',
           'quantize_openvino', 'switch_to_deploy', 'trace_torchscript',
           'uses_openvino_kernels']
