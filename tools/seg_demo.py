"""The segmentation demo behind ``make seg-demo``, offline on CPU.

Synthetic Cityscapes-layout data -> ``mim test`` of the untrained model -> ``mim train``
-> ``mim test`` of the trained one -> mIoU of both -> input, ground truth and predicted
colour mask side by side.
"""
import argparse
import glob
import os
import os.path as osp
import re
import subprocess
import sys
import time
from typing import List

import numpy as np

from mmpose_litehrnet.workflow import run_mim, save_initial_checkpoint

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(ROOT, 'configs', 'seg', 'litehrnet', 'synthetic',
                  'fcn_litehrnet-18_1xb4-300i_synthetic-cityscapes-128x256.py')
DATA = osp.join(ROOT, 'data', 'synthetic_cityscapes')


def _miou(lines: List[str]) -> float:
    found = re.findall(r'mIoU: ([0-9.]+)', ''.join(lines))
    if not found:
        raise SystemExit('no mIoU in the output of mim test')
    return float(found[-1])


def _side_by_side(checkpoint: str, out_file: str) -> None:
    import cv2
    from mmseg.apis import inference_model, init_model
    from mmseg.datasets import CityscapesDataset

    import mmpose_litehrnet  # noqa: F401  (registry and safe checkpoint loading)
    model = init_model(CONFIG, checkpoint, device='cpu')
    image = sorted(glob.glob(osp.join(DATA, 'leftImg8bit', 'val', '*', '*.png')))[0]
    gt_file = image.replace('leftImg8bit', 'gtFine', 1).replace(
        '_leftImg8bit.png', '_gtFine_labelTrainIds.png')
    pred = inference_model(model, image).pred_sem_seg.data[0].numpy()
    palette = np.zeros((256, 3), np.uint8)
    palette[:19] = np.array(CityscapesDataset.METAINFO['palette'], np.uint8)[:, ::-1]  # BGR
    gt = cv2.imread(gt_file, cv2.IMREAD_GRAYSCALE)
    panels = [cv2.imread(image), palette[gt], palette[pred.astype(np.uint8)]]
    for panel, title in zip(panels, ('input', 'ground truth', 'prediction')):
        cv2.putText(panel, title, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 2)
        cv2.putText(panel, title, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1)
    cv2.imwrite(out_file, np.concatenate(panels, axis=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default=osp.join(ROOT, 'work_dirs', 'seg_demo'))
    args = parser.parse_args()
    start = time.time()
    work = args.work_dir
    os.makedirs(work, exist_ok=True)

    print('[seg-demo 1/5] synthetic street scenes', flush=True)
    subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'make_synthetic_cityscapes.py'),
                    '--out', DATA], check=True)
    print('[seg-demo 2/5] mim test of the untrained model', flush=True)
    untrained = osp.join(work, 'untrained.pth')
    save_initial_checkpoint(CONFIG, untrained)
    before = _miou(run_mim('test', 'mmseg', CONFIG, '--checkpoint', untrained,
                           '--work-dir', osp.join(work, 'test_untrained'), cwd=ROOT))
    print('[seg-demo 3/5] mim train (CPU)', flush=True)
    run_mim('train', 'mmseg', CONFIG, '--gpus', '0', '--work-dir', osp.join(work, 'train'),
            cwd=ROOT)
    trained = osp.join(work, 'train', 'iter_300.pth')
    print('[seg-demo 4/5] mim test of the trained model', flush=True)
    after = _miou(run_mim('test', 'mmseg', CONFIG, '--checkpoint', trained,
                          '--work-dir', osp.join(work, 'test_trained'), cwd=ROOT))
    print('[seg-demo 5/5] input | ground truth | prediction', flush=True)
    picture = osp.join(work, 'prediction.png')
    _side_by_side(trained, picture)

    print()
    print('| model | mIoU (synthetic val) |')
    print('|---|---:|')
    print(f'| Lite-HRNet-18 + FCN, untrained | {before:.2f} |')
    print(f'| Lite-HRNet-18 + FCN, trained 300 iterations | {after:.2f} |')
    print(f'picture: {picture}')
    print(f'seg-demo took {time.time() - start:.0f} s')
    if after <= before:
        raise SystemExit('training did not improve mIoU')


if __name__ == '__main__':
    main()
