"""The MMPose pipeline through ``mim``, as a user runs it, on tiny synthetic data."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys
from typing import Dict, Optional

import numpy as np
import pytest
import torch
from conftest import (
    COCO_LITEHRNET_18,
    HAND_LITEHRNET_18,
    POSE_CONFIGS,
    POSE_ZOO_CONFIGS,
    ROOT,
    calibrate_,
    data_options,
    family,
    randomize_,
    run_in_process,
)

MIM = osp.join(osp.dirname(sys.executable), 'mim')
SYNTHETIC = osp.join(POSE_CONFIGS, 'synthetic',
                     'td-hm_litehrnet-18_1xb32-12e_synthetic-coco-96x72.py')
BODY_CONFIGS = osp.join(ROOT, 'configs', 'body_2d_keypoint')
#: Configs that go through ``mim train`` and ``mim test`` as a user runs them: one per
#: dataset family and block type, every recipe with another head or codec (UDP, DARK,
#: SimCC, RLE, RTMPose's head) and bottom-up DEKR (at 128x128). Every other config trains
#: one epoch with validation in this process, which proves the same wiring without an
#: interpreter start.
MIM_ROUND_TRIP = (
    osp.join(POSE_CONFIGS, 'coco', 'td-hm_litehrnet-18_8xb64-210e_coco-256x192.py'),
    osp.join(POSE_CONFIGS, 'mpii', 'td-hm_naive-litehrnet-18_8xb64-210e_mpii-256x256.py'),
    osp.join(POSE_CONFIGS, 'coco', 'td-hm_litehrnet-18_udp-8xb64-210e_coco-256x192.py'),
    osp.join(POSE_CONFIGS, 'coco', 'td-hm_litehrnet-18_dark-8xb64-210e_coco-256x192.py'),
    osp.join(BODY_CONFIGS, 'simcc', 'coco', 'simcc_litehrnet-18_8xb64-210e_coco-256x192.py'),
    osp.join(BODY_CONFIGS, 'topdown_regression', 'coco',
             'td-reg_litehrnet-18_rle-8xb64-210e_coco-256x192.py'),
    osp.join(BODY_CONFIGS, 'rtmpose', 'coco', 'rtmpose_litehrnet-18_8xb256-420e_coco-256x192.py'),
    osp.join(BODY_CONFIGS, 'dekr', 'coco', 'dekr_litehrnet-18_8xb10-140e_coco-512x512.py'),
)


def mim(*args: str, cwd: str = ROOT, env: Optional[Dict[str, str]] = None) -> str:
    """Runs ``mim ARGS`` (with ``env`` added to this process's environment)."""
    result = subprocess.run([MIM, *args], cwd=cwd, capture_output=True, text=True,
                            timeout=900, env={**os.environ, **(env or {})})
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    return output


def _metric(config: str) -> str:
    return {'coco': 'coco/AP', 'crowd': 'coco/AP', 'wholebody': 'coco-wholebody/AP'}.get(
        family(config), 'PCK')


@pytest.mark.slow
@pytest.mark.parametrize('config', [c for c in POSE_ZOO_CONFIGS if c not in MIM_ROUND_TRIP],
                         ids=lambda p: osp.basename(p)[:-3])
def test_every_config_trains_and_validates(config, tiny_data, tmp_path):
    """One epoch of every other config's recipe (its pipeline, codec, head, optimizer and
    evaluator) on the tiny data, validated; the synthetic demo's config is tested with
    the trained checkpoint too, as the demo does."""
    opts = data_options(tiny_data, config)
    metrics = run_in_process(config, opts, str(tmp_path))
    assert _metric(config) in metrics and np.isfinite(metrics[_metric(config)]), metrics
    assert osp.exists(tmp_path / 'epoch_1.pth')
    if config == SYNTHETIC:
        metrics = run_in_process(config, opts, str(tmp_path), str(tmp_path / 'epoch_1.pth'))
        assert 0 <= metrics['coco/AP'] <= 1, metrics


@pytest.mark.slow(seconds=50)
@pytest.mark.parametrize('config', MIM_ROUND_TRIP, ids=lambda p: osp.basename(p)[:-3])
def test_mim_train_then_test(config, tiny_data, tmp_path):
    """One epoch through ``mim train``, then ``mim test`` of its checkpoint. The COCO
    model is trained as a user's own project does it, from a directory outside this
    repository: a config there inherits MMPose's through ``mmpose::``, imports this
    package with ``custom_imports`` and changes the backbone (``frozen_stages``); our
    config then tests the checkpoint from that directory."""
    work, metric = str(tmp_path), _metric(config)
    train_config, cwd = config, ROOT
    if config == MIM_ROUND_TRIP[0]:
        train_config, cwd = str(tmp_path / 'my_litehrnet.py'), work
        with open(train_config, 'w') as f:
            f.write("_base_ = ['mmpose::body_2d_keypoint/topdown_heatmap/coco/"
                    "td-hm_litehrnet-18_8xb64-210e_coco-256x192.py']\n"
                    "custom_imports = dict(imports=['mmpose_litehrnet'], "
                    "allow_failed_imports=False)\n"
                    "model = dict(backbone=dict(frozen_stages=1))\n")
    out = mim('train', 'mmpose', train_config, '--gpus', '0', '--work-dir', work,
              '--cfg-options', *data_options(tiny_data, config), cwd=cwd)
    assert 'Epoch(val) [1]' in out and metric in out
    assert ('frozen_stages=1' in out) == (train_config != config)
    out = mim('test', 'mmpose', config, '--checkpoint', osp.join(work, 'epoch_1.pth'),
              '--work-dir', work, '--cfg-options', *data_options(tiny_data, config), cwd=cwd)
    assert 'Epoch(test)' in out and metric in out
    assert 'do not match exactly' not in out


def _write_released_checkpoints(directory: str,
                                config: str = COCO_LITEHRNET_18) -> Dict[str, str]:
    """MMPose's built-in model of ``config`` with fixed random weights (norm statistics
    calibrated), saved in the 1.x layout and in the 0.x / authors' layout
    (``keypoint_head.*``, an mmcv-era ``meta``)."""
    from mmengine.config import Config
    from mmpose.registry import MODELS

    cfg = Config.fromfile(config)
    cfg.model.backbone.type = 'MMPoseLiteHRNet'
    model = randomize_(MODELS.build(cfg.model), seed=7)
    calibrate_(model.backbone)  # activations of a trained model's scale, not ~1e8
    state = {k: v for k, v in model.state_dict().items()
             if not k.startswith('data_preprocessor')}
    paths = {'1.x': osp.join(directory, 'released_1x.pth'),
             '0.x': osp.join(directory, 'released_0x.pth')}
    torch.save({'meta': {'mmengine_version': '0.10.7', 'epoch': 210}, 'state_dict': state},
               paths['1.x'])
    old = {k.replace('head.final_layer', 'keypoint_head.final_layer'): v
           for k, v in state.items()}
    torch.save({'meta': {'mmcv_version': '1.3.8', 'config': 'model = dict(...)',
                         'epoch': 210}, 'state_dict': old}, paths['0.x'])
    return paths


def _mmpose_config(ours: str) -> str:
    """MMPose's own config of the same name and path as ``ours``."""
    from mmengine.utils import get_installed_path
    return osp.join(get_installed_path('mmpose'), '.mim',
                    osp.relpath(ours, ROOT))


def _predictions(prefix: str) -> np.ndarray:
    with open(prefix + '.keypoints.json') as f:
        results = sorted(json.load(f), key=lambda r: (r['image_id'], r['score']))
    return np.array([r['keypoints'] for r in results])


@pytest.mark.slow(seconds=50)
def test_released_checkpoints_load_strictly_and_predict_like_mmpose(tiny_data, tmp_path,
                                                                    capfd):
    """MMPose's own config (a fresh ``mim test``, without this package: the built-in
    model) predicts the oracle's keypoints; ours gives them from the 1.x layout through
    ``mim test``, and from the 0.x layout and in deploy form in this process."""
    paths = _write_released_checkpoints(str(tmp_path))
    ours = COCO_LITEHRNET_18
    theirs = _mmpose_config(ours)
    opts = data_options(tiny_data, ours)
    prefix = str(tmp_path / 'mmpose')
    mim('test', 'mmpose', theirs, '--checkpoint', paths['1.x'], '--work-dir', str(tmp_path),
        '--cfg-options', *opts, f'test_evaluator.outfile_prefix={prefix}')
    expected = _predictions(prefix)
    assert expected.size > 0
    prefix = str(tmp_path / 'ours_1.x')
    out = mim('test', 'mmpose', ours, '--checkpoint', paths['1.x'], '--work-dir', str(tmp_path),
              '--cfg-options', *opts, f'test_evaluator.outfile_prefix={prefix}')
    assert 'do not match exactly' not in out and 'missing keys' not in out
    np.testing.assert_allclose(_predictions(prefix), expected, rtol=0, atol=1e-4)
    capfd.readouterr()
    prefix = str(tmp_path / 'ours_0.x')
    run_in_process(ours, opts + [f'test_evaluator.outfile_prefix={prefix}'],
                   str(tmp_path / 'in_process'), paths['0.x'])
    out = ''.join(capfd.readouterr())
    assert 'Load checkpoint from' in out
    assert 'do not match exactly' not in out and 'missing keys' not in out
    np.testing.assert_allclose(_predictions(prefix), expected, rtol=0, atol=1e-4)
    # The deploy form (SwitchToDeployHook): every norm folded, the same keypoints, and
    # scores (heatmap maxima) equal up to float rounding.
    config = tmp_path / 'deploy_test.py'
    config.write_text(f"_base_ = [{ours!r}]\n"
                      "custom_hooks = [dict(type='SwitchToDeployHook')]\n")
    prefix = str(tmp_path / 'ours_deploy')
    run_in_process(str(config), opts + [f'test_evaluator.outfile_prefix={prefix}'],
                   str(tmp_path / 'in_process'), paths['1.x'])
    out = ''.join(capfd.readouterr())
    norms = _count_norms(ours)
    assert norms > 0 and f'testing the deploy form, {norms} of {norms} batch norms folded' in out
    actual = _predictions(prefix).reshape(-1, 3)
    np.testing.assert_allclose(actual[:, :2], expected.reshape(-1, 3)[:, :2], rtol=0, atol=1e-3)
    np.testing.assert_allclose(actual[:, 2], expected.reshape(-1, 3)[:, 2], rtol=1e-3)


@pytest.mark.slow(seconds=50)
def test_released_hand_checkpoint_predicts_like_mmpose(tiny_data, tmp_path):
    """The hand model: a checkpoint in the released (2021, ``keypoint_head.*``) layout
    loads strictly through our config and ``mim test`` predicts on COCO-WholeBody hands
    exactly what MMPose's own config (a fresh ``mim test``: the built-in model) does."""
    import mmengine
    checkpoint = _write_released_checkpoints(str(tmp_path), HAND_LITEHRNET_18)['0.x']
    opts = data_options(tiny_data, HAND_LITEHRNET_18)
    predictions = {}
    for name, config in (('mmpose', _mmpose_config(HAND_LITEHRNET_18)),
                         ('ours', HAND_LITEHRNET_18)):
        dump = str(tmp_path / f'{name}.pkl')
        out = mim('test', 'mmpose', config, '--checkpoint', checkpoint, '--work-dir',
                  str(tmp_path / name), '--dump', dump, '--cfg-options', *opts)
        assert 'PCK' in out and 'AUC' in out and 'EPE' in out
        assert 'do not match exactly' not in out and 'missing keys' not in out
        samples = sorted(mmengine.load(dump), key=lambda s: s['id'])
        predictions[name] = np.stack([s['pred_instances']['keypoints'][0] for s in samples])
    assert predictions['ours'].shape[1:] == (21, 2) and len(predictions['ours']) >= 4
    np.testing.assert_array_equal(predictions['ours'], predictions['mmpose'])


def _count_norms(config: str) -> int:
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS
    from torch.nn.modules.batchnorm import _BatchNorm
    init_default_scope('mmpose')
    model = MODELS.build(Config.fromfile(config).model)
    return sum(isinstance(m, _BatchNorm) for m in model.modules())


@pytest.mark.slow(seconds=60)
def test_resume_ends_with_the_same_weights(tiny_data, tmp_path):
    """Training 2 epochs at once, and resuming that run's epoch-1 checkpoint with
    ``--resume CHECKPOINT`` in another work directory, give identical epoch-2 weights.

    Random augmentation is switched off: MMEngine seeds dataloader workers without the
    epoch, so a resumed run would replay epoch 1's augmentations; everything else (order,
    optimizer and scheduler state, message hub) must carry over exactly. MKL runs in its
    strict reproducibility mode: by default its results may depend on memory alignment
    (on an Intel Xeon two identical fresh runs differed in the last bits of 4 weights)."""
    strict = dict(MKL_CBWR='AUTO,STRICT')
    config = tmp_path / 'deterministic.py'
    config.write_text(
        f"_base_ = ['{SYNTHETIC}']\n"
        "codec = dict(type='MSRAHeatmap', input_size=(72, 96), heatmap_size=(18, 24),\n"
        "             sigma=1.5)\n"
        "train_dataloader = dict(dataset=dict(pipeline=[\n"
        "    dict(type='LoadImage'), dict(type='GetBBoxCenterScale'),\n"
        "    dict(type='TopdownAffine', input_size=codec['input_size']),\n"
        "    dict(type='GenerateTarget', encoder=codec), dict(type='PackPoseInputs')]))\n")
    opts = data_options(tiny_data, str(config)) + [
        'train_cfg.val_interval=5', 'train_cfg.max_epochs=2',
        'default_hooks.checkpoint.interval=1']
    once, twice = str(tmp_path / 'once'), str(tmp_path / 'twice')
    mim('train', 'mmpose', str(config), '--gpus', '0', '--work-dir', once, '--cfg-options',
        *opts, env=strict)
    out = mim('train', 'mmpose', str(config), '--gpus', '0', '--work-dir', twice, '--resume',
              osp.join(once, 'epoch_1.pth'), '--cfg-options', *opts, env=strict)
    assert 'resumed epoch: 1' in out
    from mmpose_litehrnet.checkpoint import load_from_local_safely
    a = load_from_local_safely(osp.join(once, 'epoch_2.pth'))
    b = load_from_local_safely(osp.join(twice, 'epoch_2.pth'))
    assert a['meta']['iter'] == b['meta']['iter'] > 0
    for key, value in a['state_dict'].items():
        assert torch.equal(value, b['state_dict'][key]), key


@pytest.mark.slow
def test_inferencer_and_image_demo(tiny_data, tmp_path):
    from mmpose.apis import MMPoseInferencer
    ckpt = _write_released_checkpoints(str(tmp_path))['1.x']
    config = osp.join(POSE_CONFIGS, 'coco', 'td-hm_litehrnet-18_8xb64-210e_coco-256x192.py')
    image = sorted(glob.glob(osp.join(tiny_data, 'images', 'val', '*.jpg')))[0]
    inferencer = MMPoseInferencer(pose2d=config, pose2d_weights=ckpt, det_model='whole_image',
                                  device='cpu')
    result = next(inferencer(image, vis_out_dir=str(tmp_path / 'vis')))
    keypoints = np.array(result['predictions'][0][0]['keypoints'])
    assert keypoints.shape == (17, 2)
    assert os.listdir(tmp_path / 'vis')
    out_file = str(tmp_path / 'demo.png')
    run = subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'image_demo.py'), config,
                          ckpt, image, '--bbox', '0', '0', '100', '120', '--out', out_file],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    assert '1 people, 17 keypoints each' in run.stdout and osp.getsize(out_file) > 1000
