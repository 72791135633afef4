"""The end-to-end pose demo behind ``make demo`` and ``make bottomup-demo``, offline on CPU.

Synthetic data -> ``mim test`` of the untrained model -> ``mim train`` -> ``mim test`` of
the trained one -> COCO AP/AR of both -> predicted skeletons drawn over a val image:
top-down Lite-HRNet-18 in the people's boxes (``--demo top-down``, the default; ``--demo
simcc``: with the SimCC recipe's head and codec), or DEKR Lite-HRNet-18 on the crowded
images, every person found in one pass (``--demo bottom-up``).
"""
import argparse
import json
import os
import os.path as osp
import re
import subprocess
import sys
import time
from typing import Dict, List

from mmpose_litehrnet.workflow import run_mim, save_initial_checkpoint

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
BODY = osp.join(ROOT, 'configs', 'body_2d_keypoint')
DATA = osp.join(ROOT, 'data', 'synthetic_pose')
#: Per demo: its config, its val annotations and images (under DATA), the model's name, the
#: training's minutes here (12 epochs each).
DEMOS = {
    'top-down': (osp.join(BODY, 'topdown_heatmap', 'synthetic',
                          'td-hm_litehrnet-18_1xb32-12e_synthetic-coco-96x72.py'),
                 'coco/person_keypoints_val.json', 'images/val',
                 'Lite-HRNet-18', 5),
    'simcc': (osp.join(BODY, 'simcc', 'synthetic',
                       'simcc_litehrnet-18_1xb32-12e_synthetic-coco-96x72.py'),
              'coco/person_keypoints_val.json', 'images/val',
              'SimCC Lite-HRNet-18', 5),
    'bottom-up': (osp.join(BODY, 'dekr', 'synthetic',
                           'dekr_litehrnet-18_1xb10-12e_synthetic-crowd-128x128.py'),
                  'coco/crowd_keypoints_val.json', 'images/crowd_val',
                  'DEKR Lite-HRNet-18', 13),
}


def _coco_metrics(lines: List[str]) -> Dict[str, float]:
    text = ''.join(lines)
    found = {k: re.findall(rf'coco/{k}: ([0-9.]+)', text) for k in ('AP', 'AR')}
    if not all(found.values()):
        raise SystemExit('no COCO metrics in the output of mim test')
    return {k: float(v[-1]) for k, v in found.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--demo', choices=sorted(DEMOS), default='top-down')
    parser.add_argument('--work-dir', help='default: work_dirs/demo (other demos: '
                        'work_dirs/<demo>_demo, e.g. work_dirs/bottomup_demo)')
    args = parser.parse_args()
    start = time.time()
    config, annotations, images, model_name, minutes = DEMOS[args.demo]
    bottom_up = args.demo == 'bottom-up'
    default_dir = 'demo' if args.demo == 'top-down' else f"{args.demo.replace('-', '')}_demo"
    work = args.work_dir or osp.join(ROOT, 'work_dirs', default_dir)
    os.makedirs(work, exist_ok=True)

    print('[demo 1/5] synthetic data', flush=True)
    subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'make_synthetic_pose.py'),
                    '--out', DATA], check=True)

    print('[demo 2/5] mim test of the untrained model', flush=True)
    untrained = osp.join(work, 'untrained.pth')
    save_initial_checkpoint(config, untrained)
    before = _coco_metrics(run_mim('test', 'mmpose', config, '--checkpoint', untrained,
                                   '--work-dir', osp.join(work, 'test_untrained'), cwd=ROOT))

    print(f'[demo 3/5] mim train (CPU, about {minutes} minutes on 2 cores)', flush=True)
    run_mim('train', 'mmpose', config, '--gpus', '0', '--work-dir', osp.join(work, 'train'),
            cwd=ROOT)
    trained = osp.join(work, 'train', 'epoch_12.pth')

    print('[demo 4/5] mim test of the trained model', flush=True)
    after = _coco_metrics(run_mim('test', 'mmpose', config, '--checkpoint', trained,
                                  '--work-dir', osp.join(work, 'test_trained'), cwd=ROOT))

    print('[demo 5/5] predicted skeletons over a val image', flush=True)
    from mmpose_litehrnet.apis import predict_and_draw
    with open(osp.join(DATA, annotations)) as f:
        val = json.load(f)
    per_image: Dict[int, list] = {}
    for ann in val['annotations']:
        x, y, w, h = ann['bbox']
        per_image.setdefault(ann['image_id'], []).append([x, y, x + w, y + h])
    image_id = max(per_image, key=lambda i: (len(per_image[i]), -i))
    name = next(im['file_name'] for im in val['images'] if im['id'] == image_id)
    picture = osp.join(work, 'prediction.png')
    predict_and_draw(config, trained, osp.join(DATA, images, name),
                     None if bottom_up else per_image[image_id], picture)
    import cv2
    cv2.imwrite(picture, cv2.resize(cv2.imread(picture), None, fx=2, fy=2,
                                    interpolation=cv2.INTER_NEAREST))

    print()
    print('| model | COCO AP | COCO AR |')
    print('|---|---:|---:|')
    print(f"| {model_name}, untrained | {before['AP']:.3f} | {before['AR']:.3f} |")
    print(f"| {model_name}, trained 12 epochs | {after['AP']:.3f} | {after['AR']:.3f} |")
    print(f'picture: {picture}')
    print(f'demo took {time.time() - start:.0f} s')
    if after['AP'] <= before['AP']:
        raise SystemExit('training did not improve AP')


if __name__ == '__main__':
    main()
