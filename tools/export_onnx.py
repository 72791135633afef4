"""Exports a whole top-down pose model to ONNX and checks ONNX Runtime against PyTorch.

    python tools/export_onnx.py CONFIG CHECKPOINT --shape H W [--out F.onnx] [--deploy]

Input (1, 3, H, W) normalised image, output the heatmaps. Opset 17, TorchScript-based
exporter. The exported graph is fixed to H x W: the cross-resolution weighting pools every
branch to the smallest one, which ONNX can only express as a plain average pooling when
the branch sizes divide, i.e. for H and W divisible by 32 (any size works in PyTorch).
Exits non-zero if ONNX Runtime differs from PyTorch by more than --atol.
"""
import argparse
import sys

import numpy as np
import torch


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--shape', nargs=2, type=int, metavar=('H', 'W'), required=True)
    parser.add_argument('--out', help='default: work_dirs/onnx/<config>_<H>x<W>.onnx')
    parser.add_argument('--deploy', action='store_true', help='fold batch norms first')
    parser.add_argument('--atol', type=float, default=1e-4)
    args = parser.parse_args()
    import onnx
    import onnxruntime as ort

    from mmpose_litehrnet.apis import export_path, init_heatmap_model
    from mmpose_litehrnet.deploy import export_onnx
    h, w = args.shape
    if h % 32 or w % 32:
        print(f'error: ONNX export needs H and W divisible by 32, got {h}x{w}',
              file=sys.stderr)
        return 2
    model = init_heatmap_model(args.config, args.checkpoint, deploy=args.deploy)
    out = export_path(args.config, args.out, 'onnx', f'{h}x{w}.onnx')
    x = torch.randn(1, 3, h, w, generator=torch.Generator().manual_seed(0))
    export_onnx(model, x, out)
    onnx.checker.check_model(onnx.load(out))
    session = ort.InferenceSession(out, providers=['CPUExecutionProvider'])
    actual = session.run(None, {'input': x.numpy()})[0]
    with torch.no_grad():
        expected = model(x).numpy()
    diff = float(np.abs(actual - expected).max())
    print(f'exported {out}: input 1x3x{h}x{w}, heatmaps {tuple(actual.shape)}, '
          f'ONNX Runtime vs PyTorch max abs diff {diff:.2e} (limit {args.atol:g})')
    return 0 if diff <= args.atol else 1


if __name__ == '__main__':
    sys.exit(main())
