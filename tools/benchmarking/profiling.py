"""Where a forward pass's operator time goes (torch.profiler): the convolution share,
eager and compiled."""
import copy
from typing import Any, Callable, Tuple

import torch
import torch.nn as nn


def profiled_events(model: Callable, x: torch.Tensor, runs: int) -> Any:
    """torch.profiler's per-operator averages over ``runs`` no-grad forward passes after
    one warm-up (CPU activity, and CUDA's when ``x`` is on a GPU, waited for)."""
    from torch.profiler import ProfilerActivity, profile
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if x.is_cuda else [])
    with torch.no_grad():
        model(x)
        if x.is_cuda:
            torch.cuda.synchronize()
        with profile(activities=activities) as prof:
            for _ in range(runs):
                model(x)
            if x.is_cuda:
                torch.cuda.synchronize()
    return prof.key_averages()


def is_convolution(key: str) -> bool:
    """Whether a profiler event is a convolution. The biased matrix products count too:
    in these models they are only the deploy form's 1x1 convolutions (``MatmulConv1x1``)
    and channel weightings, ``aten::addmm`` / ``baddbmm`` in eager, ``_mkl_linear`` once
    compiled. The plain ``mm`` ones are left out: the spatial weightings' global averages
    (48 of the eager deploy form's 49 calls per pass at batch 1; the other is a 1x1
    convolution of the stem)."""
    return 'conv' in key or key in ('aten::addmm', 'aten::baddbmm') \
        or key.endswith('_mkl_linear')


def conv_share(model: Callable, x: torch.Tensor, runs: int = 3) -> Tuple[float, float]:
    """Share of the profiled operators' CPU time spent in convolution kernels, and their
    seconds per forward pass (torch.profiler). Python time between the operators is in
    neither."""
    events = profiled_events(model, x, runs)
    total = sum(e.self_cpu_time_total for e in events)
    conv = sum(e.self_cpu_time_total for e in events if is_convolution(e.key))
    return conv / total, conv * 1e-6 / runs


def kernel_profiled_compile(model: nn.Module, x: torch.Tensor) -> Callable:
    """``compile_for_cpu_inference`` of a copy of ``model``, compiled at ``x`` with
    Inductor's kernel profile on, for torch.profiler: without it the compiled graph is
    one profiler event, its kernels and convolution calls unrecorded. A compile of its
    own (minutes)."""
    import torch._inductor.config as inductor_config

    from mmpose_litehrnet.deploy import compile_for_cpu_inference
    with inductor_config.patch({'cpp.enable_kernel_profile': True}):
        compiled = compile_for_cpu_inference(copy.deepcopy(model))
        compiled(x)
    return compiled


def compiled_conv_share(model: nn.Module, x: torch.Tensor,
                        runs: int = 3) -> Tuple[float, float]:
    """:func:`conv_share` of :func:`kernel_profiled_compile`."""
    return conv_share(kernel_profiled_compile(model, x), x, runs)
