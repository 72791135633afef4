"""Compiles a whole top-down pose model or MMSeg segmentor ahead of time with
AOTInductor into a ``.pt2`` package and checks it against PyTorch.

    python tools/export_aoti.py CONFIG CHECKPOINT --shape H W [--batch N | --dynamic-batch]
        [--out F.pt2] [--deploy [--cpu-kernels]]

Input (N, 3, H, W) normalised image, output the heatmaps or, for an MMSeg config, the
segmentation logits before their resize to the image. The package loads with
``torch._inductor.aoti_load_package`` (or C++'s ``AOTIModelPackageLoader``) alone: no
MMPose, MMCV, this package or compile at load. It is compiled for this machine's CPU, the
installed torch, and N x 3 x H x W (any N >= 1 with --dynamic-batch, checked at 1 and 3);
any H and W work. On a CPU the deploy form (``--deploy``, recommended) ran within 10% of
``compile_for_cpu_inference`` and faster than ONNX Runtime (README, AOTInductor).
Compiling takes minutes and a C++ compiler. With --cpu-kernels the package calls the
deploy form's CPU kernels (faster, and about 20 s to compile Lite-HRNet-18), so it runs
only where this package has loaded them: ``mmpose_litehrnet.deploy.load_aot_package``.
Exits non-zero if the loaded package gives another shape than PyTorch or differs from it
by more than --atol.
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
    parser = export_argument_parser(__doc__,
                                    'default: work_dirs/aoti/<config>_<N>x<H>x<W>.pt2')
    batch = parser.add_mutually_exclusive_group()
    batch.add_argument('--batch', type=positive_int, default=1)
    batch.add_argument('--dynamic-batch', action='store_true',
                       help='any batch size >= 1 (one crop per person)')
    add_cpu_kernels_argument(parser, 'are called by the package (load it with '
                                     'mmpose_litehrnet.deploy.load_aot_package)')
    args = parse_export_arguments(parser)
    from mmpose_litehrnet.deploy import compile_aot_package, load_aot_package
    (h, w), n = args.shape, args.batch
    size = f'{"N" if args.dynamic_batch else n}x{h}x{w}'
    loaded = export_model(args, 'aoti', f'{size}.pt2')
    if loaded is None:
        return 2
    _, model, out = loaded
    seeds = torch.Generator().manual_seed(0)
    # Compiled at batch 2 when the batch is dynamic: a batch of 1 would be specialised.
    example = torch.randn(2 if args.dynamic_batch else n, 3, h, w, generator=seeds)
    compile_aot_package(model, example, out, dynamic_batch=args.dynamic_batch,
                        cpu_kernels=args.cpu_kernels)
    package = load_aot_package(out)
    batches = (1, 3) if args.dynamic_batch else (n, )
    result = max_abs_difference(package, model, batches, (h, w), seeds, 'the package')
    if result is None:
        return 1
    ok, check = check_line('AOTInductor', *result[::2], args.atol)
    batch_label = 'N (dynamic, checked at 1 and 3)' if args.dynamic_batch else n
    print(f'exported {out}: input {batch_label}x3x{h}x{w}, output {describe_shapes(result[1])} '
          f'per image, {check}')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
