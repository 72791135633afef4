"""Exports a whole top-down pose model or MMSeg segmentor to ONNX and checks ONNX Runtime
against PyTorch.

    python tools/export_onnx.py CONFIG CHECKPOINT --shape H W [--out F.onnx]
        [--deploy [--cpu-kernels]] [--dynamic-batch]

CONFIG is ours or an OpenMMLab package's own (``mmpose::body_2d_keypoint/...``). Input
(1, 3, H, W) normalised image; outputs the model's tensor outputs, named by its head:
``heatmaps``, ``simcc_x`` and ``simcc_y`` (SimCC, RTMPose heads), ``coords`` (RLE,
regression), ``heatmaps`` and ``displacements`` (DEKR), or the segmentation ``logits``
before their resize to the image (an MMSeg config: its ``default_scope`` is ``mmseg``).
With --dynamic-batch the input is (N, 3, H, W) for any N (checked at N = 1 and 3). CID
(its forward decodes a data-dependent number of people) is refused. Opset 17,
TorchScript-based exporter. Any H and W; the exported graph is fixed to them: the
cross-resolution weighting pools every branch to the smallest one, a plain average
pooling when the branch sizes divide (H and W divisible by 32), otherwise two products
with constant pooling matrices. With --cpu-kernels each call the deploy form makes to
its CPU kernels is one custom node of the ``mmpose_litehrnet`` domain (about 30 nodes
for Lite-HRNet-18 instead of about 1100, and 2-3x faster on the CPU): the file then runs
only in an ONNX Runtime session that has loaded their library
(``mmpose_litehrnet.kernels.add_ort_kernels``; it needs ONNX Runtime's C++ headers to
build). Exits non-zero if ONNX Runtime differs from PyTorch by more than --atol (times
the outputs' largest magnitude where that is above 1).
"""
import sys

import torch


def main() -> int:
    from mmpose_litehrnet.apis import (
        add_cpu_kernels_argument,
        check_line,
        describe_shapes,
        export_argument_parser,
        export_example,
        export_model,
        max_abs_difference,
        parse_export_arguments,
    )
    parser = export_argument_parser(__doc__,
                                    'default: work_dirs/onnx/<config>_<H>x<W>.onnx')
    parser.add_argument('--dynamic-batch', action='store_true',
                        help='a batch axis of any size (one crop per person)')
    add_cpu_kernels_argument(parser, 'as custom nodes (run them with '
                                     'mmpose_litehrnet.kernels.add_ort_kernels)')
    args = parse_export_arguments(parser)
    import onnx
    import onnxruntime as ort

    from mmpose_litehrnet.deploy import export_onnx
    h, w = args.shape
    loaded = export_model(args, 'onnx', f'{h}x{w}.onnx')
    if loaded is None:
        return 2
    config, model, out = loaded
    # Traced at batch 2 when the batch is dynamic: a batch of 1 can be specialised away.
    gen, example, names = export_example(config, model, 2 if args.dynamic_batch else 1,
                                         (h, w))
    export_onnx(model, example, out, output_names=names, dynamic_batch=args.dynamic_batch,
                cpu_kernels=args.cpu_kernels)
    onnx.checker.check_model(onnx.load(out))
    options = ort.SessionOptions()
    if args.cpu_kernels:
        from mmpose_litehrnet.kernels import add_ort_kernels
        add_ort_kernels(options)
    session = ort.InferenceSession(out, options, providers=['CPUExecutionProvider'])
    batches = (1, 3) if args.dynamic_batch else (1, )
    result = max_abs_difference(
        lambda x: [torch.from_numpy(o) for o in session.run(None, {'input': x.numpy()})],
        model, batches, (h, w), gen, 'ONNX Runtime')
    if result is None:
        return 1
    ok, check = check_line('ONNX Runtime', *result[::2], args.atol)
    batch = f'N (dynamic, checked at {" and ".join(map(str, batches))})' \
        if args.dynamic_batch else '1'
    print(f'exported {out}: input {batch}x3x{h}x{w}, {describe_shapes(result[1], names)} '
          f'per image, {check}')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
