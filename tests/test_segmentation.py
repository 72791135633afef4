"""Lite-HRNet in MMSegmentation 1.x: registry scopes, configs, the multi-resolution path."""
import glob
import os.path as osp
import re
import subprocess
import sys
import textwrap

import pytest
import torch
from conftest import ROOT, run_in_process, run_python
from mmengine.config import Config

from mmpose_litehrnet import LiteHRNet
from mmpose_litehrnet.analysis.complexity import build_model_from_config
from mmpose_litehrnet.workflow import save_initial_checkpoint

SEG_CONFIGS = osp.join(ROOT, 'configs', 'seg', 'litehrnet')
CITYSCAPES = sorted(glob.glob(osp.join(SEG_CONFIGS, '*.py')))
TOY = osp.join(SEG_CONFIGS, 'synthetic',
               'fcn_litehrnet-18_1xb4-300i_synthetic-cityscapes-128x256.py')
MIM = osp.join(osp.dirname(sys.executable), 'mim')


SCOPES = '''
from mmengine.registry import DefaultScope, init_default_scope
import mmpose_litehrnet
def build(scope, cfg):
    init_default_scope(scope)
    registry = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
    with DefaultScope.overwrite_default_scope(scope):
        return registry.build(cfg)
for scope in ('mmseg', 'mmpose', 'mmseg'):
    assert type(build(scope, dict(type='LiteHRNet'))) is mmpose_litehrnet.LiteHRNet
    assert type(build(scope, dict(type='NaiveLiteHRNet'))) is mmpose_litehrnet.NaiveLiteHRNet
assert type(build('mmseg', dict(type='mmpose.LiteHRNet'))) is mmpose_litehrnet.LiteHRNet
assert type(build('mmpose', dict(type='mmseg.LiteHRNet'))) is mmpose_litehrnet.LiteHRNet
from mmseg.models import HRNet, FCNHead, EncoderDecoder
assert type(build('mmseg', dict(type='FCNHead', in_channels=8, channels=8,
                                 num_classes=3))) is FCNHead
from mmseg.registry import MODELS
assert MODELS.get('HRNet') is HRNet and MODELS.get('EncoderDecoder') is EncoderDecoder
print('OK')
'''


@pytest.mark.parametrize('first', ['', 'import mmseg.models', 'import mmpose.models'])
def test_both_scopes_in_fresh_processes(first):
    assert run_python(first + '\n' + SCOPES).splitlines()[-1] == 'OK'


def test_both_scopes_in_this_process():
    exec(compile(textwrap.dedent(SCOPES).replace("print('OK')", ''), 'scopes', 'exec'), {})


def test_package_does_not_need_mmseg():
    out = run_python('''
    import sys
    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.split('.')[0] == 'mmseg':
                raise ImportError('blocked')
    sys.meta_path.insert(0, Block())
    import mmpose_litehrnet
    from mmpose.registry import MODELS
    print(MODELS.get('LiteHRNet') is mmpose_litehrnet.LiteHRNet, 'mmseg' in sys.modules)
    ''')
    assert out.strip() == 'True False'


@pytest.mark.parametrize('config', CITYSCAPES, ids=lambda p: osp.basename(p)[:-3])
def test_cityscapes_config_builds_and_runs_at_512x1024(config):
    cfg = Config.fromfile(config)
    assert cfg.default_scope == 'mmseg'
    assert cfg.model.decode_head.num_classes == 19
    assert cfg.model.decode_head.align_corners is False
    assert cfg.model.backbone.norm_cfg['type'] == 'SyncBN'
    assert cfg.train_cfg.max_iters == 160000 and cfg.train_dataloader.batch_size == 2
    assert cfg.optim_wrapper.optimizer.lr == 0.01
    model = build_model_from_config(cfg).eval()
    assert isinstance(model.backbone, LiteHRNet)
    assert model.decode_head.in_channels == sum(model.backbone.out_channels)  # concat
    with torch.no_grad():
        logits = model(torch.randn(1, 3, 512, 1024), None, mode='tensor')
    assert logits.shape == (1, 19, 128, 256)


@pytest.mark.parametrize('hw', [(512, 1024), (250, 190), (33, 65)])
def test_multi_resolution_outputs_feed_the_fcn_head(hw):
    cfg = Config.fromfile(CITYSCAPES[1] if 'iterative' in CITYSCAPES[0] else CITYSCAPES[0])
    model = build_model_from_config(cfg).eval()
    x = torch.randn(1, 3, *hw)
    with torch.no_grad():
        feats = model.extract_feat(x)
        logits = model(x, None, mode='tensor')
    h, w = -(-hw[0] // 4), -(-hw[1] // 4)
    assert [f.shape[1] for f in feats] == [40, 80, 160, 320]
    assert [tuple(f.shape[-2:]) for f in feats] == [
        (-(-h // 2**k), -(-w // 2**k)) for k in range(4)]
    assert logits.shape == (1, 19, h, w)


def test_gradients_reach_every_parameter_of_the_segmentor():
    cfg = Config.fromfile(TOY)
    model = build_model_from_config(cfg).train()
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    samples = []
    for _ in range(2):
        sample = SegDataSample(metainfo=dict(img_shape=(64, 128), pad_shape=(64, 128)))
        sample.gt_sem_seg = PixelData(data=torch.randint(0, 19, (1, 64, 128)))
        samples.append(sample)
    losses = model(torch.randn(2, 3, 64, 128), samples, mode='loss')
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert missing == []


def _miou(output: str) -> float:
    found = re.findall(r'mIoU: ([0-9.]+)', output)
    assert found, output[-3000:]
    return float(found[-1])


@pytest.mark.slow(seconds=120)
def test_mim_train_and_test_learn_the_synthetic_scenes(tmp_path, capfd):
    data = str(tmp_path / 'data')
    subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'make_synthetic_cityscapes.py'),
                    '--out', data, '--train', '24', '--val', '4'], check=True,
                   capture_output=True)
    # The toy config at half its size (64x128 crops of scenes resized to 128x256): a
    # quarter of the pixels per iteration, and 60 iterations still lift the mIoU from
    # ~0 to ~30 here (0.12 -> 31.7; 120 iterations at 128x256 took 4x the time).
    opts = [f'train_dataloader.dataset.data_root={data}',
            f'val_dataloader.dataset.data_root={data}',
            f'test_dataloader.dataset.data_root={data}',
            'model.data_preprocessor.size=(64,128)',
            'train_dataloader.dataset.pipeline.2.scale=(256,128)',
            'train_dataloader.dataset.pipeline.3.crop_size=(64,128)',
            'val_dataloader.dataset.pipeline.1.scale=(256,128)',
            'test_dataloader.dataset.pipeline.1.scale=(256,128)',
            'train_cfg.max_iters=60', 'train_cfg.val_interval=60',
            'param_scheduler.0.end=60', 'default_hooks.checkpoint.interval=30',
            'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
            'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
            'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False']

    def mim(*args, extra=()):
        result = subprocess.run([MIM, *args, '--cfg-options', *opts, *extra], cwd=ROOT,
                                capture_output=True, text=True, timeout=1200)
        assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
        return result.stdout + result.stderr

    work = str(tmp_path / 'work')
    untrained = str(tmp_path / 'untrained.pth')
    save_initial_checkpoint(TOY, untrained)
    before = run_in_process(TOY, opts, work, untrained)['mIoU']
    # Stop half-way, then resume: MMEngine's message hub and optimizer state load through
    # the safe loader on torch >= 2.6.
    mim('train', 'mmseg', TOY, '--gpus', '0', '--work-dir', work,
        extra=['train_cfg.max_iters=30'])
    out = mim('train', 'mmseg', TOY, '--gpus', '0', '--work-dir', work, '--resume')
    assert 'resumed epoch: 0, iter: 30' in out
    trained = osp.join(work, 'iter_60.pth')
    after = _miou(mim('test', 'mmseg', TOY, '--checkpoint', trained, '--work-dir', work))
    assert after > before + 20, (before, after)
    # The deploy form from an MMSeg config (the hook is in MMSeg's registry too): the
    # same mIoU up to pixels that float rounding may flip.
    config = tmp_path / 'deploy_test.py'
    config.write_text(f"_base_ = [{TOY!r}]\n"
                      "custom_hooks = [dict(type='SwitchToDeployHook')]\n")
    capfd.readouterr()
    deployed = run_in_process(str(config), opts, work, trained)['mIoU']
    assert 'testing the deploy form' in ''.join(capfd.readouterr())
    assert abs(deployed - after) <= 0.05, (deployed, after)
