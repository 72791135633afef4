"""Traces a whole top-down pose model or MMSeg segmentor to TorchScript and checks it
against PyTorch.

    python tools/export_torchscript.py CONFIG CHECKPOINT --shape H W [--batch N]
        [--out F.pt] [--deploy [--cpu-kernels]]

Input (N, 3, H, W) normalised image, output the heatmaps or, for an MMSeg config, the
segmentation logits before their resize to the image. The file loads with
``torch.jit.load`` alone (no MMPose, MMCV or this package) and runs without Python in the
forward pass: on a CPU the traced deploy form (``--deploy``, recommended) is about a
third faster than the same model in eager PyTorch (docs/benchmark.md). Tracing records
the shape logic for N x 3 x H x W, so the file is only valid at that shape; any H and W
work. With --cpu-kernels the trace calls the deploy form's CPU kernels (about 3x faster
here), so the file loads only where this package has loaded them:
``mmpose_litehrnet.deploy.load_torchscript``. The check runs the loaded file on a fresh
input of that shape and exits non-zero if it gives another shape than PyTorch or differs
from it by more than --atol.
"""
import sys

import torch


def main() -> int:
    from mmpose_litehrnet.apis import (
        add_cpu_kernels_argument,
        check_line,
        describe_shapes,
        export_argument_parser,
        export_model,
        max_abs_difference,
        parse_export_arguments,
        positive_int,
    )
    parser = export_argument_parser(
        __doc__, 'default: work_dirs/torchscript/<config>_<N>x<H>x<W>.pt')
    parser.add_argument('--batch', type=positive_int, default=1)
    add_cpu_kernels_argument(parser, 'are called by the trace (load it with '
                                     'mmpose_litehrnet.deploy.load_torchscript)')
    args = parse_export_arguments(parser)
    from mmpose_litehrnet.deploy import load_torchscript, trace_torchscript
    (h, w), n = args.shape, args.batch
    loaded = export_model(args, 'torchscript', f'{n}x{h}x{w}.pt')
    if loaded is None:
        return 2
    _, model, out = loaded
    seeds = torch.Generator().manual_seed(0)
    torch.jit.save(trace_torchscript(model, torch.randn(n, 3, h, w, generator=seeds),
                                     cpu_kernels=args.cpu_kernels), out)
    result = max_abs_difference(load_torchscript(out), model, (n, ), (h, w), seeds,
                                'the TorchScript file')
    if result is None:
        return 1
    ok, check = check_line('TorchScript', *result[::2], args.atol)
    shapes = describe_shapes([(n, *shape) for shape in result[1]])
    print(f'exported {out}: input {n}x3x{h}x{w}, output {shapes}, {check}')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
