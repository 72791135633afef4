"""Exports a whole top-down pose model or MMSeg segmentor to OpenVINO IR (through ONNX)
and checks OpenVINO's CPU plugin against PyTorch.

    python tools/export_openvino.py CONFIG CHECKPOINT --shape H W [--out F.xml]
        [--deploy [--cpu-kernels]]

CONFIG as ``tools/export_onnx.py`` takes it (ours, or ``mmpose::...``); the same ONNX
graph (ONNX's operators, channel shuffles folded), converted by
``openvino.convert_model`` and saved as ``F.xml`` + ``F.bin``; input ``input`` (1, 3, H,
W), outputs named as in the ONNX file, weights in float32. With --cpu-kernels each call
the deploy form makes to its CPU kernels is one operation of our OpenVINO extension
(built from the openvino wheel at first use): a ``Core`` runs the IR once it has the
extension (``mmpose_litehrnet.kernels.add_openvino_kernels``, or in C++
``core.add_extension`` with ``openvino_kernels_library()``'s path); compile it with the
``f32`` hint (the kernels compute in float32, and bf16 only rounds their input). The
check compiles the IR for the CPU in float32 (OpenVINO's inference precision hint
``f32``) and exits non-zero if it differs from PyTorch by more than --atol (times the
outputs' largest magnitude where that is above 1). Load the IR with
``openvino.Core().compile_model`` (with the extension added, where it has our kernels).
Mind that
OpenVINO's CPU plugin runs in bfloat16 by default where the CPU has AVX-512 BF16 or AMX:
that changed random-weight heatmaps by 15% (relative L2) here, and RTMPose-t's logits
by 12%; set ``INFERENCE_PRECISION_HINT`` to ``f32`` unless bfloat16's accuracy has been
measured for the model (docs/export.md).
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
    parser = export_argument_parser(__doc__, 'default: work_dirs/openvino/<config>_<H>x<W>.xml')
    add_cpu_kernels_argument(parser, 'as operations of our OpenVINO extension (run them '
                                     'with mmpose_litehrnet.kernels.add_openvino_kernels)')
    args = parse_export_arguments(parser)
    import openvino as ov

    from mmpose_litehrnet.deploy import compile_openvino, convert_openvino
    h, w = args.shape
    loaded = export_model(args, 'openvino', f'{h}x{w}.xml')
    if loaded is None:
        return 2
    config, model, out = loaded
    gen, example, names = export_example(config, model, 1, (h, w))
    # Weights kept float32 (save_model compresses them to float16 by default).
    converted = convert_openvino(model, example, names, cpu_kernels=args.cpu_kernels)
    ov.save_model(converted, out, compress_to_fp16=False)
    compiled = compile_openvino(out)
    request = compiled.create_infer_request()

    def run(x: torch.Tensor):
        results = request.infer({0: x.numpy()})
        return [torch.from_numpy(results[output].copy()) for output in compiled.outputs]

    result = max_abs_difference(run, model, (1, ), (h, w), gen, 'OpenVINO')
    if result is None:
        return 1
    ok, check = check_line('OpenVINO', *result[::2], args.atol)
    print(f'exported {out}: input 1x3x{h}x{w}, {describe_shapes(result[1], names)} per '
          f'image, {check}')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
