"""Exports a whole top-down pose model or MMSeg segmentor to ncnn (through pnnx) and
checks ncnn against PyTorch.

    python tools/export_ncnn.py CONFIG CHECKPOINT --shape H W [--out PREFIX] [--deploy]
        [--fold-shuffles]

CONFIG as ``tools/export_onnx.py`` takes it (ours, or ``mmpose::...``). Writes
``PREFIX.param`` and ``PREFIX.bin`` (float32 weights): a JIT trace of the model that
records what an ONNX export records (plain convolutions, NCHW, no in-place sums),
converted by pnnx. Blobs: input ``in0`` (3, H, W), one image per extraction; outputs
``out0``, ``out1``, ... in the head's order (printed). With --fold-shuffles the
Lite-HRNet modules' channel shuffles are folded into the weights, as in the ONNX file
(ncnn ran Lite-HRNet-18 no faster with it). The check runs ncnn in float32 (its float16
and bfloat16 storage and arithmetic off: set the same ``net.opt`` fields) and exits
non-zero if it differs from PyTorch by more than --atol (times the outputs' largest
magnitude where that is above 1). CID is refused, as by every tool, and DEKR here: its
head's offsets are 5-D tensors, which ncnn does not hold.
"""
import sys

import torch


def main() -> int:
    from mmpose_litehrnet.apis import (
        check_line,
        describe_shapes,
        export_argument_parser,
        export_example,
        export_model,
        max_abs_difference,
    )
    parser = export_argument_parser(__doc__, 'default: work_dirs/ncnn/<config>_<H>x<W>')
    parser.add_argument('--fold-shuffles', action='store_true',
                        help="fold the Lite-HRNet modules' channel shuffles into the weights")
    args = parser.parse_args()
    from mmpose_litehrnet.deploy import export_ncnn, ncnn_runner
    h, w = args.shape
    loaded = export_model(args, 'ncnn', f'{h}x{w}', runtime='ncnn')
    if loaded is None:
        return 2
    config, model, out = loaded
    gen, example, names = export_example(config, model, 1, (h, w))
    export_ncnn(model, example, out, fold_shuffles=args.fold_shuffles)
    run = ncnn_runner(out, num_threads=torch.get_num_threads(), outputs=len(names))
    result = max_abs_difference(run, model, (1, ), (h, w), gen, 'ncnn')
    if result is None:
        return 1
    ok, check = check_line('ncnn', *result[::2], args.atol)
    blobs = ', '.join(f'out{k} = {name}' for k, name in enumerate(names))
    print(f'exported {out}.param + .bin: in0 = input 3x{h}x{w}, {blobs}; '
          f'{describe_shapes(result[1], names)} per image, {check}')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
