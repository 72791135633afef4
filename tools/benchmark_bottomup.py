"""Per-image CPU latency of bottom-up Lite-HRNet against top-down, as MMPose runs them.

    python tools/benchmark_bottomup.py [--rounds 10] [--people 1 5 10] [--out FILE.md]

One 512x512 image (a synthetic crowd scene). Bottom-up models (DEKR Lite-HRNet-18, and
MMPose's one-stage RTMO-s at its 640x640) take it in one ``inference_bottomup`` call,
whatever the number of people; top-down Lite-HRNet-18 (256x192) takes one
``inference_topdown`` call with a box per person, so its time grows with the people (the
person detector it needs is not counted). Every model is built from its config with
random weights and runs after MMPose's ``switch_to_deploy`` (ours: the deploy form; RTMO:
its reparameterised blocks), flip test as its config sets it (on for DEKR and top-down,
off for RTMO, which has none). Calls alternate between the models, one each per round,
after a warm-up; medians and per-round ratios to DEKR are reported. The random weights are
seeded: decoding time depends on them (how many candidates pass the thresholds), and
with other random weights RTMO-s took 10x longer in one run; a trained model's decoding
may cost more or less than these.
"""
import argparse
import os.path as osp
import statistics
import sys
from typing import Callable, Dict

import numpy as np
import torch

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from benchmarking.models import mmpose_config  # noqa: E402
from benchmarking.timing import alternate_samples, machine_name, round_ratios  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
BODY = osp.join(ROOT, 'configs', 'body_2d_keypoint')
DEKR = 'DEKR Lite-HRNet-18 (bottom-up), 512x512'
TOPDOWN = 'top-down Lite-HRNet-18, 256x192'
#: Bottom-up models: name -> config (ours, or MMPose's under configs/body_2d_keypoint).
BOTTOM_UP = {
    DEKR: osp.join(BODY, 'dekr', 'coco', 'dekr_litehrnet-18_8xb10-140e_coco-512x512.py'),
    'RTMO-s (one-stage), 640x640': 'mmpose::rtmo/coco/rtmo-s_8xb32-600e_coco-640x640.py',
}
TOPDOWN_CONFIG = osp.join(BODY, 'topdown_heatmap', 'coco',
                          'td-hm_litehrnet-18_8xb64-210e_coco-256x192.py')


def build(config: str) -> torch.nn.Module:
    """The model of ``config`` with random weights, in eval mode, after MMPose's own
    ``switch_to_deploy`` (which calls our backbone's)."""
    from mmpose.apis import init_model

    if config.startswith('mmpose::'):
        config = mmpose_config(config[len('mmpose::'):])
    torch.manual_seed(0)  # the same random weights in every run (decoding depends on them)
    model = init_model(config, None, device='cpu').eval()
    model.switch_to_deploy()
    return model


def _people(count: int) -> str:
    return f'{count} person' if count == 1 else f'{count} people'


def scene(size: int = 512) -> np.ndarray:
    """A crowded synthetic image (BGR), resized to ``size`` x ``size``."""
    import cv2
    from make_synthetic_pose import _image  # beside this file, on sys.path (above)
    img, _ = _image(np.random.RandomState(0), np.random.RandomState(1), crowded=True)
    return cv2.resize(img, (size, size))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--rounds', type=int, default=10)
    parser.add_argument('--people', type=int, nargs='+', default=[1, 5, 10])
    parser.add_argument('--out', help='also write the report (markdown) here')
    args = parser.parse_args()
    from mmpose.apis import inference_bottomup, inference_topdown

    import mmpose_litehrnet  # noqa: F401  (registers our models)

    image = scene()
    calls: Dict[str, Callable[[], None]] = {}
    bottom_up = {name: build(config) for name, config in BOTTOM_UP.items()}
    for name, model in bottom_up.items():
        calls[name] = lambda m=model: inference_bottomup(m, image)
    for name, model in bottom_up.items():  # the network alone: no pipeline, no decoding
        width, height = model.cfg.codec['input_size']
        x = torch.randn(1, 3, height, width)
        calls[f'{name}, network only, no flip'] = lambda m=model, x=x: m(x, None, mode='tensor')
    topdown = build(TOPDOWN_CONFIG)
    rng = np.random.RandomState(0)
    boxes = {}
    for people in args.people:
        x, y = rng.uniform(0, 400, (2, people))
        boxes[people] = np.stack([x, y, x + 96, y + 128], axis=1).astype(np.float32)
        calls[f'{TOPDOWN}, {_people(people)}'] = (
            lambda b=boxes[people]: inference_topdown(topdown, image, b))
    # Both Lite-HRNet models once more without flip test (one pass instead of two).
    people = max(args.people)
    dekr_no_flip, topdown_no_flip = build(BOTTOM_UP[DEKR]), build(TOPDOWN_CONFIG)
    for model in (dekr_no_flip, topdown_no_flip):
        model.test_cfg = dict(model.test_cfg, flip_test=False)
    calls[f'{DEKR}, no flip test'] = lambda: inference_bottomup(dekr_no_flip, image)
    calls[f'{TOPDOWN}, {_people(people)}, no flip test'] = (
        lambda: inference_topdown(topdown_no_flip, image, boxes[people]))
    with torch.no_grad():
        times = alternate_samples(calls, args.rounds)
    lines = [f'# Bottom-up against top-down: {machine_name(torch.device("cpu"))}', '',
             f'One 512x512 image, per-image latency as MMPose runs it (`inference_bottomup` '
             f'/ `inference_topdown`, pre- and post-processing included, no person '
             f'detector), random weights, deploy form, flip test as configured; medians of '
             f'{args.rounds} alternating rounds.', '',
             '| model | ms per image | per round, to DEKR |', '|---|---:|---:|']
    for name, samples in times.items():
        lines.append(f'| {name} | {1000 * statistics.median(samples):.1f} | '
                     f'{round_ratios(samples, times[DEKR])} |')
    report = '\n'.join(lines) + '\n'
    print(report)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(report)


if __name__ == '__main__':
    main()
