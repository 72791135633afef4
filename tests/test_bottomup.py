"""Bottom-up DEKR: the grid_sample deformable convolution against mmcv's op, our DEKR head
against MMPose's (also as exports trace them: at most 4-D tensors, for ncnn), and the
message for a batched test."""
import pytest
import torch
from conftest import ROOT, data_options, run_in_process

from mmpose_litehrnet.models.layers import GridSampleDeformConv2d, portable_trace

DEKR_SYNTHETIC = (f'{ROOT}/configs/body_2d_keypoint/dekr/synthetic/'
                  'dekr_litehrnet-18_1xb10-12e_synthetic-crowd-128x128.py')


def portable_outputs(module: torch.nn.Module, *inputs) -> tuple:
    """``module``'s outputs from its JIT trace inside ``portable_trace`` (the graph exports
    record), and the largest rank of any tensor in that graph."""
    with torch.no_grad(), portable_trace():
        traced = torch.jit.trace(module, inputs, check_trace=False)
    ranks = [value.type().dim() or 0 for node in traced.inlined_graph.nodes()
             for value in node.outputs() if isinstance(value.type(), torch.TensorType)]
    with torch.no_grad():
        return traced(*inputs), max(ranks)


@pytest.mark.parametrize('in_channels,out_channels,kernel,stride,padding,dilation,groups,'
                         'deform_groups', [
                             (30, 30, 3, 1, 1, 1, 3, 3),  # DEKR's: groups = deform groups
                             (8, 6, 3, 2, 1, 1, 1, 2),
                             (6, 4, (3, 2), 1, (2, 1), 2, 2, 1),
                             (4, 8, 1, 1, 0, 1, 1, 4),
                         ])
def test_grid_sample_deform_conv_equals_mmcv(in_channels, out_channels, kernel, stride,
                                             padding, dilation, groups, deform_groups):
    """Forward and every gradient equal mmcv's DeformConv2d (float64), offsets reaching
    outside the input included; so does the export form, whose tensors are at most 4-D
    (its deform groups stacked into one tall image between zero rows)."""
    from mmcv.ops import DeformConv2d

    torch.manual_seed(0)
    theirs = DeformConv2d(in_channels, out_channels, kernel, stride, padding, dilation,
                          groups, deform_groups, bias=False).double()
    ours = GridSampleDeformConv2d.from_deform_conv(theirs)
    assert ours.weight is theirs.weight
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ['weight']
    x = torch.randn(2, in_channels, 9, 7, dtype=torch.float64, requires_grad=True)
    k = ours.kernel_size[0] * ours.kernel_size[1]
    h_out, w_out = torch.nn.functional.conv2d(
        x, theirs.weight, stride=ours.stride, padding=ours.padding, dilation=ours.dilation,
        groups=groups).shape[-2:]
    offset = (3 * torch.randn(2, 2 * deform_groups * k, h_out, w_out,
                              dtype=torch.float64)).requires_grad_()
    expected, actual = theirs(x, offset), ours(x, offset)
    torch.testing.assert_close(actual, expected, rtol=0, atol=1e-12)
    portable, rank = portable_outputs(ours, x, offset)
    torch.testing.assert_close(portable, expected, rtol=0, atol=1e-12)
    assert rank == 4
    grads = [torch.autograd.grad(out.square().sum(), (x, offset, theirs.weight))
             for out in (expected, actual)]
    for theirs_grad, ours_grad in zip(*grads):
        torch.testing.assert_close(ours_grad, theirs_grad, rtol=0, atol=1e-10)


def test_grid_sample_deform_conv_names_bad_groups():
    with pytest.raises(ValueError, match='in_channels=10 must be a multiple of groups=3'):
        GridSampleDeformConv2d(10, 6, 3, groups=3)
    with pytest.raises(ValueError, match='deform_groups=4'):
        GridSampleDeformConv2d(10, 10, 3, deform_groups=4)


def test_grid_sample_dekr_head_is_mmpose_dekr_head():
    """Built from the same arguments and seed, our head has MMPose's initial weights, the
    same state dict, and the same outputs (float64), also as exports trace it (at most
    4-D tensors: offsets by a grouped 1x1 convolution)."""
    from mmpose.models.heads import DEKRHead

    from mmpose_litehrnet.models.heads import GridSampleDEKRHead

    args = dict(in_channels=32, num_keypoints=4, num_heatmap_filters=8,
                num_displacement_filters_per_keypoint=3)
    heads = []
    for cls in (DEKRHead, GridSampleDEKRHead):
        torch.manual_seed(0)
        head = cls(**args)
        head.init_weights()
        heads.append(head.double().eval())
    theirs, ours = heads
    assert sum(isinstance(m, GridSampleDeformConv2d) for m in ours.modules()) == 2
    theirs_state, ours_state = theirs.state_dict(), ours.state_dict()
    assert list(ours_state) == list(theirs_state)
    for key, value in theirs_state.items():
        assert torch.equal(ours_state[key], value), key
    feats = (torch.randn(2, 32, 12, 10, dtype=torch.float64), )
    with torch.no_grad():
        for expected, actual in zip(theirs.forward(feats), ours.forward(feats)):
            torch.testing.assert_close(actual, expected, rtol=0, atol=1e-10)
        portable, rank = portable_outputs(ours, feats)
        for expected, actual in zip(theirs.forward(feats), portable):
            torch.testing.assert_close(actual, expected, rtol=0, atol=1e-10)
    assert rank == 4  # MMPose's adaptive activation reshapes to 6-D


@pytest.mark.slow
def test_bottomup_test_with_batches_says_dekr_needs_batch_1(tiny_data, tmp_path):
    """Testing DEKR with a batch of 2 fails with MMPose's message naming the batch size,
    not a shape error."""
    from mmpose_litehrnet.workflow import save_initial_checkpoint

    checkpoint = str(tmp_path / 'untrained.pth')
    save_initial_checkpoint(DEKR_SYNTHETIC, checkpoint)
    options = data_options(tiny_data, DEKR_SYNTHETIC) + ['test_dataloader.batch_size=2']
    with pytest.raises(AssertionError,
                       match='DEKRHead only supports prediction with batch_size 1, but got 2'):
        run_in_process(DEKR_SYNTHETIC, options, str(tmp_path), checkpoint)
