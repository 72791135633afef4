"""Malformed architectures and inputs fail early, naming the field and the value."""
import copy

import pytest
import torch

from mmpose_litehrnet import LiteHRNet, ShuffleUnit
from mmpose_litehrnet.models.backbones import variant_extra


def _extra(path: str, value):
    extra = copy.deepcopy(variant_extra('litehrnet_18'))
    target = extra
    *parents, last = path.split('.')
    for key in parents:
        target = target[key]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return extra


CASES = [
    ('num_stages', 0, r"extra\['num_stages'\] must be an integer >= 1, got 0"),
    ('num_stages', 4, r"\['num_modules'\] must be a list of num_stages=4 entries, "
     r"got \(2, 4, 2\)"),
    ('stages_spec.num_modules', (2, 4), r"\['num_modules'\] must be a list of "
     r"num_stages=3 entries, got \(2, 4\)"),
    ('stages_spec.num_modules', (2, 0, 2), r"\['num_modules'\]\[1\] must be an integer "
     r">= 1, got 0"),
    ('stages_spec.num_blocks', (2, 2, -1), r"\['num_blocks'\]\[2\] .* got -1"),
    ('stages_spec.num_branches', (2, 4, 5), r"\['num_branches'\]\[1\] must be 3 "
     r"\(branches grow by one per stage.*got 4"),
    ('stages_spec.num_channels', ((40, 80), (40, 80), (40, 80, 160, 320)),
     r"\['num_channels'\]\[1\] must be a list of num_branches=3 widths, got \(40, 80\)"),
    ('stages_spec.num_channels', ((40, 81), (40, 80, 160), (40, 80, 160, 320)),
     r"\['num_channels'\]\[0\] must be even integers >= 2.*got \(40, 81\)"),
    ('stages_spec.module_type', ('LITE', 'FANCY', 'LITE'),
     r"\['module_type'\]\[1\] must be one of \('LITE', 'NAIVE'\), got 'FANCY'"),
    ('stages_spec.reduce_ratios', (8, 0, 8), r"\['reduce_ratios'\]\[1\] must be an "
     r"integer >= 1, got 0"),
    ('stages_spec.with_fuse', (True, 'yes', True), r"\['with_fuse'\]\[1\] must be True or "
     r"False, got 'yes'"),
    ('stages_spec.num_channels', 'wide', r"\['num_channels'\] must be a list"),
    ('stem.stem_channels', 33, r"\['stem_channels'\] must be an even integer >= 2, got 33"),
    ('stem.out_channels', 0, r"\['out_channels'\] must be an even integer >= 2, got 0"),
    ('stem.expand_ratio', -1, r"\['expand_ratio'\] must be a positive number, got -1"),
    ('stem.expand_ratio', KeyError, r"extra\['stem'\] has no 'expand_ratio' entry"),
    ('with_head', KeyError, r"extra has no 'with_head' entry"),
    ('with_head', 1, r"extra\['with_head'\] must be True or False, got 1"),
    ('stages_spec', [], r"extra\['stages_spec'\] must be a dict, got \[\]"),
]


@pytest.mark.parametrize('path,value,message', CASES, ids=[f'{c[0]}={c[1]}' for c in CASES])
def test_malformed_extra_names_field_and_value(path, value, message):
    with pytest.raises(ValueError, match=message):
        LiteHRNet(_extra(path, value))


def test_reduce_ratio_too_large_for_the_widths():
    with pytest.raises(ValueError, match='ratio=1000 leaves no hidden channel'):
        LiteHRNet(_extra('stages_spec.reduce_ratios', (1000, 8, 8)))


@pytest.mark.parametrize('kwargs,message', [
    (dict(extra='litehrnet_42'), "unknown Lite-HRNet variant 'litehrnet_42'"),
    (dict(out_indices=(4, )), r'out_indices .* of the 4 branches, got \(4,\)'),
    (dict(out_indices=()), r'out_indices .* got \(\)'),
    (dict(frozen_stages=5), r'frozen_stages must be in \[-1, 3\], got 5'),
    (dict(fusion='sum'), "mode must be one of .*got 'sum'"),
    (dict(channel_weighting=('spatial', 'temporal')),
     r"weightings must be a non-empty subset .* got \('spatial', 'temporal'\)"),
    (dict(channel_weighting=()), r'weightings must be a non-empty subset .* got \(\)'),
    (dict(in_channels=0), 'in_channels must be an integer >= 1, got 0'),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LiteHRNet(**kwargs)


def test_bad_shuffle_unit_arguments():
    with pytest.raises(ValueError, match='stride must be 1 or 2, got 3'):
        ShuffleUnit(8, 8, stride=3)
    with pytest.raises(ValueError, match='in_channels must equal out_channels, got 8 and 16'):
        ShuffleUnit(8, 16)
    with pytest.raises(ValueError, match='out_channels must be even, got 7'):
        ShuffleUnit(8, 7, stride=2)


@pytest.mark.parametrize('shape', [(1, 1, 64, 64), (3, 64, 64), (1, 3, 1, 64, 64)])
def test_wrong_input_gives_a_clear_error(shape):
    model = LiteHRNet('litehrnet_18')
    with pytest.raises(ValueError, match=r'expected input of shape \(N, 3, H, W\), got '
                       + str(shape).replace('(', r'\(').replace(')', r'\)')):
        model(torch.randn(*shape))


@pytest.mark.parametrize('recipe', [
    'simcc/coco/simcc_litehrnet-18_8xb64-210e_coco-256x192.py',
    'rtmpose/coco/rtmpose_litehrnet-18_8xb256-420e_coco-256x192.py',
])
def test_fixed_size_heads_name_both_sizes(recipe):
    """The SimCC and RTMPose-head recipes size their heads' linear layers from the codec;
    an input of another size fails naming the expected and the actual sizes (MMPose's
    heads alone raise a matrix-shape error)."""
    import os.path as osp

    from conftest import ROOT
    from mmengine.config import Config

    from mmpose_litehrnet.analysis.complexity import build_model_from_config
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'body_2d_keypoint', recipe))
    assert tuple(cfg.model.head.in_featuremap_size) == (48, 64)
    model = build_model_from_config(cfg).eval()
    assert model.neck.feature_size == tuple(cfg.model.head.in_featuremap_size)
    with torch.no_grad():
        simcc_x, simcc_y = model(torch.randn(1, 3, 256, 192), None, mode='tensor')
        assert simcc_x.shape == (1, 17, 384) and simcc_y.shape == (1, 17, 512)
        with pytest.raises(ValueError, match=r'built for 48x64 features .* a 192x256 input '
                           r"\(the codec's input_size, stride 4\); got 24x32 features, from "
                           r'an input of about 96x128'):
            model(torch.randn(1, 3, 128, 96), None, mode='tensor')


@pytest.mark.parametrize('kwargs,message', [
    (dict(input_size=(192, )), r'input_size must be two positive integers .* got \(192,\)'),
    (dict(input_size=(192, 256), stride=0), 'stride must be a positive integer, got 0'),
])
def test_bad_feature_map_size_check_arguments(kwargs, message):
    from mmpose_litehrnet.models import FeatureMapSizeCheck
    with pytest.raises(ValueError, match=message):
        FeatureMapSizeCheck(**kwargs)
