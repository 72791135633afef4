"""Exports of a model (usually its deploy form): ONNX, OpenVINO (and its INT8
form), ncnn, TorchScript, TorchInductor and AOTInductor. No model imports this package."""
from .inductor import compile_aot_package, compile_for_cpu_inference, load_aot_package
from .ncnn import export_ncnn, ncnn_runner
from .onnx import export_onnx
from .openvino import (
    INT8_RECIPES,
    compile_openvino,
    convert_openvino,
    quantize_openvino,
    signal_stack_kept,
    uses_openvino_kernels,
)
from .torchscript import load_torchscript, trace_torchscript

__all__ = ['INT8_RECIPES', 'compile_aot_package', 'compile_for_cpu_inference',
           'compile_openvino', 'convert_openvino', 'export_ncnn', 'export_onnx', 'load_aot_package',
           'load_torchscript', 'ncnn_runner', 'quantize_openvino', 'signal_stack_kept',
           'trace_torchscript', 'uses_openvino_kernels']
