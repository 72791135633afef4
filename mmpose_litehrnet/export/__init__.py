"""Exports of a model (usually its deploy form): ONNX, TorchScript, TorchInductor and
AOTInductor. No model imports this package."""
from .inductor import compile_aot_package, compile_for_cpu_inference, load_aot_package
from .onnx import export_onnx
from .torchscript import load_torchscript, trace_torchscript

__all__ = ['compile_aot_package', 'compile_for_cpu_inference', 'export_onnx',
           'load_aot_package', 'load_torchscript', 'trace_torchscript']
