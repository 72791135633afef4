"""Runs every export tool on every config of the zoo and prints a table of the results.

    python tools/check_zoo_exports.py [--tools export_onnx ...] [--configs GLOB]
        [--deploy-only]

Each config gets a checkpoint of its randomly initialised model (written to a temporary
folder) and is exported at its own input size (top-down models: the codec's; bottom-up
128x128; segmentors 256x512), in the deploy form and, unless --deploy-only, the
training form, by each tool in a process of its own; each tool checks its runtime
against PyTorch (see the tools). AOTInductor packages the deploy form with the CPU
kernels (``--cpu-kernels``: seconds; the training form, minutes to compile, is not
run). A cell says ``ok``, ``refused`` (CID: by design, see ``tools/export_onnx.py``),
``-`` (not run) or ``FAILED`` with the tool's last line. Exits non-zero if any failed.
About a minute per config and form on 2 cores.
"""
import argparse
import fnmatch
import os
import os.path as osp
import subprocess
import sys
import tempfile
from typing import List, Tuple

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TOOLS = ('export_onnx', 'export_torchscript', 'export_aoti', 'export_openvino',
         'export_ncnn')
SUFFIX = {'export_onnx': '.onnx', 'export_torchscript': '.pt', 'export_aoti': '.pt2',
          'export_openvino': '.xml', 'export_ncnn': ''}


def zoo_configs() -> List[str]:
    """Every config of ours, sorted (the ``_base_`` files excluded)."""
    found = []
    for folder, _, files in os.walk(osp.join(ROOT, 'configs')):
        found += [osp.join(folder, f) for f in files
                  if f.endswith('.py') and '_base_' not in folder]
    return sorted(found)


def export_shape(config: str) -> Tuple[int, int]:
    """(H, W) to export ``config`` at: a top-down model's codec input size, bottom-up
    128x128, a segmentor 256x512."""
    from mmengine.config import Config

    from mmpose_litehrnet.apis import is_segmentation_config
    cfg = Config.fromfile(config)
    if is_segmentation_config(cfg):
        return 256, 512
    if cfg.model.get('type') == 'BottomupPoseEstimator':
        return 128, 128
    codec = cfg.codec[0] if isinstance(cfg.codec, (list, tuple)) else cfg.codec
    w, h = codec['input_size']
    return int(h), int(w)


def random_checkpoint(config: str, path: str) -> None:
    """The randomly initialised model of ``config`` saved as a checkpoint at ``path``."""
    import torch
    from mmengine.config import Config

    import mmpose_litehrnet  # noqa: F401  (registry)
    from mmpose_litehrnet.apis import is_segmentation_config
    cfg = Config.fromfile(config)
    if is_segmentation_config(cfg):
        from mmseg.apis import init_model
    else:
        from mmpose.apis import init_model
    model = init_model(cfg, None, device='cpu')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)


def run_tool(tool: str, config: str, ckpt: str, shape: Tuple[int, int], out: str,
             deploy: bool) -> Tuple[str, str]:
    argv = [sys.executable, osp.join(ROOT, 'tools', f'{tool}.py'), config, ckpt,
            '--shape', str(shape[0]), str(shape[1]), '--out', out]
    if tool == 'export_aoti':
        if not deploy:
            return '-', ''
        argv.append('--cpu-kernels')
    done = subprocess.run(argv + (['--deploy'] if deploy else []), capture_output=True,
                          text=True, cwd=ROOT)
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    last = lines[-1] if lines else ''
    if done.returncode == 0:
        return 'ok', last
    if done.returncode == 2 and 'cannot be exported' in done.stderr:
        return 'refused', last
    return 'FAILED', last


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--tools', nargs='+', default=list(TOOLS), choices=TOOLS)
    parser.add_argument('--configs', default='*', help='a glob on the config paths')
    parser.add_argument('--deploy-only', action='store_true')
    args = parser.parse_args()
    configs = [c for c in zoo_configs() if fnmatch.fnmatch(osp.relpath(c, ROOT), args.configs)
               or fnmatch.fnmatch(c, args.configs)]
    failed = 0
    print('| config | form | ' + ' | '.join(args.tools) + ' |')
    print('|---|---|' + '---|' * len(args.tools))
    with tempfile.TemporaryDirectory() as work:
        for config in configs:
            ckpt = osp.join(work, 'ckpt.pth')
            random_checkpoint(config, ckpt)
            shape = export_shape(config)
            for deploy in ([True] if args.deploy_only else [False, True]):
                cells = []
                for tool in args.tools:
                    out = osp.join(work, 'model' + SUFFIX[tool])
                    status, last = run_tool(tool, config, ckpt, shape, out, deploy)
                    failed += status == 'FAILED'
                    cells.append(status if status != 'FAILED' else f'FAILED: {last[-120:]}')
                name = osp.relpath(config, osp.join(ROOT, 'configs'))
                print(f'| {name} {shape[0]}x{shape[1]} | {"deploy" if deploy else "training"} '
                      f'| ' + ' | '.join(cells) + ' |', flush=True)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
