"""Runs every export tool on every config of the zoo and prints a table of the results.

    python tools/check_zoo_exports.py [--tools export_onnx ...] [--configs GLOB]
        [--deploy-only]

Each config gets a checkpoint of its randomly initialised model (written to a temporary
folder) and is exported at its own input size (top-down models: the codec's; bottom-up
128x128; segmentors 256x512), in the deploy form and, unless --deploy-only, the
training form, by each tool (in this process: the imports paid once); each tool checks its runtime
against PyTorch (see the tools). AOTInductor packages the deploy form with the CPU
kernels (``--cpu-kernels``: seconds; the training form, minutes to compile, is not
run). A cell says ``ok``, ``refused`` (with the reason under the table: CID by every
tool), ``-`` (not run) or ``FAILED`` with the tool's last line. Exits non-zero if any failed.
About a minute per config and form on 2 cores.
"""
import argparse
import contextlib
import fnmatch
import importlib.util
import io
import os
import os.path as osp
import sys
import tempfile
from typing import Callable, List, Optional, Tuple
from unittest import mock

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

    from mmpose_litehrnet.apis import init_tensor_model
    model = init_tensor_model(config, None).model
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)


def _tool_main(tool: str) -> Callable[[], Optional[int]]:
    spec = importlib.util.spec_from_file_location(f'tools_{tool}',
                                                  osp.join(ROOT, 'tools', f'{tool}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def run_tool(tool: str, config: str, ckpt: str, shape: Tuple[int, int], out: str,
             deploy: bool) -> Tuple[str, str]:
    """Runs ``tools/<tool>.py`` in this process (the imports paid once): its status and
    last line."""
    argv = [tool, config, ckpt, '--shape', str(shape[0]), str(shape[1]), '--out', out]
    if tool == 'export_aoti':
        if not deploy:
            return '-', ''
        argv.append('--cpu-kernels')
    printed, errors = io.StringIO(), io.StringIO()
    with mock.patch.object(sys, 'argv', argv + (['--deploy'] if deploy else [])), \
            contextlib.redirect_stdout(printed), contextlib.redirect_stderr(errors):
        try:
            code = _tool_main(tool)()
        except SystemExit as exit_info:
            code = exit_info.code
        except Exception as error:  # noqa: BLE001  (a failed export is a cell, not the end)
            code, errors = 1, io.StringIO(f'{type(error).__name__}: {error}')
    lines = [line for line in (printed.getvalue() + errors.getvalue()).splitlines()
             if line.strip() and 'Warning' not in line]
    last = lines[-1] if lines else ''
    if code in (0, None):
        return 'ok', last
    if code == 2 and 'cannot be exported' in errors.getvalue():
        return 'refused', errors.getvalue().strip().splitlines()[-1]
    return 'FAILED', last


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--tools', nargs='+', default=list(TOOLS), choices=TOOLS)
    parser.add_argument('--configs', default='*', help='a glob on the config paths')
    parser.add_argument('--deploy-only', action='store_true')
    args = parser.parse_args()
    configs = [c for c in zoo_configs() if fnmatch.fnmatch(osp.relpath(c, ROOT), args.configs)
               or fnmatch.fnmatch(c, args.configs)]
    failed, reasons = 0, set()
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
                    if status == 'refused':
                        reasons.add(last)
                    cells.append(status if status != 'FAILED' else f'FAILED: {last[-120:]}')
                name = osp.relpath(config, osp.join(ROOT, 'configs'))
                print(f'| {name} {shape[0]}x{shape[1]} | {"deploy" if deploy else "training"} '
                      f'| ' + ' | '.join(cells) + ' |', flush=True)
    for reason in sorted(reasons):
        print(f'\nRefused: {reason}')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
