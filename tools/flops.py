"""Parameters and FLOPs of Lite-HRNet configs, in the paper's and MMEngine's conventions.

    python tools/flops.py CONFIG [CONFIG ...] [--shape H W]

Paper convention: the authors' torchstat rules (``mmpose_litehrnet.analysis.paper_flops``),
M = 2**20; it reproduces the published tables. MMEngine convention: ``mmengine.analysis``
(fvcore-style, one FLOP per multiply-accumulate, no norm or activation costs), M = 10**6.
Both count the whole model (backbone and head) for one image.
"""
import argparse
import os.path as osp
import sys
import warnings
from typing import List, Optional

from mmengine.config import Config
from mmengine.logging import MMLogger

from mmpose_litehrnet.analysis.complexity import build_model_from_config, config_input_size, measure
from mmpose_litehrnet.analysis.paper_flops import format_mega


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('configs', nargs='+', help='config files')
    parser.add_argument('--shape', nargs=2, type=int, metavar=('H', 'W'),
                        help='input size (default: the config\'s)')
    args = parser.parse_args(argv)
    # MMEngine's `mmpose::` bases import pkg_resources, which warns on every import.
    warnings.filterwarnings('ignore', message='pkg_resources is deprecated')
    MMLogger.get_instance('mmengine', log_level='ERROR')
    print('| config | variant | input | params | FLOPs (paper: torchstat rules, M=2^20) '
          '| FLOPs (MMEngine: fvcore, M=10^6) | backbone alone (paper) |')
    print('|---|---|---|---:|---:|---:|---:|')
    for path in args.configs:
        cfg = Config.fromfile(path)
        hw = args.shape or config_input_size(cfg)
        result = measure(build_model_from_config(cfg), cfg.model.backbone, hw)
        print(f'| {osp.splitext(osp.basename(path))[0]} | {result.variant} '
              f'| {hw[0]}x{hw[1]} | {result.params:,} | {format_mega(result.paper_flops)} '
              f'| {result.mmengine_flops / 1e6:.1f}M '
              f'| {format_mega(result.backbone_paper_flops)} |', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
