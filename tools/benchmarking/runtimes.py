"""The runtimes a model is timed in, declared as data: :data:`CPU_RUNTIMES`,
:data:`GPU_RUNTIMES`.

A :class:`Runtime` prepares a model for one input (tracing, compiling or exporting it at
that input's shape, and checking the result against eager) and returns the no-argument
function that the timing loop calls: one no-grad forward pass, waited for on a GPU.
"""
import os.path as osp
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Tuple

import torch
import torch.nn as nn

from .models import BASE, DEPLOYED, DEPLOYED_AOT, PEER

#: One timed call: a forward pass on a fixed input.
Call = Callable[[], None]


@dataclass(frozen=True)
class Runtime:
    """How a model runs in one runtime.

    Args:
        name: The runtime's name (a :class:`~.models.Peer` lists it to be compared in it).
        suffix: Appended to a model's name to name its row (CPU tables).
        prepare: ``(model, x, workdir) -> call``: the model ready to run ``x``.
        throughput: Also timed at the throughput batch (else batch 1 only: a compile per
            model and shape takes minutes).
        option: The command-line switch that enables it (None: always run).
        applies: Which models (by name) it runs; None: the peers that list it.
    """
    name: str
    suffix: str
    prepare: Callable[[nn.Module, torch.Tensor, str], Call]
    throughput: bool = True
    option: str = ''
    applies: Optional[Callable[[str], bool]] = None

    def runs(self, model: str) -> bool:
        """Whether the model named ``model`` is timed in this runtime."""
        if self.applies is not None:
            return self.applies(model)
        return model in PEER and self.name in PEER[model].runtimes

    def row(self, model: str) -> str:
        return model + self.suffix


def _every_model(model: str) -> bool:
    return True


def forward_fn(model: Callable, x: torch.Tensor) -> Call:
    """One no-grad forward, waited for on a GPU."""
    def run() -> None:
        with torch.no_grad():
            model(x)
        if x.is_cuda:
            torch.cuda.synchronize()
    return run


def eager(model: nn.Module, x: torch.Tensor, workdir: str = '') -> Call:
    return forward_fn(model, x)


def traced(model: nn.Module, x: torch.Tensor) -> torch.jit.ScriptModule:
    """``model`` traced to TorchScript at ``x``'s shape (no Python in its forward pass), as
    ``tools/export_torchscript.py`` writes it, with our CPU kernels where the model calls
    them (the deploy form; ``(operators)`` has none); checks that it gives the eager
    outputs."""
    from mmpose_litehrnet.deploy import trace_torchscript
    from mmpose_litehrnet.kernels import calls_cpu_kernels
    script = trace_torchscript(model, x, cpu_kernels=calls_cpu_kernels(model))
    with torch.no_grad():
        expected = model(x)
        diff = (script(x) - expected).abs().max().item()
    # Relative: eager may run the CPU kernels, which sum in another order than the
    # operators the trace records.
    if diff > 1e-5 * max(1.0, expected.abs().max().item()):
        raise RuntimeError(f'the traced model differs from eager by {diff:.2e}')
    return script


def compiled_for_cpu(model: nn.Module, x: torch.Tensor, workdir: str = '') -> Call:
    """``compile_for_cpu_inference`` (frozen weights, C++ wrapper), compiled at ``x``."""
    from mmpose_litehrnet.deploy import compile_for_cpu_inference
    compiled = compile_for_cpu_inference(model)
    compiled(x)
    return forward_fn(compiled, x)


def aot_package(model: nn.Module, x: torch.Tensor, path: str) -> Callable:
    """``model`` compiled by ``compile_aot_package`` at ``x``'s shape into a package at
    ``path`` (``.pt2``), with our CPU kernels where the model calls them (the deploy
    form; ``(operators)`` has none), and loaded back; checks that it gives the eager
    outputs."""
    from mmpose_litehrnet.deploy import compile_aot_package, load_aot_package
    compile_aot_package(model, x, path, cpu_kernels=True)
    package = load_aot_package(path)
    with torch.no_grad():
        torch.testing.assert_close(package(x), model(x), rtol=1e-4, atol=1e-4)
    return package


def check_close(runtime: str, actual: Any, expected: Any) -> None:
    """Raises unless ``actual`` (an exported model's output) is within 1e-4 of PyTorch's
    ``expected`` times the outputs' largest magnitude where that is above 1, as the
    tests and the export tools compare (``apis.check_line``): RTMPose-s's SimCC logits
    reach tens, where float32 rounding alone exceeds an absolute 1e-4."""
    from mmpose_litehrnet.apis import check_line
    actual, expected = torch.as_tensor(actual), torch.as_tensor(expected)
    ok, words = check_line(runtime, float((actual - expected).abs().max()),
                           float(expected.abs().max()), 1e-4)
    if not ok:
        raise RuntimeError(words)


def _export_path(workdir: str, model: nn.Module, x: torch.Tensor, ext: str) -> str:
    return osp.join(workdir, f'model_{id(model)}_{x.shape[0]}.{ext}')


def onnx_runtime_fn(model: nn.Module, x: torch.Tensor, workdir: str) -> Call:
    """ONNX Runtime (CPU) on ``model`` exported at ``x``'s shape, with our CPU kernels as
    custom nodes where the model calls them (the deploy form; ``(operators)`` has none)
    and their library loaded; checks it matches."""
    import onnxruntime as ort

    from mmpose_litehrnet.deploy import export_onnx
    from mmpose_litehrnet.kernels import add_ort_kernels, calls_cpu_kernels
    path = _export_path(workdir, model, x, 'onnx')
    kernels = calls_cpu_kernels(model)
    export_onnx(model, x, path, cpu_kernels=kernels)
    options = add_ort_kernels() if kernels else ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    # Idle ORT threads spin by default, taking the cores from whichever model runs next.
    options.add_session_config_entry('session.intra_op.allow_spinning', '0')
    session = ort.InferenceSession(path, options, providers=['CPUExecutionProvider'])
    feed = {'input': x.numpy()}
    with torch.no_grad():
        expected = model(x).numpy()
    check_close('ONNX Runtime', session.run(None, feed)[0], expected)
    return lambda: session.run(None, feed)


def openvino_fn(model: nn.Module, x: torch.Tensor, workdir: str,
                precision: str = 'f32') -> Call:
    """OpenVINO's CPU plugin on ``model`` exported to ONNX at ``x``'s shape, on as many
    threads as torch. ``precision``: ``f32``, with our CPU kernels as operations of our
    extension where the model calls them (the deploy form; ``(operators)`` has none),
    else ONNX's operators with channel shuffles folded; ``bf16`` (its inference precision
    hint; bf16 is its default on CPUs with AVX-512 BF16 or AMX), or ``int8``: NNCF's
    post-training quantization (:func:`~mmpose_litehrnet.deploy.quantize_openvino`, the
    ``lite-hrnet`` recipe) calibrated on ``x`` and 7 noisy copies of it, run with the
    f32 hint (its latency, not its accuracy: ``tools/quantize_openvino.py`` measures AP
    with real calibration images); these two on ONNX's operators (the kernels compute in
    float32 only). Checks f32 against PyTorch within 1e-4 of the outputs' magnitude,
    bf16 and int8 only for garbage (relative L2 error below 0.5: bfloat16 changed
    random-weight outputs by 10-17% here)."""
    import numpy as np

    from mmpose_litehrnet.deploy import compile_openvino, convert_openvino, quantize_openvino
    from mmpose_litehrnet.kernels import calls_cpu_kernels
    kernels = precision == 'f32' and calls_cpu_kernels(model)
    converted = convert_openvino(model, x, cpu_kernels=kernels)
    if precision == 'int8':
        gen = torch.Generator().manual_seed(0)
        calibration = [x.numpy()] + [(x + 0.1 * torch.randn(x.shape, generator=gen)).numpy()
                                     for _ in range(7)]
        converted = quantize_openvino(converted, calibration)
    compiled = compile_openvino(converted, 'bf16' if precision == 'bf16' else 'f32')
    request = compiled.create_infer_request()
    feed = {0: x.numpy()}
    with torch.no_grad():
        expected = model(x).numpy()
    actual = request.infer(feed)[compiled.outputs[0]]
    if precision == 'f32':
        check_close('OpenVINO', actual, expected)
    elif np.linalg.norm(actual - expected) > 0.5 * np.linalg.norm(expected):
        raise RuntimeError(f'OpenVINO {precision} is more than 50% off PyTorch')
    return lambda: request.infer(feed)


def ncnn_fn(model: nn.Module, x: torch.Tensor, workdir: str) -> Call:
    """ncnn on ``model`` converted by pnnx at one image of ``x``'s shape
    (:func:`~mmpose_litehrnet.deploy.export_ncnn`), in float32, as many threads as torch;
    a batch is one extraction per image, as ncnn runs it. Checks against PyTorch within
    1e-4 of the outputs' magnitude."""
    from mmpose_litehrnet.deploy import export_ncnn, ncnn_runner
    path = _export_path(workdir, model, x, 'ncnn')
    export_ncnn(model, x[:1], path)
    run = ncnn_runner(path, num_threads=torch.get_num_threads())
    with torch.no_grad():
        expected = model(x[:1])
    check_close('ncnn', run(x[:1])[0].reshape(expected.shape), expected)
    return lambda: run(x)


def capture_cuda_graph(model: nn.Module,
                       x: torch.Tensor) -> Tuple[torch.cuda.CUDAGraph, torch.Tensor, Any]:
    """The forward pass captured once as a CUDA graph (after a warm-up on a side
    stream), on a copy of ``x``: the graph, its static input and its static output."""
    x = x.clone()
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream), torch.no_grad():
        for _ in range(3):
            model(x)
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph), torch.no_grad():
        out = model(x)
    return graph, x, out


class CUDAGraphCall:
    """The forward pass captured once as a CUDA graph, and what its replay reads: the
    model (whose weights the graph reads in place), the static input and the static
    output. A graph holds none of them: freed while it lives, their memory is handed to
    the next model, and a replay reads or writes it (an illegal memory access on the
    H200 once four models were captured in turn)."""

    def __init__(self, model: nn.Module, x: torch.Tensor) -> None:
        self.model = model
        self.graph, self.static_input, self.static_output = capture_cuda_graph(model, x)

    def __call__(self) -> None:
        self.graph.replay()
        torch.cuda.synchronize()


def cuda_graph_fn(model: nn.Module, x: torch.Tensor, workdir: str = '') -> Call:
    """The forward pass captured once as a CUDA graph; the call replays it and keeps
    alive what the replay reads (:class:`CUDAGraphCall`)."""
    return CUDAGraphCall(model, x)


def compiled_for_gpu(model: nn.Module, x: torch.Tensor, workdir: str = '') -> Call:
    """``torch.compile(model, mode='reduce-overhead')`` (CUDA graphs of Inductor's
    kernels), compiled by a first call."""
    fn = forward_fn(torch.compile(model, mode='reduce-overhead'), x)
    fn()
    return fn


def timed_prepare(runtime: Runtime, model: nn.Module, x: torch.Tensor,
                  workdir: str) -> Tuple[Call, float]:
    """``runtime.prepare`` and the seconds it took (for a compile: the compile)."""
    start = time.perf_counter()
    call = runtime.prepare(model, x, workdir)
    return call, time.perf_counter() - start


#: The CPU runtimes, in the table's order. AOTInductor and ``torch.compile`` at batch 1
#: only: a compile per model and shape takes minutes.
CPU_RUNTIMES: Tuple[Runtime, ...] = (
    Runtime('eager', '', eager, applies=_every_model),
    Runtime('torch.jit.trace', ' + torch.jit.trace',
            lambda model, x, workdir: forward_fn(traced(model, x), x)),
    Runtime('torch.compile', ' + torch.compile', compiled_for_cpu, throughput=False,
            option='compile'),
    Runtime('AOTInductor', ' AOTInductor', lambda model, x, workdir: forward_fn(
        aot_package(model, x, _export_path(workdir, model, x, 'pt2')), x),
        throughput=False, option='aoti'),
    Runtime('ONNX Runtime', ' ONNX Runtime', onnx_runtime_fn, option='onnx'),
    Runtime('OpenVINO', ' OpenVINO', openvino_fn, option='openvino'),
    Runtime('OpenVINO bf16', ' OpenVINO bf16',
            lambda model, x, workdir: openvino_fn(model, x, workdir, 'bf16'),
            option='openvino'),
    Runtime('OpenVINO int8', ' OpenVINO int8',
            lambda model, x, workdir: openvino_fn(model, x, workdir, 'int8'),
            option='openvino'),
    Runtime('ncnn', ' ncnn', ncnn_fn, option='ncnn'),
)

#: The GPU modes, in the table's order: eager, the forward pass replayed as a CUDA graph,
#: ``torch.compile`` (our deploy form and the built-in only: minutes per compile).
GPU_RUNTIMES: Dict[str, Runtime] = {r.name: r for r in (
    Runtime('eager', '', eager, applies=_every_model),
    Runtime('graph', '', cuda_graph_fn, applies=_every_model),
    Runtime('compiled', '', compiled_for_gpu, throughput=False, option='compile',
            applies=lambda model: model in (DEPLOYED, BASE)),
)}


def split_runtime(row: str) -> Tuple[str, str]:
    """A CPU row's model and runtime: ``'RTMPose-t + torch.compile'`` -> ``('RTMPose-t',
    'torch.compile')``; eager rows give ``'eager'``, the ``aot=True`` deploy form the hook."""
    if row == DEPLOYED_AOT:
        return DEPLOYED, 'eager, SwitchToDeployHook(aot=True)'
    for runtime in CPU_RUNTIMES[1:]:
        if row.endswith(runtime.suffix):
            return row[:-len(runtime.suffix)], runtime.name
    return row, 'eager'
