"""Generates a small deterministic synthetic street-scene dataset in the Cityscapes layout.

    python tools/make_synthetic_cityscapes.py [--out data/synthetic_cityscapes] [--train 60]

Each 256x512 image is a street scene whose classes follow from colour, texture and shape:
sky above a horizon, buildings with window grids, vegetation blobs, a road with lane
markings between sidewalks, terrain patches, cars with windows and wheels, people, poles
with traffic signs, and sometimes an ego-vehicle hood labelled 255 (ignore). Written, only
when missing or made by another version, as::

    OUT/leftImg8bit/{train,val}/<city>/<city>_000000_NNNNNN_leftImg8bit.png
    OUT/gtFine/{train,val}/<city>/<city>_000000_NNNNNN_gtFine_labelTrainIds.png

with 8-bit Cityscapes train ids (0 road, 1 sidewalk, 2 building, 5 pole, 7 traffic sign,
8 vegetation, 9 terrain, 10 sky, 11 person, 13 car; 255 ignore).
"""
import argparse
import os
import os.path as osp
from typing import Tuple

import cv2
import numpy as np

from mmpose_litehrnet.workflow import generate_once

VERSION = 1
H, W = 256, 512
ROAD, SIDEWALK, BUILDING, POLE, SIGN, VEGETATION, TERRAIN, SKY, PERSON, CAR = (
    0, 1, 2, 5, 7, 8, 9, 10, 11, 13)
IGNORE = 255


def _jitter(rng: np.random.RandomState, colour: Tuple[int, int, int], amount: int = 20):
    return tuple(int(np.clip(c + rng.randint(-amount, amount + 1), 0, 255)) for c in colour)


def _texture(rng: np.random.RandomState, shape, scale: float) -> np.ndarray:
    return rng.normal(0, scale, shape + (1, ))


def _scene(rng: np.random.RandomState) -> Tuple[np.ndarray, np.ndarray]:
    img = np.zeros((H, W, 3), np.float32)
    label = np.full((H, W), IGNORE, np.uint8)
    horizon = int(H * rng.uniform(0.35, 0.5))

    # Sky: a vertical blue gradient (BGR).
    top, bottom = np.array(_jitter(rng, (220, 150, 90))), np.array(_jitter(rng, (250, 210, 170)))
    t = np.linspace(0, 1, horizon)[:, None, None]
    img[:horizon] = top * (1 - t) + bottom * t
    label[:horizon] = SKY

    # Buildings: grey/brown blocks with a grid of dark windows.
    x = int(rng.randint(-40, 0))
    while x < W:
        w = int(rng.randint(50, 130))
        h = int(rng.randint(int(horizon * 0.4), horizon + 1))
        colour = _jitter(rng, (110, 120, 140), 35)
        cv2.rectangle(img, (x, horizon - h), (x + w, horizon), colour, -1)
        label[max(horizon - h, 0):horizon, max(x, 0):x + w] = BUILDING
        for wy in range(horizon - h + 6, horizon - 8, 14):
            for wx in range(x + 5, x + w - 8, 13):
                cv2.rectangle(img, (wx, wy), (wx + 6, wy + 7), (50, 50, 40), -1)
        x += w + int(rng.randint(0, 25))

    # Vegetation: textured green blobs along the horizon.
    for _ in range(rng.randint(1, 5)):
        cx, cy = int(rng.randint(0, W)), horizon - int(rng.randint(0, 30))
        axes = (int(rng.randint(20, 60)), int(rng.randint(15, 40)))
        mask = np.zeros((H, W), np.uint8)
        cv2.ellipse(mask, (cx, cy), axes, 0, 0, 360, 1, -1)
        green = np.array(_jitter(rng, (40, 140, 50), 25), np.float32)
        img[mask > 0] = green + _texture(rng, (int(mask.sum()), ), 25)[:, 0:1]
        label[mask > 0] = VEGETATION

    # Ground: road trapezoid between sidewalks, terrain patches at the edges.
    img[horizon:] = _jitter(rng, (170, 175, 180), 15)
    label[horizon:] = SIDEWALK
    vanish = int(W * rng.uniform(0.4, 0.6))
    left, right = int(rng.uniform(-0.2, 0.15) * W), int(rng.uniform(0.85, 1.2) * W)
    road = np.array([[vanish - 8, horizon], [vanish + 8, horizon], [right, H], [left, H]],
                    np.int32)
    mask = np.zeros((H, W), np.uint8)
    cv2.fillConvexPoly(mask, road, 1)
    img[mask > 0] = np.array(_jitter(rng, (75, 75, 80), 10), np.float32)
    label[mask > 0] = ROAD
    for k in range(6):  # dashed lane markings, part of the road
        f0, f1 = (k + 0.2) / 6, (k + 0.6) / 6
        p0 = (int(vanish + (W / 2 - vanish) * f0), int(horizon + (H - horizon) * f0))
        p1 = (int(vanish + (W / 2 - vanish) * f1), int(horizon + (H - horizon) * f1))
        cv2.line(img, p0, p1, (235, 235, 235), max(1, int(4 * f1)))
    for side in range(rng.randint(0, 3)):
        x0 = 0 if side == 0 else W - 60
        y0 = int(rng.randint(horizon + 10, H - 20))
        cv2.rectangle(img, (x0, y0), (x0 + 60, min(H, y0 + 40)), _jitter(rng, (60, 150, 130)),
                      -1)
        label[y0:y0 + 40, x0:x0 + 60] = TERRAIN

    # Poles with traffic signs.
    for _ in range(rng.randint(0, 3)):
        px = int(rng.randint(10, W - 10))
        ph = int(rng.randint(40, 90))
        base = int(rng.randint(horizon + 5, H - 30))
        cv2.line(img, (px, base - ph), (px, base), (60, 60, 60), 3)
        label[max(base - ph, 0):base, px - 1:px + 2] = POLE
        r = 7
        cv2.circle(img, (px, base - ph), r, (30, 30, 220) if rng.rand() < 0.5 else (0, 200, 240),
                   -1)
        mask = np.zeros((H, W), np.uint8)
        cv2.circle(mask, (px, base - ph), r, 1, -1)
        label[mask > 0] = SIGN

    # Cars on the road (far ones smaller), people on the sidewalk.
    for _ in range(rng.randint(1, 4)):
        y = int(rng.randint(horizon + 15, H - 10))
        scale = (y - horizon) / (H - horizon)
        w, h = int(40 + 110 * scale), int(20 + 50 * scale)
        x = int(vanish + (rng.uniform(-0.8, 0.8)) * (right - left) * scale / 2 - w / 2)
        colour = _jitter(rng, tuple(int(c) for c in rng.randint(0, 256, 3)), 0)
        cv2.rectangle(img, (x, y - h), (x + w, y), colour, -1)
        cv2.rectangle(img, (x + w // 6, y - h + 3), (x + w - w // 6, y - h // 2), (40, 30, 30),
                      -1)
        label[max(y - h, 0):y, max(x, 0):max(x + w, 0)] = CAR
        for wx in (x + w // 5, x + w - w // 5):
            cv2.circle(img, (wx, y), max(3, h // 5), (15, 15, 15), -1)
            mask = np.zeros((H, W), np.uint8)
            cv2.circle(mask, (wx, y), max(3, h // 5), 1, -1)
            label[mask > 0] = CAR
    for _ in range(rng.randint(0, 4)):
        x = int(rng.randint(5, W - 5))
        y = int(rng.randint(horizon + 10, H - 5))
        scale = 0.4 + (y - horizon) / (H - horizon)
        bw, bh = int(7 * scale), int(22 * scale)
        mask = np.zeros((H, W), np.uint8)
        cv2.ellipse(mask, (x, y - bh), (bw, bh), 0, 0, 360, 1, -1)
        cv2.circle(mask, (x, y - 2 * bh - int(5 * scale)), max(2, int(5 * scale)), 1, -1)
        img[mask > 0] = np.array(_jitter(rng, (60, 40, 160), 50), np.float32)
        label[mask > 0] = PERSON

    if rng.rand() < 0.3:  # ego-vehicle hood: not a class, ignored
        cv2.ellipse(img, (W // 2, H + 20), (W // 2, 40), 0, 180, 360, (20, 20, 25), -1)
        mask = np.zeros((H, W), np.uint8)
        cv2.ellipse(mask, (W // 2, H + 20), (W // 2, 40), 0, 180, 360, 1, -1)
        label[mask > 0] = IGNORE

    img += rng.normal(0, 6, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8), label


def generate(out: str, num_train: int, num_val: int, seed: int = 0) -> None:
    rng = np.random.RandomState(seed)
    for split, city, count in (('train', 'aachen', num_train), ('val', 'frankfurt', num_val)):
        img_dir = osp.join(out, 'leftImg8bit', split, city)
        ann_dir = osp.join(out, 'gtFine', split, city)
        os.makedirs(img_dir, exist_ok=True)
        os.makedirs(ann_dir, exist_ok=True)
        for i in range(count):
            img, label = _scene(rng)
            stem = f'{city}_000000_{i:06d}'
            cv2.imwrite(osp.join(img_dir, f'{stem}_leftImg8bit.png'), img)
            cv2.imwrite(osp.join(ann_dir, f'{stem}_gtFine_labelTrainIds.png'), label)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='data/synthetic_cityscapes')
    parser.add_argument('--train', type=int, default=60)
    parser.add_argument('--val', type=int, default=12)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    generate_once(args.out, f'{VERSION} {args.train} {args.val} {args.seed}',
                  lambda: generate(args.out, args.train, args.val, args.seed),
                  f'{args.train} + {args.val} street scenes')


if __name__ == '__main__':
    main()
