"""The deploy form's CPU kernels (one call per conditional channel weighting block, per
fusion, per shuffle unit, per stem, per transition path and per iterative head) against
the PyTorch operators of the same deploy form and the training form."""
import copy
import pickle
import shutil

import pytest
import torch
from conftest import (
    VARIANT_NAMES,
    calibrate_,
    random_image,
    random_pose_model,
    randomize_,
    relative_error,
)
from torch import nn
from torch.profiler import profile

from mmpose_litehrnet.deploy import switch_to_deploy
from mmpose_litehrnet.kernels import (
    LIBRARY,
    conv_operands,
    cpu_kernels_available,
    kernel_modules,
    make_kernel_operands,
    pack_operands,
)
from mmpose_litehrnet.models.backbones import LiteHRNet
from mmpose_litehrnet.models.blocks import (
    ConditionalChannelWeighting,
    IterativeHead,
    MergedBranchStem,
    MultiResolutionFusion,
    ShuffleUnit,
    Transition,
)

BLOCK, FUSION, UNIT = 'conditional_channel_weighting', 'multi_resolution_fusion', 'shuffle_unit'
KERNELS = (BLOCK, FUSION, UNIT, 'stem', 'depthwise_separable', 'iterative_head')


@pytest.fixture(scope='module', autouse=True)
def _kernels_built():
    """Where PyTorch can build extensions (a C++ compiler), the kernels must build: a
    failure is not a skip."""
    if shutil.which('c++') is None and shutil.which('g++') is None:
        pytest.skip('no C++ compiler: the deploy form runs its PyTorch operators')
    assert cpu_kernels_available()


def kernel_calls(model, x):
    """The outputs of ``model(x)`` without gradients and the number of calls of each
    kernel it made."""
    with torch.no_grad(), profile() as prof:
        out = model(x)
    names = [e.name for e in prof.events()]
    return out, {k: names.count(f'mmpose_litehrnet::{k}') for k in KERNELS}


def operands_of(module):
    """The operands that the kernel adapter installed on ``module`` makes."""
    return module.accelerator.operands(module)


def modules_of(model):
    """The kernel calls of one pass of a deployed model: one per block, fusion, shuffle
    unit, stem and head, one per transition path that is not an identity."""
    def count(kind):
        return sum(isinstance(m, kind) for m in model.modules())

    paths = sum(not isinstance(path, nn.Identity) for m in model.modules()
                if isinstance(m, Transition) for path in m)
    return dict(zip(KERNELS, (count(ConditionalChannelWeighting), count(MultiResolutionFusion),
                              count(ShuffleUnit), count(MergedBranchStem), paths,
                              count(IterativeHead))))


@pytest.mark.parametrize('variant', VARIANT_NAMES)
def test_kernels_give_the_operators_outputs(variant):
    """Every block (shuffle unit for the Naive variants) and fusion runs as one kernel
    call, at batch 2; the outputs are as close to the training form's as the deploy
    form's PyTorch operators are (both are float32 and sum in other orders: relative L2
    errors of 5e-6 to 5e-5 here)."""
    model = calibrate_(randomize_(LiteHRNet(variant, out_indices=(0, 1, 2, 3)), seed=4))
    x = torch.randn(2, 3, 128, 96, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        training = model(x)
        operators = switch_to_deploy(copy.deepcopy(model), cpu_kernels=False)(x)
    deployed = switch_to_deploy(model)
    actual, calls = kernel_calls(deployed, x)
    expected_calls = modules_of(deployed)
    assert calls == expected_calls and expected_calls[FUSION] in (8, 14)
    assert expected_calls[BLOCK if 'naive' not in variant else UNIT] > 0
    assert expected_calls['stem'] == expected_calls['iterative_head'] == 1
    assert expected_calls['depthwise_separable'] >= 3
    for a, b, t in zip(actual, operators, training):
        assert a.is_contiguous(memory_format=torch.channels_last)
        assert relative_error(a, t) <= 1.5 * relative_error(b, t) + 1e-6
        torch.testing.assert_close(a, t, rtol=0, atol=1e-4 * t.abs().max().item())


def test_packed_kernels_give_the_list_kernels_outputs(monkeypatch):
    """The packed twins of the kernels that return lists of branches (which the compiled
    graph calls) give the same outputs, unpacked in order, at batch 2."""
    model = switch_to_deploy(calibrate_(randomize_(
        LiteHRNet('litehrnet_18', out_indices=(0, 1, 2, 3)), seed=4)))
    x = torch.randn(2, 3, 128, 96, generator=torch.Generator().manual_seed(0))
    expected, calls = kernel_calls(model, x)
    monkeypatch.setattr(torch.compiler, 'is_compiling', lambda: True)
    with torch.no_grad(), profile() as prof:
        actual = model(x)
    names = [e.name for e in prof.events()]
    for kernel in (BLOCK, FUSION, 'iterative_head'):
        assert names.count(f'mmpose_litehrnet::{kernel}_packed') == calls[kernel] > 0
    for a, e in zip(actual, expected):
        assert torch.equal(a, e)


def test_mmposes_inference_runs_the_kernels():
    """MMPose's own ``inference_topdown`` on the deployed top-down model calls the kernels
    (16 blocks, 8 fusions, 4 transition paths, the stem and the head per pass; the
    config's flip test makes two passes) and gives
    the training form's heatmaps."""
    import numpy as np
    from mmpose.apis import inference_topdown
    trained = random_pose_model()
    deployed = switch_to_deploy(copy.deepcopy(trained))
    image, boxes = random_image(1), np.array([[10, 20, 150, 220], [40, 0, 170, 200]], float)
    with profile() as prof:
        actual = [r.pred_fields.heatmaps for r in inference_topdown(deployed, image, boxes)]
    names = [e.name for e in prof.events()]
    assert {k: names.count(f'mmpose_litehrnet::{k}') for k in KERNELS} == {
        k: 2 * n for k, n in modules_of(deployed).items()}
    for a, r in zip(actual, inference_topdown(trained, image, boxes)):
        expected = r.pred_fields.heatmaps
        torch.testing.assert_close(a, expected, rtol=0, atol=1e-4 * expected.abs().max().item())


def test_operators_run_where_the_kernels_do_not_apply():
    """Branch sizes that do not halve exactly run the blocks' and fusions' operators (the
    stem, transitions and head take any size); gradients, an NCHW deploy form
    (``channels_last=False``), tracing and ``cpu_kernels=False`` run every operator."""
    model = switch_to_deploy(calibrate_(randomize_(LiteHRNet('litehrnet_18'), seed=2)))
    x = torch.randn(1, 3, 100, 76, generator=torch.Generator().manual_seed(0))
    calls = kernel_calls(model, x)[1]  # 25x19 -> 13x10 -> 7x5 -> 4x3
    assert calls == dict(modules_of(model), **{BLOCK: 0, FUSION: 0})
    with profile() as prof:
        model(x[..., :64, :64].contiguous())
    assert not any(e.name.startswith('mmpose_litehrnet::') for e in prof.events())
    nchw = switch_to_deploy(calibrate_(randomize_(LiteHRNet('litehrnet_18'), seed=2)),
                            channels_last=False)
    assert not any(kernel_calls(nchw, x[..., :64, :64])[1].values())
    off = switch_to_deploy(calibrate_(randomize_(LiteHRNet('litehrnet_18'), seed=2)),
                           cpu_kernels=False)
    assert not kernel_modules(off)
    assert not any(kernel_calls(off, x[..., :64, :64])[1].values())


def test_kernels_follow_the_weights():
    """A state dict loaded after ``switch_to_deploy`` (copied in, or assigned), or a copy
    whose weights change, gives the new weights' outputs: the kernels' operands are
    derived again (the stem's expansion then multiplies every channel); a pickled
    deployed model runs its kernels too."""
    def deployed(seed):
        return switch_to_deploy(calibrate_(randomize_(LiteHRNet('litehrnet_18'), seed=seed)))

    first, second = deployed(1), deployed(2)
    x = torch.randn(1, 3, 128, 96, generator=torch.Generator().manual_seed(0))
    expected = kernel_calls(second, x)[0][0]
    kernel_calls(first, x)  # operands of the first weights cached
    first.load_state_dict(second.state_dict())
    torch.testing.assert_close(kernel_calls(first, x)[0][0], expected, rtol=0, atol=0)
    copied = copy.deepcopy(first)
    with torch.no_grad():
        for p in copied.parameters():
            p.mul_(0.9)
    changed = kernel_calls(copied, x)[0][0]
    # No identity rows left in the copy's expansion.
    assert (first.stem.passed_channels(), copied.stem.passed_channels()) == (16, 0)
    reference = switch_to_deploy(copy.deepcopy(copied), cpu_kernels=False)
    torch.testing.assert_close(changed, reference(x)[0].detach(), rtol=0,
                               atol=1e-5 * changed.abs().max().item())
    torch.testing.assert_close(kernel_calls(first, x)[0][0], expected, rtol=0, atol=0)
    torch.testing.assert_close(kernel_calls(pickle.loads(pickle.dumps(first)), x)[0][0],
                               expected, rtol=0, atol=0)
    third = deployed(3)
    kernel_calls(third, x)
    third.load_state_dict(copy.deepcopy(second.state_dict()), assign=True)  # new tensors
    torch.testing.assert_close(kernel_calls(third, x)[0][0], expected, rtol=0, atol=0)


def test_kernel_outputs_outlive_later_passes():
    """The kernels' outputs and scratch memory come from a cache of freed blocks: outputs
    still held are never handed out again, so a later pass leaves them as they were."""
    model = switch_to_deploy(calibrate_(randomize_(LiteHRNet('litehrnet_18',
                                                             out_indices=(0, 1, 2, 3)), seed=3)))
    first, second = (torch.randn(1, 3, 128, 96, generator=torch.Generator().manual_seed(s))
                     for s in (0, 1))
    held, calls = kernel_calls(model, first)
    assert calls[FUSION] == 8
    copies = [t.clone() for t in held]
    for _ in range(3):
        kernel_calls(model, second)
    for t, c in zip(held, copies):
        assert torch.equal(t, c)


def test_kernels_check_their_operands():
    """A wrongly shaped operand, or a layout that does not describe the packed operands,
    is an error, not a read past the end of a buffer."""
    model = switch_to_deploy(calibrate_(randomize_(LiteHRNet('litehrnet_18'), seed=2)))
    module = model.stage0[0]  # its fusion and ReLU are one kernel call
    xs = [torch.randn(1, c, 32 >> k, 24 >> k).contiguous(memory_format=torch.channels_last)
          for k, c in enumerate((40, 80))]
    fuse = torch.ops.mmpose_litehrnet.multi_resolution_fusion
    tensors = [t for conv in module.accelerator._convs(module) for t in conv_operands(conv)]
    flat, layout = operands_of(module)
    assert all(torch.equal(a, b) for a, b in zip(fuse(xs, flat, layout), fuse(
        xs, *pack_operands(tensors))))
    with pytest.raises(RuntimeError, match='shape'):
        fuse(xs, *pack_operands([tensors[1], *tensors[1:]]))
    with pytest.raises(RuntimeError, match='parameters'):
        fuse(xs, *pack_operands(tensors[:-1]))
    with pytest.raises(RuntimeError, match='describes more'):
        fuse(xs, flat[:-1], layout)
    with pytest.raises(RuntimeError, match='describes'):
        fuse(xs, torch.cat([flat, flat[:16]]), layout)
    with pytest.raises(RuntimeError, match='malformed'):
        fuse(xs, flat, torch.cat([layout, torch.tensor([3, 1])]))
    block = model.stage0[0].layers[0]
    with pytest.raises(RuntimeError, match='empty'):
        torch.ops.mmpose_litehrnet.conditional_channel_weighting(
            [x[..., :0, :] for x in xs], *operands_of(block))
    head = torch.ops.mmpose_litehrnet.iterative_head
    with pytest.raises(RuntimeError, match='parameters'):
        head(xs, *operands_of(model.head_layer))  # four branches' operands, two inputs
    stride, width, *path = operands_of(model.transition1)[2]
    assert (stride, width) == (2, 160)
    separable = torch.ops.mmpose_litehrnet.depthwise_separable
    assert separable(xs[1], stride, width, *path).shape == (1, 160, 8, 6)
    with pytest.raises(RuntimeError, match='shape'):
        separable(xs[0], stride, width, *path)  # 40 channels for an 80-channel path
    stem, image = torch.ops.mmpose_litehrnet.stem, torch.randn(1, 3, 64, 48)
    flat, layout, passed = operands_of(model.stem)
    assert passed == 16 and stem(image, flat, layout, passed, 32).shape == (1, 32, 16, 12)
    with pytest.raises(RuntimeError, match='shape'):
        stem(image, flat, layout, 0, 32)


def test_kernels_can_be_turned_off(monkeypatch):
    """``MMPOSE_LITEHRNET_CPU_KERNELS=0`` turns the kernels off for the process."""
    monkeypatch.setattr(LIBRARY, 'loaded', None)
    monkeypatch.setenv('MMPOSE_LITEHRNET_CPU_KERNELS', '0')
    assert not cpu_kernels_available()
    model = switch_to_deploy(calibrate_(randomize_(LiteHRNet('litehrnet_18'), seed=2)))
    assert not any(kernel_calls(model, torch.randn(1, 3, 64, 64))[1].values())


def test_make_kernel_operands_loads_the_kernels(monkeypatch):
    """``make_kernel_operands`` (which ``compile_for_cpu_inference`` calls first) loads the
    kernels: their first load inside a compile broke the graph into nine."""
    model = switch_to_deploy(calibrate_(randomize_(LiteHRNet('litehrnet_18'), seed=2)))
    builds = []
    monkeypatch.setattr(LIBRARY, 'loaded', None)
    monkeypatch.setattr(LIBRARY, 'build', builds.append)
    make_kernel_operands(model)
    assert LIBRARY.loaded and len(builds) == 1


def test_a_failed_build_warns_and_runs_the_operators(monkeypatch, tmp_path):
    """Where no flag set compiles, a warning names the errors and the deploy form runs
    its operators."""
    monkeypatch.setattr(LIBRARY, 'loaded', None)
    monkeypatch.setattr(LIBRARY, 'flag_sets', (['-fno-such-option-for-the-test'], ))
    monkeypatch.setenv('MMPOSE_LITEHRNET_CACHE', str(tmp_path))
    with pytest.warns(UserWarning, match='could not be built.*-fno-such-option-for-the-test'):
        assert not cpu_kernels_available()
    model = switch_to_deploy(calibrate_(randomize_(LiteHRNet('litehrnet_18'), seed=2)))
    assert not any(kernel_calls(model, torch.randn(1, 3, 64, 64))[1].values())


@pytest.mark.parametrize('variant', ['litehrnet_18', 'naive_litehrnet_18'])
def test_nan_and_inf_propagate_as_in_the_operators(variant):
    """A NaN and an Inf in a kernel-backed module's input give NaN and Inf exactly where
    the same module on PyTorch's operators gives them (every kind of module: stem,
    transitions, blocks or shuffle units, fusions, head), and one NaN or Inf pixel in
    the image makes every heatmap value NaN, as in the training form: a corrupted frame
    does not come out as confident keypoints."""
    trained = calibrate_(randomize_(LiteHRNet(variant, out_indices=(0, 1, 2, 3)), seed=5))
    operators = switch_to_deploy(copy.deepcopy(trained), cpu_kernels=False)
    kernels = switch_to_deploy(copy.deepcopy(trained))
    names = {m: name for name, m in kernels.named_modules()}
    inputs = {}
    hooks = [m.register_forward_pre_hook(
        lambda module, args: inputs.setdefault(names[module], args[0]))
        for m in kernel_modules(kernels)]
    image = torch.randn(1, 3, 128, 96, generator=torch.Generator().manual_seed(0))
    kernel_calls(kernels, image)
    for hook in hooks:
        hook.remove()
    assert len(inputs) == len(kernel_modules(kernels))

    def corrupt(x, value, k):
        x = x.clone()
        x[0, k % x.shape[1], x.shape[2] // 2, x.shape[3] // 3] = value
        return x

    for name, x in inputs.items():
        branches = x if isinstance(x, list) else [x]
        bad = [corrupt(corrupt(b, float('nan'), 1), float('inf') * (-1) ** k, 7)
               for k, b in enumerate(branches)]
        bad = bad if isinstance(x, list) else bad[0]
        actual, calls = kernel_calls(kernels.get_submodule(name), bad)
        assert sum(calls.values()) > 0
        with torch.no_grad():
            expected = operators.get_submodule(name)(bad)
        for a, e in zip(actual if isinstance(actual, list) else [actual],
                        expected if isinstance(expected, list) else [expected]):
            assert torch.equal(a.isnan(), e.isnan()) and torch.equal(a.isinf(), e.isinf())
            assert e.isnan().any()
    for value in (float('nan'), float('inf')):
        out = kernel_calls(kernels, corrupt(image, value, 1))[0]
        with torch.no_grad():
            assert all(t.isnan().all() for t in trained(corrupt(image, value, 1)))
        assert all(t.isnan().all() for t in out)
