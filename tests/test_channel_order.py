"""Channel shuffles folded into weights: the planning, the module against the module it
replaces, and the exported graph."""
import copy

import pytest
import torch
from conftest import random_pose_model, randomize_, relative_error

from mmpose_litehrnet.models import LiteHRModule, fold_channel_shuffles, reparameterize
from mmpose_litehrnet.models.backbones import ShuffleFreeLiteHRModule
from mmpose_litehrnet.models.layers import channel_shuffle, plan_gathering, shuffle_groups


def test_gathering_takes_runs_and_orders_them_for_a_shuffle():
    # Wanted channels 0..7 stored interleaved in two tensors, as after a block:
    # even ones in piece 0 (channels 4..7), odd ones in piece 1 (channels 0..3).
    locations = [(0, 4), (1, 0), (0, 5), (1, 1), (0, 6), (1, 2), (0, 7), (1, 3)]
    gathering = plan_gathering(locations)
    assert gathering.runs == ((0, 4, 8), (1, 0, 4))
    assert gathering.order == (0, 2, 4, 6, 1, 3, 5, 7)
    assert shuffle_groups(gathering.order) == 2
    stored = torch.arange(8.).view(1, 8, 1, 1)[:, list(gathering.order)]
    assert channel_shuffle(stored, 2).flatten().tolist() == list(range(8))


def test_shuffle_groups_is_none_where_no_shuffle_restores_the_order():
    assert shuffle_groups(range(6)) == 1
    assert shuffle_groups((0, 3, 1, 4, 2, 5)) == 3
    assert shuffle_groups((1, 0, 2, 3)) is None


def _module(num_blocks, weightings=('cross_resolution', 'spatial'), channels=(8, 16, 32)):
    module = LiteHRModule(channels, num_blocks, 'LITE', reduce_ratio=4,
                          weightings=weightings)
    return randomize_(module, seed=num_blocks).eval()


def _inputs(channels=(8, 16, 32), batch=2):
    gen = torch.Generator().manual_seed(3)
    return [torch.randn(batch, c, 16 >> i, 12 >> i, generator=gen)
            for i, c in enumerate(channels)]


@pytest.mark.parametrize('num_blocks', [1, 2, 3, 4])
@pytest.mark.parametrize('deployed', [False, True], ids=['training', 'deploy'])
def test_shuffle_free_module_equals_the_module(num_blocks, deployed):
    module = _module(num_blocks)
    if deployed:
        reparameterize(module, channels_last=False)
    xs = _inputs()
    free = ShuffleFreeLiteHRModule(module)
    with torch.no_grad():
        expected, actual = module(xs), free(xs)
    for e, a in zip(expected, actual):
        assert relative_error(a, e) < 1e-6
    # Two blocks: one 4-group shuffle per branch in place of a 2-group one per block.
    if num_blocks == 2:
        assert free.groups == [4, 4, 4]


@pytest.mark.parametrize('weightings', [('cross_resolution', ), ('spatial', )])
def test_shuffle_free_module_with_one_weighting(weightings):
    module = _module(2, weightings)
    xs = _inputs(batch=1)
    with torch.no_grad():
        expected, actual = module(xs), ShuffleFreeLiteHRModule(module)(xs)
    for e, a in zip(expected, actual):
        assert relative_error(a, e) < 1e-6


def test_shuffle_free_module_refuses_naive_and_odd_widths():
    with pytest.raises(ValueError, match='LITE'):
        ShuffleFreeLiteHRModule(LiteHRModule((8, 16), 2, 'NAIVE'))
    odd = torch.nn.Module()
    odd.module_type, odd.in_channels = 'LITE', [10, 15]
    with pytest.raises(ValueError, match='even'):
        ShuffleFreeLiteHRModule(odd)


@pytest.mark.slow(seconds=8)
def test_onnx_export_folds_the_shuffles(tmp_path):
    """The exported Lite-HRNet-18 (deploy form, without kernels) has one channel shuffle
    (a Transpose) per module and branch, not one per block and branch, and ONNX Runtime
    gives the training form's heatmaps."""
    import onnx
    import onnxruntime as ort

    from mmpose_litehrnet.deploy import TensorForward, export_onnx
    training = TensorForward(random_pose_model()).eval()
    deployed = reparameterize(copy.deepcopy(training))
    x = torch.randn(1, 3, 256, 192, generator=torch.Generator().manual_seed(1))
    counts = {}
    for fold in (False, True):
        path = str(tmp_path / f'{fold}.onnx')
        export_onnx(deployed, x, path, fold_shuffles=fold)
        nodes = [n.op_type for n in onnx.load(path).graph.node]
        counts[fold] = nodes.count('Transpose')
        session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
        with torch.no_grad():
            expected = training(x)
        actual = torch.from_numpy(session.run(None, {'input': x.numpy()})[0])
        torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-4)
    # Modules x branches: 2 x 2 + 4 x 3 + 2 x 4 = 24; blocks x branches: twice that.
    assert counts == {False: 48, True: 24}
    # The model itself is left as it was.
    assert not any(isinstance(m, ShuffleFreeLiteHRModule) for m in deployed.modules())


def test_fold_channel_shuffles_replaces_lite_modules_only():
    lite, naive = _module(2), LiteHRModule((8, 16), 2, 'NAIVE')
    holder = torch.nn.ModuleList([lite, naive])
    fold_channel_shuffles(holder)
    assert isinstance(holder[0], ShuffleFreeLiteHRModule) and holder[1] is naive


def _fake_quantized_inputs(model, pattern: str) -> int:
    """How many inputs of the OpenVINO ``model``'s nodes named like ``pattern`` come from
    a FakeQuantize node (are quantized)."""
    import re
    return sum(op.input_value(i).get_node().get_type_name() == 'FakeQuantize'
               for op in model.get_ops() if re.match(pattern, op.get_friendly_name())
               for i in range(op.get_input_size()))


@pytest.mark.slow(seconds=15)
def test_int8_recipe_keeps_the_weightings_products_and_fusion_sums_in_float():
    """NNCF's plain preset quantizes the inputs of the cross-resolution weighting's
    products and of the fusions' sums (it cost 3.3 AP points on ``make demo``'s model);
    the ``lite-hrnet`` recipe leaves them in float and quantizes the rest."""
    from mmpose_litehrnet.deploy import INT8_RECIPES, convert_openvino, quantize_openvino
    from mmpose_litehrnet.models import LiteHRNet
    from mmpose_litehrnet.models.backbones import variant_extra
    extra = variant_extra('litehrnet_18')
    extra['stages_spec'] = dict(extra['stages_spec'], num_modules=(1, 1, 1))
    backbone = reparameterize(randomize_(LiteHRNet(extra)).eval())
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    converted = convert_openvino(backbone, x, ('branch0', ))
    products, sums = INT8_RECIPES['lite-hrnet']
    quantized = {recipe: quantize_openvino(converted, [x.numpy()] * 2, recipe)
                 for recipe in ('lite-hrnet', 'default')}
    assert _fake_quantized_inputs(quantized['default'], products) > 0
    assert _fake_quantized_inputs(quantized['default'], sums) > 0
    assert _fake_quantized_inputs(quantized['lite-hrnet'], products) == 0
    assert _fake_quantized_inputs(quantized['lite-hrnet'], sums) == 0
    assert _fake_quantized_inputs(quantized['lite-hrnet'], '.*') > 0
