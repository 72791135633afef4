"""Deploy form and export: batch norms folded, torch.compile, channels_last, ONNX,
TorchScript."""
import copy
import glob
import os.path as osp
import re
import subprocess
import sys
import zipfile
from typing import Sequence, Tuple

import pytest
import torch
from conftest import (
    COCO_LITEHRNET_18,
    POSE_CONFIGS,
    ROOT,
    calibrate_,
    random_image,
    random_pose_model,
    randomize_,
    relative_error,
    run_tool,
)
from torch.nn.modules.batchnorm import _BatchNorm

from mmpose_litehrnet import LiteHRNet
from mmpose_litehrnet.kernels import cpu_kernels_available


def test_deploy_form_matches_training_form(variant):
    model = calibrate_(randomize_(LiteHRNet(variant, out_indices=(0, 1, 2, 3)), seed=4))
    keys = list(model.state_dict())
    x = torch.randn(2, 3, 256, 192, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = model(x)
        exact = copy.deepcopy(model).double()(x.double())
    reference = LiteHRNet(variant, out_indices=(0, 1, 2, 3))
    assert list(reference.state_dict()) == keys  # the training form is untouched
    deployed = model.switch_to_deploy()
    assert deployed is model and not model.training
    assert not any(isinstance(m, _BatchNorm) for m in model.modules())
    # The folded norms are gone, not left behind as identities.
    assert not any(isinstance(layer, torch.nn.Identity) for m in model.modules()
                   if isinstance(m, torch.nn.Sequential) for layer in m)
    with torch.no_grad():
        actual = model(x)
    # Both float32 forms round differently from the exact result, amplified through the
    # network (each up to ~6e-5 of the output's magnitude for Lite-HRNet-30, so they
    # differ from each other by up to ~1.1e-4 on some CPUs): the deploy form is within 1e-4
    # of the exact (float64) training form and about as close to it as the float32
    # training form (folding itself is exact in float64, below).
    for a, b, e in zip(actual, expected, exact):
        scale = e.abs().max().item()
        assert 0.1 < scale < 100  # a realistic scale
        deployed = (a.double() - e).abs().max().item()
        trained = (b.double() - e).abs().max().item()
        assert deployed <= 1e-4 * scale and deployed <= 1.5 * trained + 1e-6 * scale


def test_deploy_form_runs_channels_last_on_the_cpu():
    """The deploy form converts CPU inputs to channels_last (and gives the NCHW deploy
    form's outputs); ``channels_last=False`` keeps NCHW; the training form never
    converts."""
    from mmpose_litehrnet.deploy import switch_to_deploy
    model = calibrate_(randomize_(LiteHRNet('naive_litehrnet_18', out_indices=(0, 1)),
                                  seed=3))
    x = torch.randn(1, 3, 128, 96, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert all(y.is_contiguous() for y in model(x))
        nchw = switch_to_deploy(copy.deepcopy(model), channels_last=False)(x)
        nhwc = switch_to_deploy(model)(x)
    for a, b in zip(nhwc, nchw):
        assert b.is_contiguous()
        assert a.is_contiguous(memory_format=torch.channels_last) and not a.is_contiguous()
        torch.testing.assert_close(a, b, rtol=0, atol=1e-4 * b.abs().max().item())


@pytest.mark.parametrize('devices,expected', [
    (True, ('cpu', )), (False, ()), ('cuda', ('cuda', )), (['cpu', 'cuda'], ('cpu', 'cuda'))])
def test_channels_last_devices_are_chosen_at_deploy(devices, expected):
    """``channels_last`` names the device types whose inputs the backbone converts; with
    a GPU among them the convolution weights are stored channels-last too (cuDNN would
    convert them at each call), and then the convolutions give channels-last outputs on
    the CPU as well; the CPU outputs' values do not change."""
    from mmpose_litehrnet.deploy import switch_to_deploy
    model = calibrate_(randomize_(LiteHRNet('litehrnet_18', out_indices=(0, 1)), seed=5))
    x = torch.randn(1, 3, 128, 96, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        reference = switch_to_deploy(copy.deepcopy(model))(x)
        deployed = switch_to_deploy(model, channels_last=devices)
        actual = deployed(x)
    assert deployed.channels_last_devices == expected
    # Weights whose two layouts differ (more than one input channel and pixel).
    weights = [m.weight for m in deployed.modules() if isinstance(m, torch.nn.Conv2d)
               and m.weight.shape[1] > 1 and m.weight.shape[2] * m.weight.shape[3] > 1]
    assert weights
    for w in weights:
        assert w.is_contiguous(memory_format=torch.channels_last) == bool(set(expected) - {'cpu'})
        assert w.is_contiguous() != w.is_contiguous(memory_format=torch.channels_last)
    for a, b in zip(actual, reference):
        assert a.is_contiguous(memory_format=torch.channels_last) == bool(expected)
        assert a.is_contiguous() != bool(expected)
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5 * b.abs().max().item())


@pytest.mark.parametrize('devices', ['gpu', 'cuda:0', ['cpu', 1], 'cpu,cuda'])
def test_channels_last_rejects_what_is_not_a_device_type(devices):
    from mmpose_litehrnet.deploy import switch_to_deploy
    with pytest.raises(ValueError, match='channels_last must be a bool or device types'):
        switch_to_deploy(LiteHRNet('litehrnet_18'), channels_last=devices)


@pytest.mark.parametrize('channels_last', [False, True], ids=['NCHW', 'channels-last'])
def test_deploy_form_on_each_device_matches_the_cpu_training_form(variant, device,
                                                                 channels_last):
    """Both layouts of the deploy form on each device give the training form's CPU
    outputs (on a GPU: cuDNN's kernels, the 6-D broadcasts, the in-place fusion)."""
    from mmpose_litehrnet.deploy import switch_to_deploy
    model = calibrate_(randomize_(LiteHRNet(variant, out_indices=(0, 1, 2, 3)), seed=4))
    x = torch.randn(2, 3, 128, 96, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = model(x)
        switch_to_deploy(model, channels_last=(device.type, ) if channels_last else False)
        actual = model.to(device)(x.to(device))
    for a, b in zip(actual, expected):
        assert a.device.type == device.type
        assert a.is_contiguous() != channels_last
        a = a.cpu()
        assert (a - b).abs().max().item() <= 1e-4 * b.abs().max().item()


def test_deploy_form_never_leaves_channels_last(variant, device):
    """No layer of the deployed network hands an NCHW tensor on (each would cost a
    layout conversion at the next convolution)."""
    from mmpose_litehrnet.deploy import switch_to_deploy
    from mmpose_litehrnet.models.layers import is_channels_last
    model = switch_to_deploy(LiteHRNet(variant, out_indices=(0, 1, 2, 3)),
                             channels_last=(device.type, )).to(device)
    flipped = []

    def check(module, inputs, output):
        for y in output if isinstance(output, (list, tuple)) else [output]:
            if y.dim() == 4 and y.shape[1] > 1 and y.shape[2] * y.shape[3] > 1 \
                    and not is_channels_last(y):
                flipped.append(type(module).__name__)

    for module in model.modules():
        module.register_forward_hook(check)
    with torch.no_grad():
        model(torch.randn(1, 3, 128, 96, device=device))
    assert not flipped


@pytest.mark.parametrize('channels_last', [False, True], ids=['NCHW', 'channels-last'])
def test_half_precision_deploy_form_on_the_gpu(cuda, channels_last):
    """fp16 on the GPU: the deploy form is no further from the float32 CPU outputs than
    the training form run in fp16 on the same GPU (up to 1.5x: folding changes which
    values are rounded). A fixed bound would not do: on the H200 the fp16 deploy form of
    this randomized network was 2e-2 away (relative L2), the benchmark's model 1e-3."""
    from mmpose_litehrnet.deploy import switch_to_deploy
    model = calibrate_(randomize_(LiteHRNet('litehrnet_18', out_indices=(0, 1, 2, 3)), seed=4))
    x = torch.randn(2, 3, 256, 192, generator=torch.Generator().manual_seed(0))
    x16 = x.to(cuda, torch.float16)
    with torch.no_grad():
        expected = model(x)
        training = copy.deepcopy(model).to(cuda, torch.float16)(x16)
        switch_to_deploy(model, channels_last=('cuda', ) if channels_last else False)
        actual = model.to(cuda, torch.float16)(x16)
    for a, t, b in zip(actual, training, expected):
        assert a.dtype == torch.float16
        deployed, trained = relative_error(a, b), relative_error(t, b)
        assert deployed <= 1.5 * trained + 1e-4, (deployed, trained)


def test_weightings_call_operators_directly_only_with_folded_norms():
    """The deploy form's channel weightings skip their module layers (batch norms folded:
    both weightings; instance norms, which do not fold: only the norm-free spatial one,
    each block's as one block-diagonal pair), its stem runs as one path only with folded
    norms, and both give the eval-mode training form's outputs either way."""
    from mmpose_litehrnet.models.blocks import (
        BlockDiagonalSpatialWeighting,
        ConditionalChannelWeighting,
        CrossResolutionWeighting,
        MergedBranchStem,
        SpatialWeighting,
        Stem,
    )
    x = torch.randn(1, 3, 128, 96, generator=torch.Generator().manual_seed(1))
    for norm_cfg, crw_direct in ((None, True), (dict(type='IN', affine=True), False)):
        model = calibrate_(randomize_(LiteHRNet('litehrnet_18', norm_cfg=norm_cfg), seed=9))
        blocks = [m for m in model.modules() if isinstance(m, ConditionalChannelWeighting)]
        with torch.no_grad():
            expected = model.eval()(x)[0]
            actual = model.switch_to_deploy()(x)[0]
        assert {m.direct for m in model.modules()
                if isinstance(m, CrossResolutionWeighting)} == {crw_direct}
        assert type(model.stem) is (MergedBranchStem if crw_direct else Stem)
        assert not any(isinstance(m, SpatialWeighting) for m in model.modules())
        assert all(isinstance(b.spatial_weighting, BlockDiagonalSpatialWeighting)
                   for b in blocks) and len(blocks) == 16  # 2 per module, 2 + 4 + 2 modules
        torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-4)


def test_deploy_form_traces_to_torchscript():
    """The channels-last deploy form traced to TorchScript (fixed to the traced shape, as
    the benchmark's rows) gives the eager outputs of the operators it records (not the
    CPU kernels'), up to float32 rounding (TorchScript's graph passes may split a fused
    product and sum)."""
    model = calibrate_(randomize_(LiteHRNet('litehrnet_18'), seed=8))
    model.switch_to_deploy(cpu_kernels=False)
    x = torch.randn(1, 3, 128, 96, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        script = torch.jit.trace(model, x, check_trace=False)
        expected = model(x)[0]
        torch.testing.assert_close(script(x)[0], expected, rtol=0,
                                   atol=1e-6 * expected.abs().max().item())


def test_deploy_folding_is_exact_in_float64():
    model = calibrate_(randomize_(LiteHRNet('litehrnet_30'), seed=4)).double()
    x = torch.randn(1, 3, 128, 96, dtype=torch.float64)
    with torch.no_grad():
        expected = model(x)[0]
        actual = model.switch_to_deploy()(x)[0]
    assert (actual - expected).abs().max().item() <= 1e-9


@pytest.mark.parametrize('batch', [1, 3])
def test_matmul_1x1_convolution_equals_conv2d(batch):
    from mmpose_litehrnet.deploy import MatmulConv1x1
    model = randomize_(LiteHRNet('litehrnet_18'), seed=5).switch_to_deploy()
    fast = [m for m in model.modules() if isinstance(m, MatmulConv1x1)]
    assert len(fast) > 50  # the fusion, transition and weighting 1x1 convs
    conv = fast[0]
    x = torch.randn(batch, conv.in_channels, 9, 7)
    expected = torch.nn.functional.conv2d(x, conv.weight, conv.bias)
    with torch.no_grad():
        torch.testing.assert_close(conv(x), expected, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(conv(x[:, :, :, 1:]), expected[:, :, :, 1:],
                                   rtol=1e-5, atol=1e-5)  # non-contiguous input
        torch.testing.assert_close(conv(x[:, :, :1, :1].contiguous()), expected[:, :, :1, :1],
                                   rtol=1e-5, atol=1e-5)  # 1x1 maps (spatial weighting)
        # Channels-last, whole and as a channel slice (read in place): channels-last out.
        wide = torch.cat((x, x), dim=1).contiguous(memory_format=torch.channels_last)
        for x_cl in (x.contiguous(memory_format=torch.channels_last),
                     wide[:, conv.in_channels:]):
            actual = conv(x_cl)
            torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5)
            assert actual.is_contiguous(memory_format=torch.channels_last)


def test_deployed_state_dict_reloads(tmp_path):
    model = randomize_(LiteHRNet('litehrnet_18'), seed=4).switch_to_deploy()
    path = tmp_path / 'deployed.pth'
    torch.save(model.state_dict(), path)
    fresh = LiteHRNet('litehrnet_18').switch_to_deploy()
    fresh.load_state_dict(torch.load(path, weights_only=True), strict=True)
    x = torch.randn(1, 3, 128, 96)
    with torch.no_grad():
        torch.testing.assert_close(fresh(x)[0], model(x)[0], rtol=0, atol=0)


def test_mmpose_switch_to_deploy_reaches_our_backbone():
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS
    init_default_scope('mmpose')
    model = MODELS.build(dict(
        type='TopdownPoseEstimator', backbone=dict(type='LiteHRNet'),
        head=dict(type='HeatmapHead', in_channels=40, out_channels=17,
                  deconv_out_channels=None)))
    model.switch_to_deploy()
    assert not any(isinstance(m, _BatchNorm) for m in model.backbone.modules())


def test_switch_to_deploy_hook_deploys_the_model_and_refuses_ema():
    from types import SimpleNamespace

    from mmengine.hooks import EMAHook

    from mmpose_litehrnet.engine import SwitchToDeployHook

    model = LiteHRNet('litehrnet_18')
    hook = SwitchToDeployHook(channels_last=False)
    runner = SimpleNamespace(model=model, hooks=[hook])
    hook.before_test(runner)
    assert not any(isinstance(m, _BatchNorm) for m in model.modules())
    assert model.channels_last_devices == ()
    with pytest.raises(ValueError, match='EMAHook'):
        hook.before_test(SimpleNamespace(model=model, hooks=[EMAHook(), hook]))
    with pytest.raises(ValueError, match='gpu'):
        SwitchToDeployHook(channels_last='gpu')
    # aot: the backbone gets its compiled runner (nothing compiles before a forward).
    aot = LiteHRNet('litehrnet_18')
    SwitchToDeployHook(aot='some/dir').before_test(SimpleNamespace(model=aot, hooks=[]))
    assert aot.accelerator.cache_dir == 'some/dir' and not aot.accelerator.packages
    for bad in (3, '', None):
        with pytest.raises(ValueError, match=f'aot must be a bool or a cache directory, '
                                             f'got {bad!r}'):
            SwitchToDeployHook(aot=bad)


def test_switch_to_deploy_hook_on_a_model_already_on_the_gpu(cuda):
    """``mim test`` on a GPU moves the model there before the hook runs: the hook deploys
    it in place on the GPU (folding, merged stem, block-diagonal weightings made on the
    weights' device), channels-last there when asked, with the training form's outputs."""
    from types import SimpleNamespace

    from mmpose_litehrnet.engine import SwitchToDeployHook
    model = calibrate_(randomize_(LiteHRNet('litehrnet_18', out_indices=(0, 1, 2, 3)), seed=4))
    model.to(cuda).eval()
    x = torch.randn(2, 3, 256, 192, generator=torch.Generator().manual_seed(0)).to(cuda)
    with torch.no_grad():
        expected = model(x)
    SwitchToDeployHook(channels_last=('cuda', )).before_test(
        SimpleNamespace(model=model, hooks=[]))
    assert not any(isinstance(m, _BatchNorm) for m in model.modules())
    assert all(p.is_cuda for p in model.parameters())
    with torch.no_grad():
        actual = model(x)
    for a, e in zip(actual, expected):
        assert a.is_contiguous(memory_format=torch.channels_last)
        torch.testing.assert_close(a, e, rtol=1e-4, atol=1e-4)


def test_deployed_pose_model_predicts_through_mmpose():
    """MMPose's own inference (pipeline, flip test, heatmap decoding) on the deployed,
    channels-last model gives the training form's heatmaps and keypoints."""
    import numpy as np
    from mmpose.apis import inference_topdown
    model = random_pose_model()
    image = random_image()
    expected = inference_topdown(model, image)[0]
    deployed = copy.deepcopy(model)
    deployed.switch_to_deploy()
    assert deployed.backbone.channels_last_devices == ('cpu', )
    actual = inference_topdown(deployed, image)[0]
    heatmaps = torch.as_tensor(expected.pred_fields.heatmaps)
    torch.testing.assert_close(torch.as_tensor(actual.pred_fields.heatmaps), heatmaps,
                               rtol=0, atol=1e-4 * heatmaps.abs().max().item())
    np.testing.assert_allclose(actual.pred_instances.keypoints,
                               expected.pred_instances.keypoints, rtol=0, atol=1e-3)


#: Two stages (a Lite and a naive module, three branches): every block type of the
#: network, compiled in a fraction of the full one's time.
SMALL_STAGES_SPEC = dict(
    num_modules=(1, 1), num_branches=(2, 3), num_blocks=(1, 1), module_type=('LITE', 'NAIVE'),
    with_fuse=(True, True), reduce_ratios=(8, 8), num_channels=((40, 80), (40, 80, 160)))


def _one_module_spec(module_type: str) -> dict:
    """A one-stage ``stages_spec``: one module of ``module_type`` on two branches. The
    AOTInductor tests use it, one block type each, since their C++ compile grows with the
    graph (the two-stage network took 2.5x as long as this)."""
    return dict(num_modules=(1, ), num_branches=(2, ), num_blocks=(1, ),
                module_type=(module_type, ), with_fuse=(True, ), reduce_ratios=(8, ),
                num_channels=((40, 80), ))


def _small_network(**kwargs) -> LiteHRNet:
    """Lite-HRNet with :data:`SMALL_STAGES_SPEC` and the head, all three branches out,
    in eval mode; ``kwargs`` as LiteHRNet's."""
    from mmpose_litehrnet.models.backbones import variant_extra
    extra = variant_extra('litehrnet_18')
    extra['num_stages'] = 2
    extra['stages_spec'] = dict(extra['stages_spec'], **SMALL_STAGES_SPEC)
    return LiteHRNet(extra, out_indices=(0, 1, 2), **kwargs).eval()


def _small_deployed_network() -> LiteHRNet:
    """:func:`_small_network` in deploy form, random weights and calibrated statistics."""
    return calibrate_(randomize_(_small_network(), seed=5)).switch_to_deploy()


@pytest.mark.slow
def test_no_graph_breaks_for_torch_compile():
    """Dynamo traces the training and the deploy form whole (the two-stage network: every
    block type, at a quarter of the full one's tracing time)."""
    import torch._dynamo
    for deploy in (False, True):
        model = _small_network()
        if deploy:
            model.switch_to_deploy()
        torch._dynamo.reset()
        explanation = torch._dynamo.explain(model)(torch.randn(1, 3, 256, 192))
        assert explanation.graph_break_count == 0, explanation.break_reasons
        assert explanation.graph_count == 1


def _to_fake_cuda(model: torch.nn.Module, mode) -> torch.nn.Module:
    """``model`` with its parameters and buffers replaced, in place, by fake CUDA tensors
    of the FakeTensorMode ``mode`` (shapes, dtypes and devices, no values)."""
    for module in model.modules():
        for name, param in list(module._parameters.items()):
            if param is not None:
                data = param.detach()
                with mode:
                    module._parameters[name] = torch.nn.Parameter(
                        mode.from_tensor(data).to('cuda'), requires_grad=False)
        for name, buffer in list(module._buffers.items()):
            if buffer is not None:
                with mode:
                    module._buffers[name] = mode.from_tensor(buffer).to('cuda')
    return model


@pytest.mark.slow
@pytest.mark.parametrize('deploy', [False, True], ids=['training', 'deploy'])
@pytest.mark.parametrize('channels_last', [False, True], ids=['NCHW', 'channels-last'])
def test_cuda_paths_trace_without_a_gpu(deploy, channels_last):
    """CI has no GPU, so the CUDA branches (plain average pooling, 6-D block broadcasts,
    the bilinear resize's layout round trip, 1x1 convolutions instead of matrix products,
    channels-last weights on CUDA) run there under fake CUDA tensors: with no graph break
    for torch.compile (Dynamo's explain), the CPU's output shapes, on CUDA, in the chosen
    layout, at 256x192 and 250x190; fp32, and fp16 for the deploy form (a fake fp16
    batch norm asks for a driver). Values are the CUDA tests' job, on a GPU. The
    two-stage network has every block type; fake tensors make each operator slow."""
    import torch._dynamo
    from torch._subclasses.fake_tensor import FakeTensorMode

    from mmpose_litehrnet.deploy import switch_to_deploy
    devices = ('cuda', ) if channels_last else False
    model = _small_network(channels_last=devices)
    if deploy:
        switch_to_deploy(model, channels_last=devices)
    shapes = {}
    with torch.no_grad():
        for hw in ((256, 192), (250, 190)):
            shapes[hw] = [o.shape for o in model(torch.randn(1, 3, *hw))]
    mode = FakeTensorMode()
    with torch.no_grad():
        for dtype in (torch.float16, torch.float32) if deploy else (torch.float32, ):
            fake = _to_fake_cuda(copy.deepcopy(model).to(dtype), mode)
            for hw, expected in shapes.items():
                with mode:
                    x = torch.empty(2, 3, *hw, device='cuda', dtype=dtype)
                outs = fake(x)
                assert [o.shape[1:] for o in outs] == [e[1:] for e in expected]
                assert all(o.shape[0] == 2 and o.is_cuda and o.dtype == dtype for o in outs)
                assert all(o.is_contiguous(memory_format=torch.channels_last)
                           == channels_last for o in outs)
        torch._dynamo.reset()
        explanation = torch._dynamo.explain(fake)(x)  # fp32 at 250x190
        torch._dynamo.reset()
    assert explanation.graph_break_count == 0, explanation.break_reasons
    assert explanation.graph_count == 1


@pytest.mark.slow
def test_compile_for_cpu_inference_gives_the_eager_outputs():
    """The CPU inference compile (frozen weights, C++ wrapper) of the deploy form
    computes what eager does, and its graph calls the CPU kernels (where they build) as
    eager does, with no graph break; the small network keeps the compile to seconds."""
    import torch._inductor.config as inductor_config
    from torch.profiler import profile

    from mmpose_litehrnet.deploy import compile_for_cpu_inference

    def kernel_calls(fn, x):
        with torch.no_grad(), profile() as prof:
            out = fn(x)
        return out, [e.name for e in prof.events() if e.name.startswith('mmpose_litehrnet::')]

    model = _small_deployed_network()
    torch._dynamo.reset()
    compiled = compile_for_cpu_inference(model)
    compiled(torch.randn(1, 3, 128, 96))  # the compile (its tracing calls the ops' fakes)
    for seed in (0, 1):
        x = torch.randn(1, 3, 128, 96, generator=torch.Generator().manual_seed(seed))
        expected, eager_calls = kernel_calls(model, x)
        actual, compiled_calls = kernel_calls(compiled, x)
        assert len(compiled_calls) == len(eager_calls)
        assert (len(eager_calls) > 0) == cpu_kernels_available()
        # The compiled graph calls the kernels that return lists of branches through
        # their packed twins: Inductor's C++ wrapper calls the others through Python.
        assert not any(name.endswith(('weighting', 'fusion', 'head')) for name in compiled_calls)
        assert len(actual) == len(expected) == 3
        for a, e in zip(actual, expected):
            torch.testing.assert_close(a, e, rtol=1e-4, atol=1e-4)
    assert not inductor_config.freezing  # set for the calls only
    torch._dynamo.reset()
    with torch.no_grad():
        explanation = torch._dynamo.explain(model)(x)
    torch._dynamo.reset()
    assert explanation.graph_break_count == 0, explanation.break_reasons


@pytest.mark.parametrize('shape', [(256, 192), (250, 190)])
def test_an_empty_batch_runs_in_every_form(variant, shape):
    """No crops (no person detected): every form returns empty outputs of the right
    shapes (the deploy form's direct weighting once failed on a view with -1)."""
    from mmpose_litehrnet.deploy import switch_to_deploy
    model = LiteHRNet(variant, out_indices=(0, 1, 2, 3)).eval()
    x = torch.zeros(0, 3, *shape)
    with torch.no_grad():
        expected = [o.shape for o in model(torch.zeros(1, 3, *shape))]
        forms = [model] + [switch_to_deploy(copy.deepcopy(model), channels_last=last)
                           for last in (False, True)]
        for form in forms:
            assert [o.shape for o in form(x)] == [(0, *e[1:]) for e in expected]


def test_channels_last_input():
    model = calibrate_(randomize_(LiteHRNet('litehrnet_18')))
    x = torch.randn(2, 3, 128, 96)
    with torch.no_grad():
        expected = model(x)[0]
        actual = model(x.to(memory_format=torch.channels_last))[0]
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-4)


def _random_checkpoint(config: str, path: str) -> str:
    """Saves a checkpoint of ``config``'s model (pose or segmentation; a path or
    ``scope::path``) with random weights and calibrated norm statistics in the backbone;
    returns ``path``."""
    from mmengine.config import Config

    from mmpose_litehrnet.analysis.complexity import build_model_from_config
    from mmpose_litehrnet.apis import resolve_config
    model = build_model_from_config(Config.fromfile(resolve_config(config)))
    calibrate_(randomize_(model.backbone))
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)  # MMSeg needs meta
    return path


def _export(tool: str, config: str, shape: Sequence[int], tmp_path, *options: str
            ) -> Tuple[str, str, str]:
    """Runs ``tools/<tool>.py`` on ``config`` with a :func:`_random_checkpoint` at
    ``shape`` (H, W) and ``options``; asserts it succeeded. Returns its stdout, the
    checkpoint and the exported file."""
    ckpt = _random_checkpoint(config, str(tmp_path / 'ckpt.pth'))
    suffix = {'export_onnx': '.onnx', 'export_torchscript': '.pt', 'export_aoti': '.pt2',
              'export_openvino': '.xml', 'export_ncnn': ''}[tool]
    out = str(tmp_path / f'model{suffix}')
    code, stdout = run_tool(tool, config, ckpt, '--shape', *map(str, shape), '--out', out,
                            *options)
    assert code in (0, None), stdout[-3000:]
    return stdout, ckpt, out


@pytest.mark.slow
@pytest.mark.parametrize('config,shape', [
    ('coco/td-hm_litehrnet-18_8xb64-210e_coco-256x192.py', (256, 192)),
    ('coco/td-hm_litehrnet-18_8xb32-210e_coco-384x288.py', (384, 288)),
    ('mpii/td-hm_litehrnet-18_8xb64-210e_mpii-256x256.py', (256, 256)),
])
def test_onnx_export_matches_pytorch(config, shape, tmp_path):
    stdout, _, out = _export('export_onnx', osp.join(POSE_CONFIGS, config), shape, tmp_path,
                             '--deploy')
    assert 'max abs diff' in stdout and osp.getsize(out) > 1e5


@pytest.mark.slow
def test_onnx_export_with_a_dynamic_batch(tmp_path):
    """``--dynamic-batch``: one file for any number of crops; checked here at a batch the
    tool did not try (4) against the deploy form in PyTorch."""
    import onnx
    import onnxruntime as ort

    from mmpose_litehrnet.apis import init_tensor_model
    stdout, ckpt, out = _export('export_onnx', COCO_LITEHRNET_18, (256, 192), tmp_path,
                                '--deploy', '--dynamic-batch')
    assert 'input N (dynamic, checked at 1 and 3)x3x256x192' in stdout
    # Every reshape and resize target is a constant, the batch axis included (-1): no
    # shape arithmetic for a converter to fold.
    assert 'Shape' not in {node.op_type for node in onnx.load(out).graph.node}
    session = ort.InferenceSession(out, providers=['CPUExecutionProvider'])
    assert session.get_inputs()[0].shape == ['batch', 3, 256, 192]
    x = torch.randn(4, 3, 256, 192, generator=torch.Generator().manual_seed(6))
    actual = session.run(None, {'input': x.numpy()})[0]
    with torch.no_grad():
        expected = init_tensor_model(COCO_LITEHRNET_18, ckpt, deploy=True)(x)
    assert actual.shape == (4, 17, 64, 48)
    torch.testing.assert_close(torch.from_numpy(actual), expected, rtol=1e-4, atol=1e-4)
    empty = session.run(None, {'input': x[:0].numpy()})[0]  # no person detected
    assert empty.shape == (0, 17, 64, 48)


@pytest.mark.slow
def test_onnx_export_at_a_size_not_divisible_by_32(tmp_path):
    """At 250x190 the branches (63x48 .. 8x6) do not divide: the cross-resolution pooling
    is exported as products with pooling matrices; ONNX Runtime must still give PyTorch's
    heatmaps (adaptive pooling), with a dynamic batch as well."""
    stdout = _export('export_onnx', COCO_LITEHRNET_18, (250, 190), tmp_path, '--deploy',
                     '--dynamic-batch')[0]
    assert 'input N (dynamic, checked at 1 and 3)x3x250x190, heatmaps (17, 63, 48)' in stdout


@pytest.mark.slow
def test_onnx_export_of_a_segmentor(tmp_path):
    """An MMSeg config: the whole segmentor (backbone, FCN head with its resize + concat of
    the four branches) to its logits, deploy form, dynamic batch; ONNX Runtime must give
    PyTorch's logits."""
    config = osp.join(ROOT, 'configs', 'seg', 'litehrnet',
                      'fcn_litehrnet-18_8xb2-160k_cityscapes-512x1024.py')
    stdout = _export('export_onnx', config, (256, 512), tmp_path, '--deploy',
                     '--dynamic-batch')[0]
    assert 'input N (dynamic, checked at 1 and 3)x3x256x512, logits (19, 64, 128)' in stdout


@pytest.mark.slow
def test_torchscript_export_runs_without_python_and_matches_the_training_form(tmp_path):
    """The exported file (deploy form, an odd size, batch 2) loads with ``torch.jit.load``
    alone and gives the training form's heatmaps."""
    from mmpose_litehrnet.apis import init_tensor_model
    stdout, ckpt, out = _export('export_torchscript', COCO_LITEHRNET_18, (250, 190),
                                tmp_path, '--batch', '2', '--deploy')
    assert 'TorchScript vs PyTorch max abs diff' in stdout
    script = torch.jit.load(out)
    training_form = init_tensor_model(COCO_LITEHRNET_18, ckpt)
    x = torch.randn(2, 3, 250, 190, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected = training_form(x)
        actual = script(x)
    assert actual.shape == (2, 17, 63, 48)
    torch.testing.assert_close(actual, expected, rtol=0,
                               atol=1e-4 * expected.abs().max().item())


@pytest.mark.slow(seconds=15)
def test_torchscript_tool_traces_the_cpu_kernels_on_request(tmp_path):
    """``tools/export_torchscript.py --deploy --cpu-kernels``: the saved trace calls the
    kernels (30 calls for Lite-HRNet-18: stem, four transition paths, 16 blocks, eight
    fusions, head) and, loaded with ``load_torchscript``, gives the eager deploy form's
    heatmaps (the same kernels) and the training form's; ``--cpu-kernels`` without
    ``--deploy`` is refused."""
    from mmpose_litehrnet.apis import init_tensor_model
    from mmpose_litehrnet.deploy import load_torchscript
    code, _ = run_tool('export_torchscript', COCO_LITEHRNET_18, 'unused.pth', '--shape',
                       '256', '192', '--cpu-kernels')
    assert code == 2
    stdout, ckpt, out = _export('export_torchscript', COCO_LITEHRNET_18, (256, 192),
                                tmp_path, '--deploy', '--cpu-kernels')
    assert 'TorchScript vs PyTorch max abs diff' in stdout
    script = load_torchscript(out)
    calls = [node.kind() for node in script.inlined_graph.nodes()
             if node.kind().startswith('mmpose_litehrnet::')]
    assert len(calls) == (30 if cpu_kernels_available() else 0)
    x = torch.randn(1, 3, 256, 192, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        actual = script(x)
        deployed = init_tensor_model(COCO_LITEHRNET_18, ckpt, deploy=True)(x)
        training = init_tensor_model(COCO_LITEHRNET_18, ckpt)(x)
    assert torch.equal(actual, deployed)
    torch.testing.assert_close(actual, training, rtol=0, atol=1e-4 * training.abs().max().item())


@pytest.mark.parametrize('argv,bad', [(['--shape', '0', '192'], 0),
                                      (['--shape', '256', '-2'], -2),
                                      (['--shape', '256', '192', '--batch', '0'], 0)])
def test_export_tools_refuse_sizes_below_one(argv, bad, capsys):
    """The export tools' shared command line names a size or batch below 1 and exits 2
    (argparse's usage error) before any model is built."""
    from mmpose_litehrnet.apis import export_argument_parser, positive_int
    parser = export_argument_parser('A tool.\n', 'help')
    parser.add_argument('--batch', type=positive_int, default=1)
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(['config.py', 'ckpt.pth', *argv])
    assert exit_info.value.code == 2
    assert f'must be a positive integer, got {bad}' in capsys.readouterr().err


def test_export_check_stops_on_another_shape_before_broadcasting(capsys):
    """The export tools' comparison with PyTorch: a runtime that drops the batch would
    broadcast against the reference; it is an error naming both shapes instead."""
    from mmpose_litehrnet.apis import max_abs_difference
    model = torch.nn.Conv2d(3, 2, 1)
    generator = torch.Generator().manual_seed(0)
    assert max_abs_difference(model, model, (1, 3), (4, 5), generator, 'same')[1] == \
        ((2, 4, 5), )
    assert max_abs_difference(lambda x: model(x[:1]), model, (1, 3), (4, 5), generator,
                              'a runtime') is None
    assert 'error: a runtime gave [(1, 2, 4, 5)] for [(3, 2, 4, 5)]' in capsys.readouterr().err


@pytest.mark.slow(seconds=45)
def test_aoti_package_runs_without_the_model_code_and_matches_the_training_form(tmp_path):
    """``tools/export_aoti.py --dynamic-batch --deploy`` on a config (the COCO one, with
    one naive module to keep the compile short; the aot=True test compiles a Lite module)
    at an odd size: the package loads in a fresh process that imports neither this
    package, MMPose nor MMCV, and gives the training form's heatmaps there at a batch the
    tool did not check (2)."""
    from mmpose_litehrnet.apis import init_tensor_model
    config = tmp_path / 'small.py'
    config.write_text(f'_base_ = [{COCO_LITEHRNET_18!r}]\n'
                      f'model = dict(backbone=dict(extra=dict(num_stages=1, '
                      f'stages_spec={_one_module_spec("NAIVE")!r})))\n')
    stdout, ckpt, out = _export('export_aoti', str(config), (250, 190), tmp_path,
                                '--dynamic-batch', '--deploy')
    assert 'input N (dynamic, checked at 1 and 3)x3x250x190' in stdout
    x = torch.randn(2, 3, 250, 190, generator=torch.Generator().manual_seed(3))
    torch.save(x, tmp_path / 'x.pth')
    load = ('import sys, torch; package = torch._inductor.aoti_load_package(sys.argv[1]); '
            'torch.save(package(torch.load(sys.argv[2])), sys.argv[3]); '
            "assert not {'mmpose', 'mmpose_litehrnet', 'mmcv'} & set(sys.modules)")
    result = subprocess.run([sys.executable, '-c', load, out, str(tmp_path / 'x.pth'),
                             str(tmp_path / 'y.pth')], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    actual = torch.load(tmp_path / 'y.pth')
    with torch.no_grad():
        expected = init_tensor_model(str(config), ckpt)(x)
    assert actual.shape == (2, 17, 63, 48)
    torch.testing.assert_close(actual, expected, rtol=0,
                               atol=1e-4 * expected.abs().max().item())


def test_exported_graphs_call_the_kernels_only_where_asked():
    """``torch.export`` of the deploy form records PyTorch's operators (the standalone
    package's graph); in ``cpu_kernels_in_exports`` (``compile_aot_package(...,
    cpu_kernels=True)``) it records one kernel call per stem, transition path, block,
    fusion and head, and gives the eager outputs at another batch (the batch dynamic)."""
    from mmpose_litehrnet.kernels import cpu_kernels_in_exports, make_kernel_operands
    if not cpu_kernels_available():
        pytest.skip('no CPU kernels here: the deploy form runs its PyTorch operators')
    model = _small_deployed_network()
    make_kernel_operands(model)
    x = torch.randn(3, 3, 128, 96, generator=torch.Generator().manual_seed(0))

    def kernel_calls(program):
        return sorted(str(node.target).split('.')[1] for node in program.graph.nodes
                      if str(node.target).startswith('mmpose_litehrnet.'))
    with torch.no_grad():
        assert kernel_calls(torch.export.export(model, (x[:2], ))) == []
        with cpu_kernels_in_exports():
            program = torch.export.export(
                model, (x[:2], ), dynamic_shapes=({0: torch.export.Dim('batch')}, ))
        expected = model(x)
    # The stem; three transition paths (32 -> 40 and 32 -> 80 channels, then the third
    # branch); the Lite module's block and the Naive one's unit per branch; two fusions.
    assert kernel_calls(program) == sorted(
        ['stem', *['depthwise_separable'] * 3, 'conditional_channel_weighting_packed',
         *['shuffle_unit'] * 3, *['multi_resolution_fusion_packed'] * 2,
         'iterative_head_packed'])
    for actual, e in zip(program.module()(x), expected):
        torch.testing.assert_close(actual, e, rtol=0, atol=1e-4 * e.abs().max().item())


def _package_kernel_calls(path: str) -> int:
    """How many calls of our CPU kernels an AOTInductor package's graph makes (its
    wrapper's JSON lists the calls to ops outside PyTorch)."""
    with zipfile.ZipFile(path) as package:
        return sum(package.read(name).count(b'"mmpose_litehrnet::')
                   for name in package.namelist() if name.endswith('.json'))


@pytest.mark.slow(seconds=30)
def test_aoti_tool_packages_the_cpu_kernels_on_request(tmp_path):
    """``tools/export_aoti.py --deploy --cpu-kernels`` (one Lite module): the package calls
    the kernels (the stem, two transition paths, block, fusion, head) and the tool's own
    check against PyTorch passes; ``--cpu-kernels`` without ``--deploy`` is refused."""
    config = tmp_path / 'small.py'
    config.write_text(f'_base_ = [{COCO_LITEHRNET_18!r}]\n'
                      f'model = dict(backbone=dict(extra=dict(num_stages=1, '
                      f'stages_spec={_one_module_spec("LITE")!r})))\n')
    code, _ = run_tool('export_aoti', str(config), 'unused.pth', '--shape', '128', '96',
                       '--cpu-kernels')
    assert code == 2
    stdout, _, out = _export('export_aoti', str(config), (128, 96), tmp_path, '--deploy',
                             '--cpu-kernels')
    assert 'AOTInductor vs PyTorch max abs diff' in stdout
    assert _package_kernel_calls(out) == (6 if cpu_kernels_available() else 0)


def test_aoti_package_refuses_a_dynamic_batch_example_of_one():
    from mmpose_litehrnet.deploy import compile_aot_package
    with pytest.raises(ValueError, match='example batch of at least 2 .*, got 1'):
        compile_aot_package(_small_deployed_network(), torch.zeros(1, 3, 128, 96),
                            'unused.pt2', dynamic_batch=True)


def test_channels_last_from_a_config_predicts_like_nchw():
    """``model.backbone.channels_last=True`` in a config: MMPose's own training step and
    inference run on the channels-last training form, with the NCHW form's loss and
    heatmaps (up to float32 rounding)."""
    from mmpose.apis import inference_topdown
    models = [random_pose_model(**{'model.backbone.channels_last': last})
              for last in (False, True)]
    assert [m.backbone.channels_last_devices for m in models] == [(), ('cpu', )]
    # The same numbers: calibrated in either layout, the statistics differ in rounding.
    models[1].load_state_dict(models[0].state_dict())
    image = random_image()
    heatmaps = [torch.as_tensor(inference_topdown(m, image)[0].pred_fields.heatmaps)
                for m in models]
    torch.testing.assert_close(heatmaps[1], heatmaps[0], rtol=0,
                               atol=1e-4 * heatmaps[0].abs().max().item())
    from mmengine.structures import InstanceData, PixelData
    from mmpose.structures import PoseDataSample
    losses = []
    for model in models:
        sample = PoseDataSample(metainfo=dict(input_size=(192, 256)))
        gen = torch.Generator().manual_seed(2)
        sample.gt_fields = PixelData(heatmaps=torch.rand(17, 64, 48, generator=gen))
        sample.gt_instance_labels = InstanceData(keypoint_weights=torch.ones(1, 17))
        image = torch.randint(0, 255, (3, 256, 192), dtype=torch.uint8, generator=gen)
        data = model.data_preprocessor(dict(inputs=[image], data_samples=[sample]), True)
        losses.append(model.train().loss(**data)['loss_kpt'])
    torch.testing.assert_close(losses[1], losses[0], rtol=1e-4, atol=0)


@pytest.mark.slow(seconds=20)
def test_aot_backbone_runs_in_mmposes_inference_and_compiles_once(tmp_path):
    """``switch_to_deploy(model, aot=DIR)`` on MMPose's top-down model (one Lite module,
    to keep the compile short): ``inference_topdown``, MMPose's own path, gives
    the eager deploy form's heatmaps from packages compiled at the first call of each
    kind, for 3 people (any batch) and then 1 (a batch of 1); a second model with the
    same weights loads them without compiling; other weights or another input size name
    other packages; with gradients the backbone runs its own forward."""
    from unittest import mock

    import numpy as np
    from mmpose.apis import inference_topdown

    from mmpose_litehrnet.deploy import switch_to_deploy
    small = {'model.backbone.extra.num_stages': 1,
             'model.backbone.extra.stages_spec': _one_module_spec('LITE')}
    trained = random_pose_model(**small)
    eager = switch_to_deploy(copy.deepcopy(trained))
    cache = str(tmp_path / 'cache')
    model = switch_to_deploy(copy.deepcopy(trained), aot=cache)
    image = random_image(3)
    people = np.array([[10, 20, 150, 220], [40, 0, 170, 200], [0, 30, 100, 230]], float)
    for boxes in (people, people[1:2]):
        actual = [r.pred_fields.heatmaps for r in inference_topdown(model, image, boxes)]
        expected = [r.pred_fields.heatmaps for r in inference_topdown(eager, image, boxes)]
        for a, e in zip(actual, expected):
            torch.testing.assert_close(a, e, rtol=0, atol=1e-4 * e.abs().max().item())
    runner = model.backbone.accelerator
    assert list(runner.packages) == [(False, (3, 256, 192)), (True, (3, 256, 192))]
    x = torch.zeros(1, 3, 256, 192)
    packages = [runner.package_path(x), runner.package_path(x[[0, 0]])]
    assert sorted(glob.glob(osp.join(cache, '*.pt2'))) == sorted(packages)
    if cpu_kernels_available():  # the stem, two transition paths, block, fusion, head
        assert [_package_kernel_calls(p) for p in packages] == [6, 6]

    again = switch_to_deploy(copy.deepcopy(trained), aot=cache)
    with mock.patch('mmpose_litehrnet.deploy.aot.compile_aot_package',
                    side_effect=AssertionError('compiled again')):
        for boxes in (people, people[1:2]):
            torch.testing.assert_close(
                inference_topdown(again, image, boxes)[0].pred_fields.heatmaps,
                inference_topdown(model, image, boxes)[0].pred_fields.heatmaps)

    assert again.backbone.accelerator.package_path(x) == packages[0]
    assert again.backbone.accelerator.package_path(torch.zeros(1, 3, 128, 96)) != packages[0]
    other = copy.deepcopy(trained)
    with torch.no_grad():
        other.backbone.stem.conv1.conv.weight.mul_(2)
    other = switch_to_deploy(other, aot=cache)
    assert other.backbone.accelerator.package_path(x) != packages[0]
    with torch.enable_grad():
        assert not again.backbone.accelerator.applies(x)


#: One config of each kind of head in the zoo, MMPose's RTMPose-t among them, at a size
#: it takes (the SimCC heads are built for theirs), and its tensor outputs.
HEAD_KINDS = {
    'simcc': ('simcc/coco/simcc_litehrnet-18_8xb64-210e_coco-256x192.py', (256, 192),
              'simcc_x (17, 384), simcc_y (17, 512)'),
    'rtmpose-head': ('rtmpose/coco/rtmpose_litehrnet-18_8xb256-420e_coco-256x192.py',
                     (256, 192), 'simcc_x (17, 384), simcc_y (17, 512)'),
    'rle': ('topdown_regression/coco/td-reg_litehrnet-18_rle-8xb64-210e_coco-256x192.py',
            (128, 96), 'coords (17, 4)'),
    'dekr': ('dekr/coco/dekr_litehrnet-18_8xb10-140e_coco-512x512.py', (128, 128),
             'heatmaps (18, 32, 32), displacements (34, 32, 32)'),
    'mmpose-rtmpose-t': ('mmpose::body_2d_keypoint/rtmpose/coco/'
                         'rtmpose-t_8xb256-420e_coco-256x192.py', (256, 192),
                         'simcc_x (17, 384), simcc_y (17, 512)'),
}


def _zoo_config(path: str) -> str:
    """A :data:`HEAD_KINDS` config as the tools take it."""
    return path if '::' in path else osp.join(ROOT, 'configs', 'body_2d_keypoint', path)


@pytest.mark.slow(seconds=15)
@pytest.mark.parametrize('tool', ['export_onnx', 'export_torchscript'])
@pytest.mark.parametrize('kind', sorted(HEAD_KINDS))
def test_every_kind_of_head_exports(kind, tool, tmp_path):
    """The ONNX and TorchScript tools export every kind of head in the zoo (SimCC, the
    RTMPose head, RLE, bottom-up DEKR; heatmap heads are above) and MMPose's own
    RTMPose-t by its ``mmpose::`` config, deploy form: each output named (ONNX) and
    checked against PyTorch within 1e-4 of the outputs' largest magnitude."""
    config, shape, outputs = HEAD_KINDS[kind]
    stdout, _, out = _export(tool, _zoo_config(config), shape, tmp_path, '--deploy')
    if tool == 'export_onnx':
        import onnx
        names = [o.name for o in onnx.load(out).graph.output]
        assert names == re.findall(r'(\w+) \(', outputs)
        assert f'{outputs} per image' in stdout
    else:
        assert 'TorchScript vs PyTorch max abs diff' in stdout


@pytest.mark.slow(seconds=40)
def test_aoti_tool_exports_a_head_of_two_outputs(tmp_path):
    """``tools/export_aoti.py`` packages a model with two outputs (SimCC) and checks both
    (the CPU kernels' package: seconds to compile, not minutes)."""
    config = _zoo_config(HEAD_KINDS['simcc'][0])
    stdout, _, out = _export('export_aoti', config, (256, 192), tmp_path, '--deploy',
                             '--cpu-kernels')
    assert 'output (17, 384), (17, 512) per image' in stdout and osp.getsize(out) > 1e5


@pytest.mark.parametrize('tool', ['export_onnx', 'export_torchscript', 'export_aoti'])
def test_export_tools_refuse_cid(tool, capsys):
    """CID's forward decodes a data-dependent number of people, which no fixed graph can
    hold: every export tool refuses it, saying why, before building anything."""
    config = osp.join(ROOT, 'configs', 'body_2d_keypoint', 'cid', 'coco',
                      'cid_litehrnet-18_8xb20-140e_coco-512x512.py')
    code, _ = run_tool(tool, config, 'no-checkpoint.pth', '--shape', '128', '128')
    assert code == 2
    assert 'CIDHead cannot be exported: its forward finds the people' in capsys.readouterr().err


def test_ncnn_tool_refuses_mmpose_dekr_head(capsys):
    """MMPose's own DEKR head computes its offsets on 6-D tensors, which ncnn does not
    hold: the ncnn tool refuses it, saying why and what exports, before building
    anything (our configs' GridSampleDEKRHead converts: below)."""
    config = 'mmpose::body_2d_keypoint/dekr/coco/dekr_hrnet-w32_8xb10-140e_coco-512x512.py'
    code, _ = run_tool('export_ncnn', config, 'no-checkpoint.pth', '--shape', '128', '128')
    assert code == 2
    assert 'DEKRHead cannot be exported to ncnn: its adaptive activation blocks' in \
        capsys.readouterr().err


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='sigaltstack: Linux')
def test_compiled_openvino_models_freed_oldest_first_leave_a_live_signal_stack():
    """OpenVINO's CPU plugin gives each compiled model a signal stack on the compiling
    thread and puts back the one it found when freed: two models freed oldest first left
    the thread on an unmapped stack, and the suite's SIGTERM test then crashed its worker.
    Through ``compile_openvino`` the thread's stack is the one it had, before and after
    both are freed (plain ``compile_model`` moves it: checked first)."""
    import ctypes
    import gc

    import numpy as np
    import openvino as ov
    import openvino.opset13 as ops

    from mmpose_litehrnet.deploy import compile_openvino

    class Stack(ctypes.Structure):
        _fields_ = [('ss_sp', ctypes.c_void_p), ('ss_flags', ctypes.c_int),
                    ('ss_size', ctypes.c_size_t)]

    def current() -> tuple:
        stack = Stack()
        assert ctypes.CDLL(None).sigaltstack(None, ctypes.byref(stack)) == 0
        return stack.ss_sp, stack.ss_flags, stack.ss_size

    x = ops.parameter([1, 3], np.float32)
    model = ov.Model([ops.relu(x)], [x])
    before = current()
    plain = ov.Core().compile_model(model, 'CPU')
    assert current() != before  # what the plugin does
    del plain
    gc.collect()
    assert current() == before
    first, second = compile_openvino(model), compile_openvino(model)
    assert current() == before
    for compiled in (first, second):
        assert compiled.create_infer_request().infer({0: np.ones((1, 3), np.float32)})
    del first
    gc.collect()
    del second
    gc.collect()
    assert current() == before


@pytest.mark.slow(seconds=12)
@pytest.mark.parametrize('kind', ['heatmap', 'mmpose-rtmpose-t'])
def test_openvino_tool_writes_a_checked_ir(kind, tmp_path):
    """``tools/export_openvino.py``: the deploy form's ONNX graph as OpenVINO IR (weights
    in float32: OpenVINO's default float16 weights had changed the heatmaps by 4.8e-2),
    compiled for the CPU in float32 and checked against PyTorch; MMPose's RTMPose-t by
    its ``mmpose::`` config, both outputs."""
    import openvino as ov
    config, shape = (COCO_LITEHRNET_18, (128, 96)) if kind == 'heatmap' else \
        (HEAD_KINDS[kind][0], (256, 192))
    stdout, _, out = _export('export_openvino', config, shape, tmp_path, '--deploy')
    assert 'OpenVINO vs PyTorch max abs diff' in stdout
    model = ov.Core().read_model(out)
    assert [o.get_any_name() for o in model.outputs] == (
        ['heatmaps'] if kind == 'heatmap' else ['simcc_x', 'simcc_y'])
    weights = [op.get_element_type() for op in model.get_ops()
               if op.get_type_name() == 'Constant' and len(op.get_output_partial_shape(0)) == 4]
    assert weights and all(t == ov.Type.f32 for t in weights)


@pytest.mark.slow(seconds=15)
@pytest.mark.parametrize('kind', ['heatmap', 'mmpose-rtmpose-t', 'dekr'])
def test_ncnn_tool_writes_a_network_that_matches_pytorch(kind, tmp_path):
    """``tools/export_ncnn.py``: pnnx's ncnn network of the deploy form, run by ncnn in
    float32, matches PyTorch within 1e-4 of the outputs' magnitude (the tool's check),
    both outputs of RTMPose-t and of DEKR too. Before traces stopped summing in place,
    ncnn's Lite-HRNet heatmaps were off by half their range; before DEKR's export form
    kept its batch first and its tensors 4-D, ncnn gave no displacements."""
    config, shape = (COCO_LITEHRNET_18, (128, 96)) if kind == 'heatmap' else \
        (_zoo_config(HEAD_KINDS[kind][0]), HEAD_KINDS[kind][1])
    stdout, _, out = _export('export_ncnn', config, shape, tmp_path, '--deploy')
    assert 'ncnn vs PyTorch max abs diff' in stdout
    assert {'heatmap': 'out0 = heatmaps;', 'mmpose-rtmpose-t': 'out0 = simcc_x, out1 = simcc_y;',
            'dekr': 'out0 = heatmaps, out1 = displacements;'}[kind] in stdout
    assert osp.getsize(out + '.bin') > 1e5


def test_traces_record_no_in_place_sums():
    """A JIT trace (what pnnx converts) of a fusion records its sums as new values: pnnx
    read a trace's ``add_`` as a new value while later nodes still read the old one.
    Eager passes without gradients still sum in place."""
    from mmpose_litehrnet.models import MultiResolutionFusion
    fusion = randomize_(MultiResolutionFusion((8, 16, 32))).eval()
    xs = [torch.randn(1, c, 16 >> i, 16 >> i) for i, c in enumerate((8, 16, 32))]

    class Fuse(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fusion = fusion

        def forward(self, a, b, c):
            return tuple(self.fusion([a, b, c]))

    with torch.no_grad():
        kinds = {node.kind() for node in torch.jit.trace(Fuse(), tuple(xs)).inlined_graph.nodes()}
        expected = fusion(xs)
    assert 'aten::add' in kinds and 'aten::add_' not in kinds
    from mmpose_litehrnet.models.layers import writes_in_place
    with torch.no_grad():
        assert writes_in_place()
    traced = torch.jit.trace(Fuse(), tuple(xs))
    for e, a in zip(expected, traced(*xs)):
        torch.testing.assert_close(a, e)


#: Per head type of the zoo, the export test that covers it with every tool (or why a
#: tool refuses it): a new kind of head in the zoo fails the test below until it is here.
ZOO_HEAD_COVERAGE = {
    'HeatmapHead': 'test_onnx_export_matches_pytorch, test_openvino_tool_writes_a_checked_ir, '
                   'test_ncnn_tool_writes_a_network_that_matches_pytorch, '
                   'test_torchscript_export_runs_without_python_and_matches_the_training_form',
    'SimCCHead': 'test_every_kind_of_head_exports[simcc]',
    'RTMCCHead': 'test_every_kind_of_head_exports[rtmpose-head]',
    'RLEHead': 'test_every_kind_of_head_exports[rle]',
    'GridSampleDEKRHead': 'test_every_kind_of_head_exports[dekr], '
                          'test_ncnn_tool_writes_a_network_that_matches_pytorch[dekr]',
    'CIDHead': 'test_export_tools_refuse_cid',
    'FCNHead': 'test_onnx_export_of_a_segmentor',
}


def test_every_zoo_config_has_an_export_test_of_its_kind():
    """Goes over the zoo: every config's head type is one that the export tests above
    cover (``tools/check_zoo_exports.py`` runs every tool on every config: about an
    hour)."""
    from mmengine.config import Config
    configs = [p for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
               if '_base_' not in p]
    assert len(configs) >= 29
    heads = {}
    for path in configs:
        model = Config.fromfile(path).model
        heads[osp.relpath(path, ROOT)] = (model.get('head') or model.get('decode_head'))['type']
    uncovered = {path: head for path, head in heads.items() if head not in ZOO_HEAD_COVERAGE}
    assert not uncovered
    assert set(heads.values()) == set(ZOO_HEAD_COVERAGE)
    named = {name.strip().split('[')[0] for tests in ZOO_HEAD_COVERAGE.values()
             for name in re.split('[,;]', tests) if name.strip().startswith('test_')}
    assert named <= set(globals()), named - set(globals())
