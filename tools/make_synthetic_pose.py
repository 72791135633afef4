"""Generates a small deterministic synthetic pose dataset, in COCO and MPII formats.

    python tools/make_synthetic_pose.py [--out data/synthetic_pose] [--train 400] [--val 60]

Each image shows one to three articulated, camera-facing stick figures (head with eyes,
ears and nose, filled torso, two-segment limbs, five-fingered hands, feet) with random
pose, scale, rotation and colours over a cluttered background. Some joints are covered by
occluders (labelled, visibility 1) or fall outside the image (visibility 0, coordinates 0).
For bottom-up methods a crowded set, as many images again, shows three to seven people
per image around a common centre, overlapping, from a quarter to the full size of the
others (its own random stream: the other images do not change with it).
Written, only when missing or made by another version, to::

    OUT/images/{train,val}/NNNNNN.jpg
    OUT/images/crowd_{train,val}/NNNNNN.jpg
    OUT/coco/crowd_keypoints_{train,val}.json           (the crowded images, COCO format)
    OUT/coco/person_keypoints_{train,val}.json          (17 COCO keypoints, boxes, areas)
    OUT/coco/coco_wholebody_{train,val}.json            (the same people in COCO-WholeBody
                                                         format: 21 keypoints and a box per
                                                         hand; no face or foot labels)
    OUT/mpii/mpii_{train,val}.json, mpii_gt_val.mat     (16 MPII joints, head boxes)
"""
import argparse
import json
import math
import os
import os.path as osp
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np

from mmpose_litehrnet.workflow import generate_once

VERSION = 3
IMAGE_W, IMAGE_H = 320, 240

COCO_NAMES = ('nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear', 'left_shoulder',
              'right_shoulder', 'left_elbow', 'right_elbow', 'left_wrist', 'right_wrist',
              'left_hip', 'right_hip', 'left_knee', 'right_knee', 'left_ankle',
              'right_ankle')
COCO_SKELETON = [[16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13],
                 [6, 7], [6, 8], [7, 9], [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4],
                 [3, 5], [4, 6], [5, 7]]
# MPII joint order: r_ankle, r_knee, r_hip, l_hip, l_knee, l_ankle, pelvis, thorax,
# upper_neck, head_top, r_wrist, r_elbow, r_shoulder, l_shoulder, l_elbow, l_wrist.
MPII_FROM_COCO = (16, 14, 12, 11, 13, 15, None, None, None, None, 10, 8, 6, 5, 7, 9)


def _rotate(v: np.ndarray, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


def _limb(rng: np.random.RandomState, root: np.ndarray, side: float, lengths,
          first: Tuple[float, float], bend: Tuple[float, float]) -> List[np.ndarray]:
    """Two segments from ``root``; angles from straight down, positive outwards."""
    a1 = math.radians(rng.uniform(*first))
    a2 = a1 + math.radians(rng.uniform(*bend))
    down = np.array([0.0, 1.0])
    j1 = root + lengths[0] * _rotate(down, -side * a1)
    j2 = j1 + lengths[1] * _rotate(down, -side * a2)
    return [j1, j2]


def _figure(rng: np.random.RandomState) -> Dict[str, np.ndarray]:
    """Joints of one camera-facing figure in body units (torso length 1, y down).
    The person's left is the image's right (+x), as for a person facing the camera."""
    p = {}
    p['neck'] = np.array([0.0, 0.0])
    p['left_shoulder'], p['right_shoulder'] = np.array([0.35, 0.0]), np.array([-0.35, 0.0])
    p['left_hip'], p['right_hip'] = np.array([0.2, 1.0]), np.array([-0.2, 1.0])
    head = np.array([rng.uniform(-0.06, 0.06), -0.5])
    p['head'] = head
    p['nose'] = head + [0.0, 0.05]
    p['left_eye'], p['right_eye'] = head + [0.1, -0.05], head + [-0.1, -0.05]
    p['left_ear'], p['right_ear'] = head + [0.22, 0.0], head + [-0.22, 0.0]
    p['head_top'] = head + [0.0, -0.27]
    p['upper_neck'] = np.array([0.0, -0.2])
    for side, name in ((1.0, 'left'), (-1.0, 'right')):
        p[f'{name}_elbow'], p[f'{name}_wrist'] = _limb(
            rng, p[f'{name}_shoulder'], side, (0.55, 0.5), (-10, 160), (-10, 140))
        p[f'{name}_knee'], p[f'{name}_ankle'] = _limb(
            rng, p[f'{name}_hip'], side, (0.7, 0.65), (-10, 60), (-70, 10))
    return p


# COCO-WholeBody's hand keypoints: the wrist, then thumb, index, middle, ring and little
# finger, four joints each from the palm outwards.
HAND_KEYPOINTS = 21
#: Finger segment lengths (fractions of the hand's length), thumb first.
_FINGER_SEGMENTS = ((0.2, 0.16, 0.13), (0.22, 0.14, 0.11), (0.24, 0.16, 0.12),
                    (0.22, 0.15, 0.11), (0.17, 0.11, 0.1))


def _hand(rng: np.random.RandomState, elbow: np.ndarray, wrist: np.ndarray, side: float,
          length: float) -> np.ndarray:
    """The 21 joints (pixels) of an open hand continuing the forearm ``elbow -> wrist``,
    palm to the camera: its thumb on the outer side (``side`` as in :func:`_limb`)."""
    along = (wrist - elbow) / max(np.linalg.norm(wrist - elbow), 1e-6)
    across = _rotate(along, -side * math.pi / 2)  # towards the thumb
    points = [wrist]
    for finger, segments in enumerate(_FINGER_SEGMENTS):
        if finger == 0:  # the thumb's base joint sits at the side of the palm
            base = wrist + length * (0.12 * along + 0.14 * across)
            angle = side * math.radians(rng.uniform(35, 70))
        else:
            base = wrist + length * (0.45 * along + 0.09 * (2.5 - finger) * across)
            angle = side * math.radians(10 * (2.5 - finger) + rng.uniform(-8, 8))
        points.append(base)
        for segment in segments:
            angle += side * math.radians(rng.uniform(-5, 25))  # curled a little
            points.append(points[-1] + length * segment * _rotate(along, -angle))
    return np.array(points)


def _draw_hand(img: np.ndarray, hand: np.ndarray, skin: Tuple, width: int) -> None:
    def pt(i):
        return tuple(int(round(v)) for v in hand[i])

    cv2.fillConvexPoly(img, np.array([pt(0), pt(2), pt(5), pt(17)], dtype=np.int32), skin)
    for finger in range(5):
        joints = [0 if finger == 0 else 1 + 4 * finger] + list(range(2 + 4 * finger,
                                                                      5 + 4 * finger))
        for a, b in zip(joints, joints[1:]):
            cv2.line(img, pt(a), pt(b), skin, width)
        cv2.circle(img, pt(joints[-1]), width, tuple(int(c * 0.8) for c in skin), -1)


def _random_colour(rng: np.random.RandomState, low: int = 0, high: int = 256) -> Tuple:
    return tuple(int(c) for c in rng.randint(low, high, size=3))


def _background(rng: np.random.RandomState) -> np.ndarray:
    top, bottom = np.array(_random_colour(rng, 60, 200)), np.array(_random_colour(rng, 60, 200))
    t = np.linspace(0, 1, IMAGE_H)[:, None, None]
    img = (top * (1 - t) + bottom * t) * np.ones((1, IMAGE_W, 1))
    img = np.clip(img + rng.normal(0, 8, img.shape), 0, 255).astype(np.uint8)
    for _ in range(rng.randint(4, 10)):
        colour = _random_colour(rng)
        x, y = int(rng.randint(0, IMAGE_W)), int(rng.randint(0, IMAGE_H))
        kind = rng.randint(3)
        if kind == 0:
            cv2.rectangle(img, (x, y), (x + int(rng.randint(10, 60)),
                                        y + int(rng.randint(10, 60))), colour, -1)
        elif kind == 1:
            cv2.ellipse(img, (x, y), (int(rng.randint(5, 30)), int(rng.randint(5, 30))),
                        float(rng.uniform(0, 180)), 0, 360, colour, -1)
        else:
            cv2.line(img, (x, y), (int(rng.randint(0, IMAGE_W)), int(rng.randint(0, IMAGE_H))),
                     colour, int(rng.randint(1, 4)))
    return img


def _draw(img: np.ndarray, j: Dict[str, np.ndarray], hands: Dict[str, np.ndarray],
          unit: float, rng: np.random.RandomState) -> None:
    def pt(name):
        return tuple(int(round(v)) for v in j[name])

    skin, shirt = _random_colour(rng, 90, 256), _random_colour(rng)
    trousers = _random_colour(rng)
    limb_w = max(2, int(0.16 * unit))
    for side in ('left', 'right'):
        cv2.line(img, pt(f'{side}_hip'), pt(f'{side}_knee'), trousers, limb_w + 1)
        cv2.line(img, pt(f'{side}_knee'), pt(f'{side}_ankle'), trousers, limb_w)
        cv2.circle(img, pt(f'{side}_ankle'), max(2, int(0.1 * unit)), (30, 30, 30), -1)
    torso = np.array([pt('left_shoulder'), pt('right_shoulder'), pt('right_hip'),
                      pt('left_hip')], dtype=np.int32)
    cv2.fillConvexPoly(img, torso, shirt)
    for side in ('left', 'right'):
        cv2.line(img, pt(f'{side}_shoulder'), pt(f'{side}_elbow'), shirt, limb_w)
        cv2.line(img, pt(f'{side}_elbow'), pt(f'{side}_wrist'), skin, max(2, limb_w - 1))
        cv2.circle(img, pt(f'{side}_wrist'), max(2, int(0.09 * unit)), skin, -1)
        _draw_hand(img, hands[side], skin, max(1, int(0.05 * unit)))
    cv2.line(img, pt('neck'), pt('head'), skin, limb_w)
    cv2.circle(img, pt('head'), max(3, int(0.25 * unit)), skin, -1)
    for side in ('left', 'right'):
        cv2.circle(img, pt(f'{side}_ear'), max(1, int(0.06 * unit)),
                   tuple(int(c * 0.7) for c in skin), -1)
        cv2.circle(img, pt(f'{side}_eye'), max(1, int(0.045 * unit)), (20, 20, 20), -1)
    cv2.circle(img, pt('nose'), max(1, int(0.04 * unit)), (40, 40, 200), -1)


def _image(rng: np.random.RandomState, hand_rng: np.random.RandomState,
           crowded: bool = False):
    """One image and its people: a list of (joints in pixels, visibility, unit). The hands'
    joints are ``{left,right}_hand_{0..20}``; they come from ``hand_rng``, so that the
    bodies are the same with or without them. ``crowded``: 3-7 people of varied size
    gathered around one point, so that they overlap."""
    img = _background(rng)
    people = []
    group = np.array([rng.uniform(0.3, 0.7) * IMAGE_W, rng.uniform(0.3, 0.7) * IMAGE_H]
                     ) if crowded else None
    for _ in range(rng.randint(3, 8) if crowded else rng.randint(1, 4)):
        if crowded:
            unit = rng.uniform(12, 44)
            centre = group + rng.normal(0, [0.2 * IMAGE_W, 0.15 * IMAGE_H])
        else:
            unit = rng.uniform(22, 48)
        angle = math.radians(rng.uniform(-35, 35))
        if not crowded:
            centre = np.array([rng.uniform(0.05, 0.95) * IMAGE_W,
                               rng.uniform(0.1, 0.9) * IMAGE_H])
        joints = {k: centre + unit * _rotate(v - [0, 0.5], angle)
                  for k, v in _figure(rng).items()}
        hands = {name: _hand(hand_rng, joints[f'{name}_elbow'], joints[f'{name}_wrist'],
                             side, 0.45 * unit) for side, name in ((1.0, 'left'), (-1.0, 'right'))}
        _draw(img, joints, hands, unit, rng)
        for name, hand in hands.items():
            joints.update((f'{name}_hand_{i}', xy) for i, xy in enumerate(hand))
        people.append([joints, {k: 2 for k in joints}, unit])
    for joints, vis, _ in people:
        for k, (x, y) in joints.items():
            if not (0 <= x < IMAGE_W and 0 <= y < IMAGE_H):
                vis[k] = 0
    if rng.rand() < 0.5:  # an occluder over part of the scene
        x, y = int(rng.randint(0, IMAGE_W - 20)), int(rng.randint(0, IMAGE_H - 20))
        w, h = int(rng.randint(15, 50)), int(rng.randint(15, 50))
        cv2.rectangle(img, (x, y), (x + w, y + h), _random_colour(rng), -1)
        for joints, vis, _ in people:
            for k, (px, py) in joints.items():
                if vis[k] == 2 and x <= px <= x + w and y <= py <= y + h:
                    vis[k] = 1
    return img, people


def _keypoint_list(joints: Dict[str, np.ndarray], vis: Dict[str, int], names) -> List:
    """COCO's flat ``[x, y, v, ...]``; unlabelled joints at (0, 0)."""
    out = []
    for k in names:
        x, y = joints[k] if vis[k] else (0.0, 0.0)
        out += [round(float(x), 2), round(float(y), 2), vis[k]]
    return out


def _wholebody_fields(joints: Dict[str, np.ndarray], vis: Dict[str, int],
                      unit: float) -> Dict:
    """COCO-WholeBody's per-person fields beyond the body: hands labelled (a hand with at
    least 6 labelled joints is ``valid``, its box the labelled joints' with a margin),
    face and feet not (``valid`` false, zeros)."""
    fields = dict(face_kpts=[0.0] * 68 * 3, face_box=[0.0] * 4, face_valid=False,
                  foot_kpts=[0.0] * 6 * 3, foot_valid=False, segmentation=[])
    for name in ('left', 'right'):
        names = [f'{name}_hand_{i}' for i in range(HAND_KEYPOINTS)]
        labelled = np.array([joints[k] for k in names if vis[k] > 0]).reshape(-1, 2)
        valid = len(labelled) >= 6
        box = [0.0] * 4
        if valid:
            x0, y0 = np.maximum(labelled.min(0) - 0.06 * unit, 0)
            x1, y1 = np.minimum(labelled.max(0) + 0.06 * unit, [IMAGE_W - 1, IMAGE_H - 1])
            box = [round(float(v), 2) for v in (x0, y0, x1 - x0, y1 - y0)]
        fields.update({f'{name}hand_kpts': _keypoint_list(joints, vis, names) if valid
                       else [0.0] * HAND_KEYPOINTS * 3,
                       f'{name}hand_box': box, f'{name}hand_valid': valid})
    return fields


def _coco_annotation(joints: Dict[str, np.ndarray], vis: Dict[str, int], unit: float,
                     ann_id: int, image_id: int) -> Tuple[Optional[Dict], np.ndarray]:
    """A person's COCO annotation, or None when fewer than 3 body joints are labelled, and
    its box ``x0, y0, x1, y1`` unrounded (the labelled joints with a margin)."""
    labelled = [k for k in COCO_NAMES if vis[k] > 0]
    if len(labelled) < 3:
        return None, np.zeros(4)
    xy = np.array([joints[k] for k in joints if vis.get(k, 0) > 0 and '_hand_' not in k])
    x0, y0 = np.maximum(xy.min(0) - 0.3 * unit, 0)
    x1, y1 = np.minimum(xy.max(0) + 0.3 * unit, [IMAGE_W - 1, IMAGE_H - 1])
    return dict(id=ann_id, image_id=image_id, category_id=1, iscrowd=0,
                keypoints=_keypoint_list(joints, vis, COCO_NAMES),
                num_keypoints=len(labelled),
                bbox=[round(float(v), 2) for v in (x0, y0, x1 - x0, y1 - y0)],
                area=round(float((x1 - x0) * (y1 - y0) * 0.6), 2)), np.array([x0, y0, x1, y1])


COCO_CATEGORY = dict(id=1, name='person', supercategory='person', keypoints=list(COCO_NAMES),
                     skeleton=COCO_SKELETON)


def _save_image(out: str, folder: str, image_id: int, img: np.ndarray,
                images: List[Dict]) -> str:
    """Writes ``img`` as ``OUT/images/FOLDER/NNNNNN.jpg`` and adds its COCO image entry to
    ``images``; returns the file name."""
    name = f'{image_id:06d}.jpg'
    cv2.imwrite(osp.join(out, 'images', folder, name), img, [cv2.IMWRITE_JPEG_QUALITY, 92])
    images.append(dict(id=image_id, file_name=name, width=IMAGE_W, height=IMAGE_H))
    return name


def generate_crowd(out: str, num_train: int, num_val: int, seed: int) -> None:
    """The crowded images, in COCO format only (see the module's docstring)."""
    rng, hand_rng = np.random.RandomState(seed), np.random.RandomState(seed + 1)
    image_id = ann_id = 0
    for split, count in (('train', num_train), ('val', num_val)):
        os.makedirs(osp.join(out, 'images', f'crowd_{split}'), exist_ok=True)
        coco = dict(images=[], annotations=[], categories=[COCO_CATEGORY])
        for _ in range(count):
            image_id += 1
            img, people = _image(rng, hand_rng, crowded=True)
            _save_image(out, f'crowd_{split}', image_id, img, coco['images'])
            for joints, vis, unit in people:
                ann = _coco_annotation(joints, vis, unit, ann_id + 1, image_id)[0]
                if ann is not None:
                    ann_id += 1
                    coco['annotations'].append(ann)
        with open(osp.join(out, 'coco', f'crowd_keypoints_{split}.json'), 'w') as f:
            json.dump(coco, f)


def generate(out: str, num_train: int, num_val: int, seed: int = 0) -> None:
    rng, hand_rng = np.random.RandomState(seed), np.random.RandomState(seed + 1)
    coco_cat = COCO_CATEGORY
    image_id = ann_id = 0
    for split, count in (('train', num_train), ('val', num_val)):
        os.makedirs(osp.join(out, 'images', split), exist_ok=True)
        coco = dict(images=[], annotations=[], categories=[coco_cat])
        wholebody = dict(images=coco['images'], annotations=[], categories=[coco_cat])
        mpii, headboxes = [], []
        for _ in range(count):
            image_id += 1
            img, people = _image(rng, hand_rng)
            name = _save_image(out, split, image_id, img, coco['images'])
            for joints, vis, unit in people:
                ann, (x0, y0, x1, y1) = _coco_annotation(joints, vis, unit, ann_id + 1,
                                                         image_id)
                if ann is None:
                    continue
                ann_id += 1
                coco['annotations'].append(ann)
                wholebody['annotations'].append(dict(coco['annotations'][-1],
                                                     **_wholebody_fields(joints, vis, unit)))
                # MPII: only people whose head is in the image (head box needed).
                if vis['head_top'] == 0 or vis['upper_neck'] == 0:
                    continue
                mp_joints, mp_vis = [], []
                for idx, src in enumerate(MPII_FROM_COCO):
                    name_k = COCO_NAMES[src] if src is not None else (
                        'pelvis', 'thorax', 'upper_neck', 'head_top')[idx - 6]
                    if name_k == 'pelvis':
                        xy_k, v = (joints['left_hip'] + joints['right_hip']) / 2, min(
                            vis['left_hip'], vis['right_hip'])
                    elif name_k == 'thorax':
                        xy_k, v = joints['neck'], vis['neck']
                    else:
                        xy_k, v = joints[name_k], vis[name_k]
                    # MPII annotations are 1-based (MATLAB); unlabelled joints are -1.
                    mp_joints.append([round(float(c) + 1, 2) for c in xy_k] if v else [-1, -1])
                    mp_vis.append(1 if v else 0)
                centre = [(x0 + x1) / 2 + 1, (y0 + y1) / 2 + 1]
                mpii.append(dict(image=name, center=[round(float(c), 2) for c in centre],
                                 scale=round(float(max(x1 - x0, y1 - y0) / 200), 4),
                                 joints=mp_joints, joints_vis=mp_vis))
                head = joints['head']
                r = 0.3 * unit
                headboxes.append([[head[0] - r, head[1] - r], [head[0] + r, head[1] + r]])
        os.makedirs(osp.join(out, 'coco'), exist_ok=True)
        os.makedirs(osp.join(out, 'mpii'), exist_ok=True)
        with open(osp.join(out, 'coco', f'person_keypoints_{split}.json'), 'w') as f:
            json.dump(coco, f)
        with open(osp.join(out, 'coco', f'coco_wholebody_{split}.json'), 'w') as f:
            json.dump(wholebody, f)
        with open(osp.join(out, 'mpii', f'mpii_{split}.json'), 'w') as f:
            json.dump(mpii, f)
        if split == 'val':
            from scipy.io import savemat
            boxes = np.transpose(np.array(headboxes, dtype=np.float64), (1, 2, 0))
            savemat(osp.join(out, 'mpii', 'mpii_gt_val.mat'), {'headboxes_src': boxes})
    generate_crowd(out, num_train, num_val, seed + 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='data/synthetic_pose')
    parser.add_argument('--train', type=int, default=400, help='training images')
    parser.add_argument('--val', type=int, default=60, help='validation images')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    generate_once(args.out, f'{VERSION} {args.train} {args.val} {args.seed}',
                  lambda: generate(args.out, args.train, args.val, args.seed),
                  f'{args.train} + {args.val} images')


if __name__ == '__main__':
    main()
