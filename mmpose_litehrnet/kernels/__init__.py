"""The deploy form's CPU kernels: the stem, each transition path, each conditional
channel weighting block, each multi-resolution fusion with its ReLU, the iterative head
and each stride-1 shuffle unit (Naive Lite-HRNet's block) as one operator call.

At batch 1 on the CPU the eager deploy form's time is mostly a fixed cost per operator
call (about 2100 calls per Lite-HRNet-18 pass); the kernels cut that to 30. The C++
(``csrc/``) has four hosts: PyTorch operators (``torch.ops.mmpose_litehrnet.*``, built at
first use: :mod:`.build`), an ONNX Runtime custom-op library (:mod:`.ort`), an OpenVINO
extension (:mod:`.openvino`) and a plain program for cross-checks. Each block
reaches its kernel through the model's seam
(:class:`~mmpose_litehrnet.models.layers.Accelerated`): :func:`attach_cpu_kernels`
installs a :class:`~.adapters.KernelAdapter` on every module one computes, and the
adapter runs the kernel in no-grad float32 CPU passes of the channels-last deploy form
(:func:`~.gate.runs_cpu_kernels`), and in ``torch.compile`` graphs once its operands are
made; exports record the kernels only inside :func:`cpu_kernels_in_exports`.

Layout: :mod:`.ops` (the operator table: schemas, fakes, ONNX names), :mod:`.build`,
:mod:`.operands`, :mod:`.gate`, :mod:`.adapters`, :mod:`.onnx`, :mod:`.ort`,
:mod:`.openvino`.
"""
from .adapters import (
    ADAPTERS,
    KernelAdapter,
    attach_cpu_kernels,
    calls_cpu_kernels,
    kernel_modules,
    make_kernel_operands,
)
from .build import LIBRARY, cpu_kernels_available, cpu_target, flag_sets
from .gate import call_list_kernel, cpu_kernels_in_exports, kernel, runs_cpu_kernels
from .openvino import add_openvino_kernels, openvino_kernels_library
from .operands import LANES, OperandCache, conv_operands, dense_operands, pack_operands
from .ops import KERNEL_OPS, KernelOp
from .ort import add_ort_kernels, onnxruntime_include_dir, ort_kernels_library

__all__ = [
    'ADAPTERS', 'KERNEL_OPS', 'LANES', 'LIBRARY', 'KernelAdapter', 'KernelOp', 'OperandCache',
    'add_openvino_kernels', 'add_ort_kernels', 'attach_cpu_kernels', 'call_list_kernel',
    'calls_cpu_kernels',
    'conv_operands', 'cpu_kernels_available', 'cpu_kernels_in_exports', 'cpu_target',
    'dense_operands', 'flag_sets',
    'kernel', 'kernel_modules', 'make_kernel_operands', 'onnxruntime_include_dir',
    'openvino_kernels_library', 'ort_kernels_library', 'pack_operands', 'runs_cpu_kernels'
]
