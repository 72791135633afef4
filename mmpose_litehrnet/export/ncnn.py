"""ncnn export: a portable JIT trace converted by pnnx, and the ncnn network run on it."""
import copy
import os
import os.path as osp
import subprocess
import tempfile
from typing import Callable, List

import torch
import torch.nn as nn

from ..models import fold_channel_shuffles
from ..models.layers import portable_trace
from .scope import quiet_tracer

__all__ = ['export_ncnn', 'ncnn_runner']


def export_ncnn(model: nn.Module, x: torch.Tensor, path: str,
                fold_shuffles: bool = False) -> List[str]:
    """Writes ``model`` at ``x``'s shape as an ncnn network, ``<path>.param`` and
    ``<path>.bin`` (float32 weights): a JIT trace of a copy of ``model`` inside
    :func:`~mmpose_litehrnet.models.layers.portable_trace` (the graph an ONNX export
    records: plain convolutions, NCHW, no in-place sums), converted by pnnx; with
    ``fold_shuffles`` the channel shuffles folded into the weights
    (:func:`~mmpose_litehrnet.models.fold_channel_shuffles`), which ncnn, with a channel
    shuffle layer of its own, ran no faster (Lite-HRNet-18: 14.2 against 13.8 ms). The
    network's blobs are named ``in0`` and ``out0``, ``out1``, ... Returns the two paths.

    pnnx saves float16 weights unless asked not to; the ncnn options that keep a float32
    network are in :func:`ncnn_runner`.
    """
    import pnnx
    model = copy.deepcopy(model).eval()
    if fold_shuffles:
        fold_channel_shuffles(model)
    param, weights = f'{path}.param', f'{path}.bin'
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        traced = osp.join(work, 'model.pt')
        with torch.no_grad(), quiet_tracer(), portable_trace():
            torch.jit.trace(model, (x, ), check_trace=False).save(traced)
        # pnnx's own executable: its Python wrapper imports the model code it writes.
        side = [f'{name}={osp.join(work, name + suffix)}' for name, suffix in (
            ('pnnxparam', '.param'), ('pnnxbin', '.bin'), ('pnnxpy', '.py'),
            ('pnnxonnx', '.onnx'), ('ncnnpy', '_ncnn.py'))]
        shape = ','.join(str(int(v)) for v in x.shape)
        done = subprocess.run(
            [pnnx.EXEC_PATH, traced, f'inputshape=[{shape}]', 'fp16=0',
             f'ncnnparam={param}', f'ncnnbin={weights}', *side],
            capture_output=True, text=True)
    if done.returncode or not (osp.isfile(param) and osp.isfile(weights)):
        raise RuntimeError(f'pnnx wrote no ncnn network for {path} (exit code '
                           f'{done.returncode}): {(done.stdout + done.stderr)[-2000:]}')
    return [param, weights]


def ncnn_runner(path: str, num_threads: int = 1,
                outputs: int = 1) -> Callable[[torch.Tensor], List[torch.Tensor]]:
    """A function running the ncnn network ``<path>.param``/``.bin`` on an (N, C, H, W)
    float32 batch, one image at a time, in float32 (ncnn's float16 and bfloat16 storage
    and arithmetic off), giving its first ``outputs`` outputs batched."""
    import ncnn
    import numpy as np
    net = ncnn.Net()
    for option in ('use_vulkan_compute', 'use_fp16_packed', 'use_fp16_storage',
                   'use_fp16_arithmetic', 'use_bf16_storage'):
        setattr(net.opt, option, False)
    net.opt.num_threads = num_threads
    if net.load_param(f'{path}.param') or net.load_model(f'{path}.bin'):
        raise RuntimeError(f'ncnn could not load {path}.param / .bin')

    def run(x: torch.Tensor) -> List[torch.Tensor]:
        per_image = []
        for image in x.detach().cpu().float().numpy():
            extractor = net.create_extractor()
            extractor.input('in0', ncnn.Mat(np.ascontiguousarray(image)).clone())
            results = []
            for k in range(outputs):
                code, out = extractor.extract(f'out{k}')
                if code:
                    raise RuntimeError(f'ncnn: no output out{k} ({code})')
                out = np.array(out)
                # pnnx keeps a batch axis of 1 on some graphs' outputs.
                results.append(torch.from_numpy(out[0] if out.ndim == 4 else out.copy()))
            per_image.append(results)
        return [torch.stack([r[k] for r in per_image]) for k in range(outputs)]

    return run
