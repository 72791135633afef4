"""Draws predicted skeletons on an image, for people in given boxes.

    python tools/image_demo.py CONFIG CHECKPOINT IMAGE [--bbox X1 Y1 X2 Y2 ...] [--out F]

Without ``--bbox`` the whole image is one person. Prints the keypoints and the picture's
path.
"""
import argparse

from mmpose_litehrnet.apis import predict_and_draw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('image')
    parser.add_argument('--bbox', nargs=4, type=float, action='append', metavar='V',
                        help='a person box x1 y1 x2 y2 (repeatable)')
    parser.add_argument('--out', default='work_dirs/image_demo.png')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--kpt-thr', type=float, default=0.3)
    args = parser.parse_args()
    result = predict_and_draw(args.config, args.checkpoint, args.image, args.bbox, args.out,
                              args.device, args.kpt_thr)
    keypoints = result.pred_instances.keypoints
    print(f'{len(keypoints)} people, {keypoints.shape[1]} keypoints each')
    print(f'picture: {args.out}')


if __name__ == '__main__':
    main()
