"""Shared fixtures: the four variants, the devices, deterministic random weights, MMPose's
oracle."""
import contextlib
import glob
import importlib.util
import io
import os
import os.path as osp
import subprocess
import sys
import textwrap
from typing import Dict, List, Optional, Tuple
from unittest import mock

import pytest
import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

import mmpose_litehrnet  # noqa: F401  (registers our models)
from mmpose_litehrnet.models.backbones import variant_extra

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
POSE_CONFIGS = osp.join(ROOT, 'configs', 'body_2d_keypoint', 'topdown_heatmap')
#: Our hand config (MMPose's COCO-WholeBody-Hand Lite-HRNet-18).
HAND_LITEHRNET_18 = osp.join(ROOT, 'configs', 'hand_2d_keypoint', 'topdown_heatmap',
                             'coco_wholebody_hand',
                             'td-hm_litehrnet-w18_8xb32-210e_coco-wholebody-hand-256x256.py')
#: Every pose config (body and hand, every head), sorted.
POSE_ZOO_CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', '*_2d_keypoint', '*', '*',
                                             '*.py')))
#: Our COCO Lite-HRNet-18 pose config.
COCO_LITEHRNET_18 = osp.join(POSE_CONFIGS, 'coco',
                             'td-hm_litehrnet-18_8xb64-210e_coco-256x192.py')


def _share_the_cores_between_workers() -> None:
    """Under pytest-xdist (``make test`` runs ``-n auto``) each worker, and each process a
    test starts, gets its share of the cores: threads spinning on cores that another
    worker uses slow both down."""
    workers = int(os.environ.get('PYTEST_XDIST_WORKER_COUNT', '1'))
    if workers > 1:
        threads = max(1, (os.cpu_count() or 1) // workers)
        torch.set_num_threads(threads)
        os.environ['OMP_NUM_THREADS'] = os.environ['MKL_NUM_THREADS'] = str(threads)


_share_the_cores_between_workers()


def _expected_seconds(item) -> float:
    marker = item.get_closest_marker('slow')
    return 0.0 if marker is None else marker.kwargs.get('seconds', 30.0)


def pytest_collection_modifyitems(items) -> None:
    """The tests marked ``slow`` first, longest first (``slow(seconds=...)``), so that the
    workers start them early and finish together instead of one waiting for the other's
    last long test."""
    items.sort(key=_expected_seconds, reverse=True)


#: The released variants (our names).
VARIANT_NAMES = ('litehrnet_18', 'litehrnet_30', 'naive_litehrnet_18',
                 'wider_naive_litehrnet_18')


def randomize_(model: nn.Module, seed: int = 0) -> nn.Module:
    """Fills every parameter and norm statistic with reproducible non-trivial values."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, _BatchNorm):
                module.weight.copy_(1 + 0.2 * torch.randn(module.weight.shape, generator=gen))
                module.bias.copy_(0.1 * torch.randn(module.bias.shape, generator=gen))
                module.running_mean.copy_(
                    0.1 * torch.randn(module.running_mean.shape, generator=gen))
                module.running_var.copy_(
                    0.5 + torch.rand(module.running_var.shape, generator=gen))
            elif isinstance(module, nn.Conv2d):
                fan_in = module.weight[0].numel()
                module.weight.copy_(
                    torch.randn(module.weight.shape, generator=gen) * (2 / fan_in) ** 0.5)
                if module.bias is not None:
                    module.bias.copy_(0.1 * torch.randn(module.bias.shape, generator=gen))
    return model


def relative_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """``||actual - expected|| / ||expected||`` (L2, float64, on the CPU)."""
    actual, expected = actual.detach().cpu().double(), expected.detach().cpu().double()
    return ((actual - expected).norm() / expected.norm()).item()


@torch.no_grad()
def calibrate_(model: nn.Module, shape=(4, 3, 128, 96), steps: int = 3) -> nn.Module:
    """Sets every norm layer's running statistics to those of random inputs, as training
    would, so that eval-mode activations have a realistic scale; returns it in eval mode."""
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            module.reset_running_stats()
            module.momentum = None  # cumulative average
    model.train()
    gen = torch.Generator().manual_seed(123)
    for _ in range(steps):
        model(torch.randn(*shape, generator=gen))
    return model.eval()


def random_pose_model(**cfg_options) -> nn.Module:
    """MMPose's top-down model of :data:`COCO_LITEHRNET_18` on the CPU, with fixed random
    weights and calibrated norm statistics, keeping heatmaps in its predictions;
    ``cfg_options`` (dotted keys) as ``init_model``'s."""
    from mmpose.apis import init_model
    model = init_model(COCO_LITEHRNET_18, None, device='cpu', cfg_options={
        'model.test_cfg.output_heatmaps': True, **cfg_options})
    calibrate_(randomize_(model.backbone, seed=6))
    randomize_(model.head, seed=7)
    return model


def random_image(seed: int = 0):
    """A 240x180 random RGB uint8 image (numpy), as ``inference_topdown`` takes."""
    import numpy as np
    return (np.random.default_rng(seed).random((240, 180, 3)) * 255).astype(np.uint8)


def mmpose_backbone(name: str) -> nn.Module:
    """MMPose 1.3.2's own LiteHRNet for variant ``name`` (the oracle)."""
    from mmpose.models.backbones.litehrnet import LiteHRNet as MMPoseLiteHRNet
    return MMPoseLiteHRNet(variant_extra(name))


def state_of(model: nn.Module) -> Dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.fixture(params=VARIANT_NAMES)
def variant(request) -> str:
    return request.param


def _float32_cuda(monkeypatch) -> torch.device:
    """The GPU with TF32 off (PyTorch lets cuDNN use it by default on recent cards): the
    comparisons with the CPU are float32 ones."""
    monkeypatch.setattr(torch.backends.cudnn, 'allow_tf32', False)
    monkeypatch.setattr(torch.backends.cuda.matmul, 'allow_tf32', False)
    return torch.device('cuda')


@pytest.fixture(params=['cpu', pytest.param('cuda', marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason='no CUDA device'))])
def device(request, monkeypatch) -> torch.device:
    """Each device the test can run on (the GPU: skipped, and counted so, without one)."""
    return _float32_cuda(monkeypatch) if request.param == 'cuda' else torch.device('cpu')


@pytest.fixture
def cuda(monkeypatch) -> torch.device:
    """The GPU, for tests that only mean something there; skipped without one."""
    if not torch.cuda.is_available():
        pytest.skip('no CUDA device')
    return _float32_cuda(monkeypatch)


def run_in_process(config: str, options: List[str], work_dir: str,
                   checkpoint: Optional[str] = None) -> Dict[str, float]:
    """What ``mim train`` (or, with ``checkpoint``, ``mim test``) does with ``config`` and
    ``--cfg-options options``, in this process (no interpreter start, no imports): returns
    the last validation's metrics (training) or the test metrics."""
    import argparse
    import uuid

    from mmengine.config import Config, DictAction
    from mmengine.runner import Runner
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(parser.parse_args(['--cfg-options', *options]).cfg_options)
    cfg.work_dir, cfg.launcher = work_dir, 'none'
    # A name of its own: MMEngine keeps one message hub and visualizer per name.
    cfg.experiment_name = f'{osp.basename(config)[:-3]}_{uuid.uuid4().hex[:8]}'
    # MMEngine formats the config text with yapf at every log and checkpoint save (~1 s a
    # time, a third of a short training run here): the same text each time, so the same
    # result from a memo.
    with mock.patch('mmengine.config.config.FormatCode', _memo_format_code):
        if checkpoint is not None:
            cfg.load_from = checkpoint
            return Runner.from_cfg(cfg).test()
        runner = Runner.from_cfg(cfg)
        runner.train()
    return {key[len('val/'):]: value.current()
            for key, value in runner.message_hub.log_scalars.items()
            if key.startswith('val/')}


_FORMATTED: Dict[str, Tuple[str, bool]] = {}


def _memo_format_code(text: str, **kwargs) -> Tuple[str, bool]:
    """yapf's ``FormatCode`` remembered by its arguments."""
    from yapf.yapflib.yapf_api import FormatCode
    key = repr((text, sorted(kwargs.items())))
    if key not in _FORMATTED:
        _FORMATTED[key] = FormatCode(text, **kwargs)
    return _FORMATTED[key]


def run_tool(tool: str, *argv: str) -> Tuple[Optional[int], str]:
    """``python tools/<tool>.py ARGV`` in this process (no interpreter start, no imports):
    its exit code (``main()``'s return or ``SystemExit``'s) and what it printed."""
    path = osp.join(ROOT, 'tools', f'{tool}.py')
    spec = importlib.util.spec_from_file_location(f'tools_{tool}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    printed = io.StringIO()
    with mock.patch.object(sys, 'argv', [path, *argv]), contextlib.redirect_stdout(printed):
        try:
            code = module.main()
        except SystemExit as exit_info:
            code = exit_info.code
    return code, printed.getvalue()


def run_python(code: str) -> str:
    """Runs ``code`` in a fresh interpreter from the repo root; returns its stdout."""
    result = subprocess.run([sys.executable, '-c', textwrap.dedent(code)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.fixture(scope='session')
def tiny_data(tmp_path_factory) -> str:
    """The synthetic pose data, 6 training and 3 val images (and as many crowded ones)."""
    out = str(tmp_path_factory.mktemp('synthetic_pose'))
    subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'make_synthetic_pose.py'),
                    '--out', out, '--train', '6', '--val', '3'], check=True,
                   capture_output=True)
    return out


#: Per dataset family of the tiny data: annotation file and image folder, by split.
DATA_FILES = {'coco': ('coco/person_keypoints_{}.json', 'images/{}/'),
              'mpii': ('mpii/mpii_{}.json', 'images/{}/'),
              'hand': ('coco/coco_wholebody_{}.json', 'images/{}/'),
              'wholebody': ('coco/coco_wholebody_{}.json', 'images/{}/'),
              'crowd': ('coco/crowd_keypoints_{}.json', 'images/crowd_{}/')}
#: The bottom-up configs' input size in the tests, and the cfg-options that set it (in the
#: codec's three copies: the head's decoder and the two pipelines' steps).
BOTTOMUP_SIZE = ['model.head.decoder.input_size=(128,128)',
                 'model.head.decoder.heatmap_size=(32,32)',
                 'train_dataloader.dataset.pipeline.1.input_size=(128,128)',
                 'train_dataloader.dataset.pipeline.3.encoder.input_size=(128,128)',
                 'train_dataloader.dataset.pipeline.3.encoder.heatmap_size=(32,32)',
                 'val_dataloader.dataset.pipeline.1.input_size=(128,128)',
                 'test_dataloader.dataset.pipeline.1.input_size=(128,128)']


def family(config: str) -> str:
    """The dataset family a pose config reads: coco, mpii, hand, wholebody or crowd
    (bottom-up)."""
    if 'hand_2d_keypoint' in config:
        return 'hand'
    if 'wholebody_2d_keypoint' in config:
        return 'wholebody'
    if '/dekr/' in config or '/cid/' in config:
        return 'crowd'
    return 'mpii' if 'mpii' in osp.basename(config) else 'coco'


def data_options(root: str, config: str) -> List[str]:
    """``--cfg-options`` that point a config at the tiny data, one short epoch (bottom-up:
    at 128x128, testing one image at a time as DEKR must)."""
    data = family(config)
    annotations, images = DATA_FILES[data]
    opts = ['train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
            'default_hooks.logger.interval=1']
    for split, loader in (('train', 'train_dataloader'), ('val', 'val_dataloader'),
                          ('val', 'test_dataloader')):
        batch = 1 if data == 'crowd' and split == 'val' else 4
        opts += [f'{loader}.dataset.data_root={root}/',
                 f'{loader}.dataset.ann_file={annotations.format(split)}',
                 f'{loader}.dataset.data_prefix.img={images.format(split)}',
                 f'{loader}.batch_size={batch}', f'{loader}.num_workers=0',
                 f'{loader}.persistent_workers=False']
        if split == 'val' and data == 'mpii':
            opts.append(f'{loader}.dataset.headbox_file={root}/mpii/mpii_gt_val.mat')
        elif split == 'val' and data in ('coco', 'wholebody'):
            opts.append(f'{loader}.dataset.bbox_file=None')
    if data in ('coco', 'crowd', 'wholebody'):
        for evaluator in ('val_evaluator', 'test_evaluator'):
            opts.append(f'{evaluator}.ann_file={root}/{annotations.format("val")}')
    return opts + (BOTTOMUP_SIZE if data == 'crowd' else [])
