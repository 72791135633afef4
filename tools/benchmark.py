"""Latency, throughput and training-step time of Lite-HRNet against its peers, in one run.

    python tools/benchmark.py [--rounds 20] [--compile] [--aoti] [--onnx] [--openvino]
        [--ncnn]  # CPU
    python tools/benchmark.py --device cuda [--compile]                   # a GPU

All models are top-down pose models (backbone + heatmap head, 17 keypoints) at 256x192
in eval mode. Models are run alternately, one call each per round, after a warm-up, and
medians are reported with ratios to MMPose's built-in Lite-HRNet-18 (same weights as
ours). On the CPU: fp32 batch-1 latency, batch-32 throughput, a training step, the share
of time in convolutions, the deploy forms traced to TorchScript, optionally
``torch.compile`` (``compile_for_cpu_inference``, batch 1), AOTInductor (batch 1), ONNX
Runtime, OpenVINO (f32, bf16 and int8) and ncnn rows; writes ``docs/benchmark.md`` and ``.png``. On
a GPU: batch-1 latency and batch-64 throughput in fp32 and fp16, eager and replayed as
CUDA graphs, optionally ``torch.compile``, and a training step; writes
``docs/benchmark_gpu.md`` and ``.png``, with what it measured before a SIGTERM
(``timeout``) if one cuts it short.

The models are declared in ``tools/benchmarking/models.py`` (``PEERS``), the runtimes in
``tools/benchmarking/runtimes.py``; see ``tools/benchmarking/__init__.py``. Where MMPose's
compiled mmcv ops are missing (e.g. ``mmcv-lite`` on a GPU machine whose torch has no
mmcv build), MMPose's backbones are loaded alone with a stand-in of ``HeatmapHead``, and
the table says so.
"""
import argparse
import os
import os.path as osp
import sys

import torch

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from benchmarking.cpu import cpu_lines, measure_cpu  # noqa: E402
from benchmarking.gpu import gpu_lines, measure_gpu  # noqa: E402
from benchmarking.models import SHAPE, build_device_models, import_mmpose_models, model_subset  # noqa: E402
from benchmarking.timing import machine_name  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', default='cpu', help='cpu or cuda[:N]')
    parser.add_argument('--rounds', type=int, default=20)
    parser.add_argument('--batch', type=int, default=None,
                        help='throughput and training batch (default: 32 CPU, 64 GPU)')
    parser.add_argument('--throughput-rounds', type=int, default=None,
                        help='default: 3 CPU, 10 GPU')
    parser.add_argument('--train-rounds', type=int, default=5)
    parser.add_argument('--compile', action='store_true',
                        help='also torch.compile: on the CPU our deploy forms, the built-in, '
                             'MobileNetV2 and RTMPose (compile_for_cpu_inference, batch 1); '
                             'on a GPU LHR-18 deploy and the built-in (reduce-overhead, fp32 '
                             'and fp16 batch 1, measured first)')
    parser.add_argument('--onnx', action='store_true', help='also ONNX Runtime (CPU only)')
    parser.add_argument('--openvino', action='store_true',
                        help="also OpenVINO's CPU plugin, f32, bf16 and int8 (CPU only)")
    parser.add_argument('--ncnn', action='store_true',
                        help='also ncnn, float32, through pnnx (CPU only)')
    parser.add_argument('--aoti', action='store_true',
                        help='also AOTInductor packages of LHR-18 deploy, MobileNetV2 and '
                             'RTMPose (CPU only, batch 1)')
    parser.add_argument('--models', help='comma-separated subset of the model names')
    parser.add_argument('--out', default=None,
                        help='output prefix (default: docs/benchmark, docs/benchmark_gpu)')
    args = parser.parse_args()
    device = torch.device(args.device)
    gpu = device.type == 'cuda'
    args.batch = args.batch or (64 if gpu else 32)
    args.throughput_rounds = args.throughput_rounds or (10 if gpu else 3)
    args.out = args.out or osp.join(ROOT, 'docs', 'benchmark_gpu' if gpu else 'benchmark')
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)

    imported = import_mmpose_models()
    from mmpose_litehrnet.analysis import count_paper_flops
    torch.manual_seed(0)
    built = build_device_models(device)
    models = {k: built[k] for k in model_subset(args.models, built)} if args.models else built
    # A deploy form has its training form's FLOPs (built even when --models leaves it
    # out): the counter follows module calls, which the deploy form partly replaces by
    # direct operator calls.
    flops = {k: count_paper_flops(built.get(k.split(' deploy')[0], m), (1, 3, *SHAPE))
             for k, m in models.items()}
    lines = [f'# Benchmark: {machine_name(device)}', '', f'Models from: {imported}.', '']
    if gpu:
        lines += gpu_lines(measure_gpu(models, args), list(models), flops, args)
    else:
        lines += cpu_lines(measure_cpu(models, args), flops, args)
    text = '\n'.join(lines) + '\n'
    print(text)
    with open(args.out + '.md', 'w') as f:
        f.write(text)
    print(f'wrote {args.out}.md and {args.out}.png')


if __name__ == '__main__':
    main()
