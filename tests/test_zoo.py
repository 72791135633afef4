"""The model-zoo configs: parameter counts, the paper's FLOPs table, the metafiles."""
import glob
import os
import os.path as osp
import re
import shutil
import subprocess
import sys

import pytest
import torch
import yaml
from conftest import POSE_CONFIGS, POSE_ZOO_CONFIGS, ROOT, mmpose_backbone, run_tool
from mmengine.config import Config

from mmpose_litehrnet import LiteHRNet
from mmpose_litehrnet.analysis import count_paper_flops, format_mega
from mmpose_litehrnet.analysis.complexity import build_model_from_config, config_input_size
from mmpose_litehrnet.deploy import TensorForward

#: Every pose config of the zoo (body and hand), by name.
POSE_ZOO = {osp.basename(p)[:-3]: p for p in POSE_ZOO_CONFIGS}


def _config(name: str) -> Config:
    return Config.fromfile(POSE_ZOO[name])


# Published parameter counts of the full top-down model (17 keypoints) and FLOPs in the
# paper's convention (the authors' README; Wider-Naive MPII: see PAPER_DISCREPANCIES);
# the hand model (not in the paper): Lite-HRNet-18 with 21 heatmaps, 256x256.
ZOO = [
    ('td-hm_litehrnet-18_8xb64-210e_coco-256x192', 1_130_769, '205.2M'),
    ('td-hm_litehrnet-18_8xb32-210e_coco-384x288', 1_130_769, '461.6M'),
    ('td-hm_litehrnet-30_8xb64-210e_coco-256x192', 1_763_717, '319.2M'),
    ('td-hm_litehrnet-30_8xb32-210e_coco-384x288', 1_763_717, '717.8M'),
    ('td-hm_naive-litehrnet-18_8xb64-210e_coco-256x192', 760_365, '194.8M'),
    ('td-hm_wider-naive-litehrnet-18_8xb64-210e_coco-256x192', 1_318_625, '311.1M'),
    ('td-hm_litehrnet-18_8xb64-210e_mpii-256x256', 1_130_769 - 41, '273.4M'),
    ('td-hm_litehrnet-30_8xb64-210e_mpii-256x256', 1_763_717 - 41, '425.3M'),
    ('td-hm_naive-litehrnet-18_8xb64-210e_mpii-256x256', 760_365 - 31, '259.6M'),
    # The authors' README says 418.7M; their own counting rules give 414.6M.
    ('td-hm_wider-naive-litehrnet-18_8xb64-210e_mpii-256x256', 1_318_625 - 41, '414.6M'),
    ('td-hm_litehrnet-w18_8xb32-210e_coco-wholebody-hand-256x256', 1_130_769 + 4 * 41,
     '274.2M'),
]
# The recipes with MMPose's other heads (no published numbers: ours, pinned). UDP and DARK
# change only the codec; SimCC adds its linear layers (17 x 3072 x (384 + 512) MACs),
# RTMPose's head a 7x7 convolution and its gated attention unit, RLE reads the pooled
# 1/32 branch (the heatmap head's 1x1 convolution gone).
RECIPES = [
    ('td-hm_litehrnet-18_udp-8xb64-210e_coco-256x192', 1_130_769, '205.2M'),
    ('td-hm_litehrnet-18_dark-8xb64-210e_coco-256x192', 1_130_769, '205.2M'),
    ('simcc_litehrnet-18_8xb64-210e_coco-256x192', 3_884_177, '249.9M'),
    ('td-reg_litehrnet-18_rle-8xb64-210e_coco-256x192', 1_194_804, '203.2M'),
    ('rtmpose_litehrnet-18_8xb256-420e_coco-256x192', 2_605_971, '324.2M'),
    # COCO-WholeBody: the heatmap head with 133 outputs.
    ('td-hm_litehrnet-18_8xb64-210e_coco-wholebody-256x192', 1_135_525, '219.2M'),
    # Bottom-up at 512x512: DEKR's head (its deformable convolutions counted as
    # convolutions) and CID's read the four branches concatenated (320 channels).
    ('dekr_litehrnet-18_8xb10-140e_coco-512x512', 1_339_798, '4372.8M'),
    ('dekr_litehrnet-30_8xb10-140e_coco-512x512', 1_972_746, '4980.1M'),
    ('cid_litehrnet-18_8xb20-140e_coco-512x512', 1_169_383, '2607.9M'),
]


@pytest.mark.parametrize('name,params,flops', ZOO + RECIPES)
def test_config_params_and_paper_flops(name, params, flops):
    cfg = _config(name)
    model = build_model_from_config(cfg)
    assert isinstance(model.backbone, LiteHRNet)
    assert sum(p.numel() for p in model.parameters()) == params
    assert format_mega(count_paper_flops(TensorForward(model), (1, 3, *config_input_size(cfg)))) \
        == flops


def test_paper_flops_are_the_same_on_mmpose_model():
    """The counter gives MMPose's own model the same count as ours (same structure)."""
    for name in ('litehrnet_18', 'naive_litehrnet_18'):
        ours = count_paper_flops(LiteHRNet(name), (1, 3, 256, 192))
        theirs = count_paper_flops(mmpose_backbone(name), (1, 3, 256, 192))
        assert ours == theirs


def test_paper_flops_count_each_module_once_for_its_last_call():
    relu = torch.nn.ReLU()
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1, bias=False), relu, relu)
    # conv: 9 * 3 * 4 * 8 * 8; the shared ReLU counts once: 4 * 8 * 8.
    assert count_paper_flops(model, (1, 3, 8, 8)) == 9 * 3 * 4 * 64 + 4 * 64
    # A linear layer: in_features per output element, over every leading dimension.
    assert count_paper_flops(torch.nn.Linear(5, 3), (1, 4, 5)) == 5 * 3 * 4


@pytest.mark.parametrize('name,channel_weighting,absent', [
    ('td-hm_litehrnet-18-spatial-weighting_8xb64-210e_coco-256x192', ('spatial', ),
     'cross_resolution_weighting'),
    ('td-hm_litehrnet-18-cross-resolution-weighting_8xb64-210e_coco-256x192',
     ('cross_resolution', ), 'spatial_weighting'),
])
def test_ablation_configs_drop_one_weighting(name, channel_weighting, absent):
    model = build_model_from_config(_config(name))
    keys = list(model.state_dict())
    assert not any(absent in k for k in keys)
    kept = {'spatial': 'spatial_weighting', 'cross_resolution': 'cross_resolution_weighting'}
    assert any(kept[channel_weighting[0]] in k for k in keys)
    out = model(torch.randn(1, 3, 256, 192), None, mode='tensor')
    assert out.shape == (1, 17, 64, 48)


@pytest.mark.slow
def test_flops_tool_prints_both_conventions():
    config = osp.join(POSE_CONFIGS, 'coco', 'td-hm_litehrnet-18_8xb64-210e_coco-256x192.py')
    code, stdout = run_tool('flops', config)
    assert not code
    row = [line for line in stdout.splitlines() if 'litehrnet-18' in line]
    assert len(row) == 1
    cells = [c.strip() for c in row[0].strip('|').split('|')]
    assert cells[1:5] == ['litehrnet_18', '256x192', '1,130,769', '205.2M']
    assert cells[5] == _readme_zoo_rows()['td-hm_litehrnet-18_8xb64-210e_coco-256x192'][0]
    assert 'paper' in stdout and 'MMEngine' in stdout


def _readme_zoo_rows() -> dict:
    """README's model-zoo table: config name -> (FLOPs MMEngine, authors, MMPose zoo,
    checkpoint cell)."""
    with open(osp.join(ROOT, 'README.md')) as f:
        rows = re.findall(r'^\| `(?:coco|mpii|coco_wholebody_hand)/([^`]+)`[^|]*'
                          r'((?:\|[^|\n]*){7})\|$', f.read(), re.MULTILINE)
    return {name: [cell.strip() for cell in cells.split('|')[1:]][3:] for name, cells in rows}


def _yaml(path: str):
    with open(path) as f:
        return yaml.safe_load(f)


def _metafile_models(metafiles) -> list:
    """The ``Models`` entries of ``metafiles``, in order."""
    return [model for path in metafiles for model in _yaml(path)['Models']]


def _our_metafiles() -> list:
    """The metafiles model-index.yml imports, as paths."""
    return sorted(osp.join(ROOT, p) for p in _yaml(osp.join(ROOT, 'model-index.yml'))['Import'])


def _mmpose_metafile_models() -> dict:
    """MMPose 1.3.2's own Lite-HRNet metafiles (shipped in its package): name -> model."""
    import mmpose
    found = glob.glob(osp.join(osp.dirname(mmpose.__file__), '.mim', 'configs',
                               '*_2d_keypoint', 'topdown_heatmap', '*', 'litehrnet_*.yml'))
    assert len(found) == 3, found
    return {m['Name']: m for m in _metafile_models(found)}


def test_metafiles_agree_with_configs_readme_and_mmpose():
    """model-index.yml imports one metafile per dataset; each config whose released
    checkpoint downloads directly (the MMPose zoo's) has one entry whose weights are the
    config's ``released_checkpoint``, whose architecture is the config's backbone, whose
    parameters and FLOPs are the pinned ones above, whose results are MMPose's own
    metafile's for the same weights, and whose main metric is the README table's."""
    imported = _our_metafiles()
    assert imported == sorted(glob.glob(osp.join(ROOT, 'configs', '*_2d_keypoint', '*', '*',
                                                 'litehrnet_*.yml')))
    models = _metafile_models(imported)
    configs = {}
    for path in POSE_ZOO.values():
        cfg = Config.fromfile(path)
        if (cfg.get('released_checkpoint') or '').startswith('https://download.openmmlab.com/'):
            configs[osp.relpath(path, ROOT)] = cfg
    assert len(configs) == 7
    assert sorted(m['Config'] for m in models) == sorted(configs)
    pinned = {name: (params, flops) for name, params, flops in ZOO}
    readme, mmpose_models = _readme_zoo_rows(), _mmpose_metafile_models()
    for model in models:
        cfg, name = configs[model['Config']], model['Name']
        assert name == osp.basename(model['Config'])[:-3]
        assert model['Weights'] == cfg.released_checkpoint == mmpose_models[name]['Weights']
        assert model['Metadata']['Architecture'] == [cfg.model.backbone.type]
        assert (model['Metadata']['Parameters'], model['Metadata']['FLOPs']) == pinned[name]
        assert model['Results'] == mmpose_models[name]['Results']
        metrics, dataset = model['Results'][0]['Metrics'], model['Results'][0]['Dataset']
        _, _, zoo, checkpoint = readme[name]
        main = {'COCO': 'AP', 'MPII': 'Mean', 'COCO-WholeBody-Hand': 'PCK@0.2'}[dataset]
        assert f'{metrics[main] * 100:.1f}' == zoo, name
        assert model['Weights'] in checkpoint


def test_mim_search_finds_the_zoo_in_an_installed_package(tmp_path):
    """A (non-editable) install ships the configs and the model index under ``.mim/``,
    where ``mim search`` / ``mim download`` look: every metafile entry is listed."""
    # Built from a copy: a build leaves build/ and *.egg-info behind, and setuptools reuses
    # an old egg-info's file list.
    source, target = tmp_path / 'source', tmp_path / 'site'
    shutil.copytree(ROOT, source, symlinks=True, ignore=shutil.ignore_patterns(
        '.git', '.venv', '.whl', 'build', '*.egg-info', 'work_dirs', 'data', '__pycache__',
        '.*_cache'))
    subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', '--no-deps',
                    '--no-build-isolation', '--no-compile', '--target', str(target),
                    str(source)], check=True, capture_output=True)
    assert (target / 'mmpose_litehrnet' / '.mim' / 'configs' / 'body_2d_keypoint').is_dir()
    result = subprocess.run([osp.join(osp.dirname(sys.executable), 'mim'), 'search',
                             'mmpose_litehrnet'], capture_output=True, text=True,
                            cwd=str(tmp_path), env=dict(os.environ, PYTHONPATH=str(target)))
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    listed = re.findall(r'config id: (\S+)', result.stdout)
    expected = [m['Name'] for m in _metafile_models(_our_metafiles())]
    assert sorted(listed) == sorted(expected) and len(listed) == 7
