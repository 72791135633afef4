"""The fused nearest-upsampling product and sum equal their definitions bit for bit."""
import pytest
import torch
import torch.nn.functional as F

from mmpose_litehrnet.models.layers import add_nearest, mul_nearest
from mmpose_litehrnet.models.layers.resize import _blocks, _power_of_two_ratios

SIZES = [((16, 12), (8, 6)), ((16, 12), (4, 3)), ((32, 24), (4, 3)), ((8, 12), (8, 3)),
         ((8, 6), (8, 6)), ((9, 7), (5, 4)), ((12, 12), (4, 4))]


@pytest.mark.parametrize('big_size,small_size', SIZES)
def test_fused_nearest_ops_equal_interpolate_then_op(big_size, small_size):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 5, *big_size, generator=gen, requires_grad=True)
    y = torch.randn(2, 5, *small_size, generator=gen, requires_grad=True)
    up = F.interpolate(y, size=big_size, mode='nearest')
    for fused, op in ((mul_nearest, torch.mul), (add_nearest, torch.add)):
        actual, expected = fused(x, y), op(x, up)
        assert torch.equal(actual, expected)
        grad = torch.randn(expected.shape, generator=gen)
        got = torch.autograd.grad(actual, (x, y), grad)
        want = torch.autograd.grad(expected, (x, y), grad)
        for a, b in zip(got, want):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)  # summation order


@pytest.mark.parametrize('big_size,small_size', [s for s in SIZES if s[0] != s[1]][:4])
def test_both_broadcast_layouts_repeat_each_element_over_its_block(big_size, small_size):
    """Row-wise (CPU) and 6-D (GPU) layouts give the same product; the GPU one is
    exercised here on the CPU."""
    x, y = torch.randn(1, 3, *big_size), torch.randn(1, 3, *small_size)
    ratios = _power_of_two_ratios(x, y)
    expected = x * F.interpolate(y, size=big_size, mode='nearest')
    for rows in (True, False):
        big, small = _blocks(x, y, ratios, rows=rows)
        assert torch.equal((big * small).reshape(x.shape), expected)


def test_non_power_of_two_ratios_fall_back_to_interpolate():
    x, y = torch.randn(1, 2, 12, 9), torch.randn(1, 2, 4, 3)
    assert _power_of_two_ratios(x, y) is None
    assert torch.equal(add_nearest(x, y), x + F.interpolate(y, size=(12, 9), mode='nearest'))
