"""Interchangeability with MMPose 1.3.2's LiteHRNet and the released checkpoints."""
import pytest
import torch
from conftest import mmpose_backbone, randomize_, state_of

from mmpose_litehrnet import LiteHRNet, NaiveLiteHRNet

# Keys quoted from the released checkpoints (without the ``backbone.`` prefix).
RELEASED_KEYS = {
    'litehrnet_18': [
        'stage0.0.layers.0.cross_resolution_weighting.conv1.conv.weight',
        'head_layer.projects.3.pointwise_conv.bn.running_var',
        'stem.conv1.bn.num_batches_tracked',
        'transition2.3.0.2.weight',
        'stage2.1.fuse_layers.3.0.2.3.running_mean',
        'stage1.3.layers.1.spatial_weighting.2.conv2.conv.bias',
    ],
    'naive_litehrnet_18': [
        'stage0.0.layers.1.1.branch2.2.bn.weight',
        'stage2.1.fuse_layers.0.3.1.running_var',
    ],
}


def test_state_dict_keys_and_shapes_equal_mmpose(variant):
    ours = LiteHRNet(variant).state_dict()
    theirs = mmpose_backbone(variant).state_dict()
    assert list(ours) == list(theirs)
    assert {k: v.shape for k, v in ours.items()} == {k: v.shape for k, v in theirs.items()}
    for key in RELEASED_KEYS.get(variant, []):
        assert key in ours


@pytest.mark.parametrize('mode', ['eval', 'train'])
@pytest.mark.parametrize('hw', [(256, 192), (256, 256)])
def test_outputs_equal_mmpose(variant, mode, hw):
    theirs = randomize_(mmpose_backbone(variant), seed=1)
    ours = LiteHRNet(variant)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    getattr(ours, mode)()
    getattr(theirs, mode)()
    x = torch.randn(2, 3, *hw, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = theirs(x)
        actual = ours(x)
    assert isinstance(actual, tuple) and len(actual) == len(expected) == 1
    assert actual[0].shape == expected[0].shape
    assert (actual[0] - expected[0]).abs().max().item() <= 1e-5
    # In training, the running statistics must also evolve identically (the legacy
    # fusion runs its branch-0 paths twice, as the released code did).
    ours_state, theirs_state = state_of(ours), state_of(theirs)
    for key, value in theirs_state.items():
        if value.is_floating_point():
            assert (ours_state[key] - value).abs().max().item() <= 1e-5, key
        else:
            assert torch.equal(ours_state[key], value), key


@pytest.mark.parametrize('mode', ['eval', 'train'])
def test_outputs_equal_mmpose_under_autocast(variant, mode):
    """Mixed precision (``AmpOptimWrapper`` training, autocast inference): under CPU
    autocast to bfloat16 our outputs equal the built-in's bit for bit, with the same dtype.
    Split instead of slices, stacking instead of concatenation and shuffle, and broadcast
    products instead of upsampled copies move the same numbers; a changed cast (a product
    or sum computed at another precision than the reference's) fails here."""
    theirs = randomize_(mmpose_backbone(variant), seed=1)
    ours = LiteHRNet(variant)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    getattr(ours, mode)()
    getattr(theirs, mode)()
    x = torch.randn(2, 3, 128, 96, generator=torch.Generator().manual_seed(2))
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        expected = theirs(x)[0]
        actual = ours(x)[0]
    assert expected.dtype == torch.bfloat16
    torch.testing.assert_close(actual, expected, rtol=0, atol=0)


def test_naive_class_defaults_and_rejects_lite_modules():
    assert NaiveLiteHRNet().stage0[0].layers[0][0].branch2[0].conv.in_channels == 15
    wider = NaiveLiteHRNet('wider_naive_litehrnet_18')
    assert [m.in_channels for m in wider.stage2[0].layers[0][0].branch2[:1]] == [20]
    with pytest.raises(ValueError, match='NAIVE'):
        NaiveLiteHRNet('litehrnet_18')
