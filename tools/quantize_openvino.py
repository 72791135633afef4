"""Quantizes a top-down pose model to INT8 for OpenVINO (NNCF post-training quantization)
and measures what it costs and gains: AP on the config's test set and latency, INT8
against float32.

    python tools/quantize_openvino.py CONFIG CHECKPOINT [--out F.xml]
        [--calib-split train | --calib-images 'DIR/*.jpg'] [--samples 300]
        [--recipe lite-hrnet | default] [--eval] [--rounds 50]

The model (deploy form, input the config's codec size) is exported as
``tools/export_openvino.py`` exports it, then quantized by ``nncf.quantize`` on
calibration inputs the user names:

- ``--calib-split train`` (the default) or ``val``: the config's dataset of that split
  through its test pipeline (the person crops the model will see), the first
  ``--samples``;
- ``--calib-images PATTERN``: image files (a glob), each resized to the input size:
  person crops are what a top-down model sees.

``--recipe lite-hrnet`` (the default) keeps the cross-resolution weighting's products
and the fusions' sums in float (an ignored scope), as Intel's Lite-HRNet templates do;
``default`` is NNCF's plain preset. ``--eval`` runs the config's test loop (its metric,
e.g. COCO AP) with the head's forward replaced by the float32 IR, the INT8 one, and,
where the CPU has bfloat16, the float IR in OpenVINO's bfloat16 (its default there), and
times them (batch 1, alternating, medians of ``--rounds``). Writes ``F.xml`` + ``F.bin`` (default
``work_dirs/openvino/<config>_int8.xml``).
"""
import argparse
import glob
import statistics
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List

import numpy as np
import torch


def calibration_inputs(cfg: Any, model: Any, split: str, images: str, samples: int,
                       size: List[int]) -> List[np.ndarray]:
    """(1, 3, H, W) float32 network inputs, normalised as the model's data preprocessor
    does: from image files matching ``images``, resized; else from the config's ``split``
    dataset through its test pipeline."""
    preprocessor = model.data_preprocessor
    if images:
        import cv2
        files = sorted(glob.glob(images))[:samples]
        if not files:
            raise SystemExit(f'--calib-images {images!r} matches no file')
        batch = [torch.from_numpy(cv2.resize(cv2.imread(f), (size[1], size[0])))
                 .permute(2, 0, 1) for f in files]
        inputs = [preprocessor(dict(inputs=[b]), False)['inputs'] for b in batch]
    else:
        from mmpose.registry import DATASETS
        dataset_cfg = cfg[f'{split}_dataloader'].dataset.copy()
        dataset_cfg.pipeline = cfg.val_dataloader.dataset.pipeline
        dataset = DATASETS.build(dataset_cfg)
        inputs = []
        for k in range(min(samples, len(dataset))):
            packed = dataset[k]
            inputs.append(preprocessor(dict(inputs=[packed['inputs']],
                                            data_samples=[packed['data_samples']]),
                                       False)['inputs'])
    return [x.numpy().astype(np.float32) for x in inputs]


def openvino_call(model: Any, precision: str = 'f32'
                  ) -> Callable[[np.ndarray], List[np.ndarray]]:
    """The OpenVINO model compiled with ``precision`` (``compile_openvino``), run one
    image per call."""
    from mmpose_litehrnet.deploy import compile_openvino
    compiled = compile_openvino(model, precision)
    request = compiled.create_infer_request()

    def run(x: np.ndarray) -> List[np.ndarray]:
        results = request.infer({0: x})
        return [results[o].copy() for o in compiled.outputs]

    return run


def evaluate(config: str, checkpoint: str, run: Callable, work_dir: str) -> Dict[str, float]:
    """The config's test loop (dataset, flip test, decoding, metric) with the backbone
    and head replaced by ``run`` (a batch of one network input in, the head's outputs
    out): its metrics."""
    from mmengine.config import Config
    from mmengine.runner import Runner, load_checkpoint

    import mmpose_litehrnet  # noqa: F401  (registry)
    cfg = Config.fromfile(config)
    cfg.work_dir, cfg.load_from = work_dir, None
    cfg.test_dataloader.num_workers = 0
    cfg.test_dataloader.persistent_workers = False
    runner = Runner.from_cfg(cfg)
    load_checkpoint(runner.model, checkpoint, map_location='cpu')

    class Images(torch.nn.Module):
        def forward(self, x: torch.Tensor):
            return (x, )

    def head_forward(feats):
        per_image = [run(x.unsqueeze(0).numpy().astype(np.float32)) for x in feats[0]]
        outs = [torch.from_numpy(np.concatenate(o)) for o in zip(*per_image)]
        return outs[0] if len(outs) == 1 else tuple(outs)

    runner.model.backbone = Images()
    runner.model.head.forward = head_forward
    return runner.test()


def main() -> int:
    from mmpose_litehrnet.deploy import INT8_RECIPES
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--out')
    parser.add_argument('--calib-split', choices=('train', 'val'), default='train')
    parser.add_argument('--calib-images', help='a glob of image files to calibrate on')
    parser.add_argument('--samples', type=int, default=300)
    parser.add_argument('--recipe', choices=sorted(INT8_RECIPES), default='lite-hrnet')
    parser.add_argument('--eval', action='store_true')
    parser.add_argument('--rounds', type=int, default=50)
    args = parser.parse_args()
    import openvino as ov
    from mmengine.config import Config

    from mmpose_litehrnet.apis import export_path, init_tensor_model, resolve_config
    from mmpose_litehrnet.deploy import convert_openvino, quantize_openvino
    config = resolve_config(args.config)
    cfg = Config.fromfile(config)
    codec = cfg.codec[0] if isinstance(cfg.codec, (list, tuple)) else cfg.codec
    size = [int(codec['input_size'][1]), int(codec['input_size'][0])]
    model = init_tensor_model(cfg, args.checkpoint, deploy=True)
    out = export_path(args.config, args.out, 'openvino', 'int8.xml')
    example = torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(0))
    float_model = convert_openvino(model, example)
    inputs = calibration_inputs(cfg, model.model, args.calib_split, args.calib_images,
                                args.samples, size)
    quantized = quantize_openvino(float_model, inputs, args.recipe)
    ov.save_model(quantized, out, compress_to_fp16=False)
    print(f'wrote {out}: INT8 ({args.recipe} recipe), calibrated on {len(inputs)} inputs '
          f'{size[0]}x{size[1]}')
    if not args.eval:
        return 0
    runs = {'float32': openvino_call(float_model), 'int8': openvino_call(out)}
    if 'BF16' in ov.Core().get_property('CPU', 'OPTIMIZATION_CAPABILITIES'):
        runs['bfloat16 (float IR)'] = openvino_call(float_model, 'bf16')
    x = inputs[0]
    times = {name: [] for name in runs}
    for _ in range(5):
        for run in runs.values():
            run(x)
    for _ in range(args.rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            run(x)
            times[name].append(time.perf_counter() - start)
    with tempfile.TemporaryDirectory() as work:
        metrics = {name: evaluate(config, args.checkpoint, run, work)
                   for name, run in runs.items()}
    keys = [k for k in metrics['float32'] if isinstance(metrics['float32'][k], float)]
    print('| OpenVINO | ' + ' | '.join(keys) + ' | ms per image (batch 1) |')
    print('|---|' + '---:|' * (len(keys) + 1))
    for name in runs:
        print(f'| {name} | ' + ' | '.join(f'{metrics[name][k]:.4f}' for k in keys)
              + f' | {statistics.median(times[name]) * 1e3:.2f} |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
