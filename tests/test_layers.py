"""The fused nearest-upsampling product and sum equal their definitions bit for bit; the
pooling forms equal their definitions."""
import pytest
import torch
import torch.nn.functional as F

from mmpose_litehrnet.models.layers import (
    adaptive_average_by_products,
    add_nearest,
    channel_shuffle,
    concat_shuffle,
    global_average,
    is_channels_last,
    mul_nearest,
    resize,
)

#: Sizes the fused form takes (ratios that are powers of two); others: see the fallback.
SIZES = [((16, 12), (8, 6)), ((16, 12), (4, 3)), ((32, 24), (4, 3)), ((8, 12), (8, 3)),
         ((8, 6), (8, 6))]


@pytest.fixture(params=['rows', '6-D'])
def broadcast(request, monkeypatch):
    """Both ways the fused ops broadcast, whatever the device: whole rows (chosen for CPU
    tensors) and 6-D blocks (chosen for GPU tensors, exercised here on the CPU)."""
    rows = request.param == 'rows'
    chosen = []

    def rows_first(x):
        chosen.append(rows)
        return rows
    monkeypatch.setattr(resize, '_rows_first', rows_first)
    yield
    assert chosen  # the fused form ran


@pytest.mark.parametrize('big_size,small_size', SIZES)
def test_fused_nearest_ops_equal_interpolate_then_op(big_size, small_size, broadcast):
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


@pytest.mark.parametrize('big_size,small_size', [((12, 9), (4, 3)), ((9, 7), (5, 4)),
                                                    ((12, 12), (4, 4))])
def test_non_power_of_two_ratios_fall_back_to_interpolate(big_size, small_size):
    """The plain definition: in every layout, and in place even into a channel slice."""
    x, y = torch.randn(2, 6, *big_size), torch.randn(2, 6, *small_size)
    assert resize._power_of_two_ratios(x, y) is None
    up = F.interpolate(y, size=big_size, mode='nearest')
    for xc in (x, *_channels_last_forms(x)):
        assert torch.equal(mul_nearest(xc, y), x * up)
        assert torch.equal(add_nearest(xc, y), x + up)
        target = xc.clone() if xc is x else xc
        assert add_nearest(target, y, in_place=True) is target
        assert torch.equal(target, x + up)


def _channels_last_forms(x: torch.Tensor):
    """``x`` as a channels_last tensor and as the second half of a wider one."""
    wide = torch.cat((torch.randn_like(x), x), dim=1).contiguous(
        memory_format=torch.channels_last)
    return x.contiguous(memory_format=torch.channels_last), wide[:, x.shape[1]:]


def test_is_channels_last():
    x = torch.randn(2, 6, 5, 4)
    full, half = _channels_last_forms(x)
    assert is_channels_last(full) and is_channels_last(half)
    assert not is_channels_last(x) and not is_channels_last(x[:, 3:])
    # (N, C, 1, 1) and one-channel tensors are both layouts at once: counted as NCHW.
    assert not is_channels_last(torch.randn(2, 6, 1, 1).contiguous(
        memory_format=torch.channels_last))
    assert not is_channels_last(torch.randn(2, 1, 5, 4).contiguous(
        memory_format=torch.channels_last))


@pytest.mark.parametrize('big_size,small_size', SIZES)
def test_channels_last_paths_equal_the_definitions_and_keep_the_layout(big_size, small_size,
                                                                       broadcast):
    """The deploy form runs channels-last on the CPU: full tensors and channel slices."""
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(2, 6, *big_size, generator=gen)
    y = torch.randn(2, 6, *small_size, generator=gen)
    up = F.interpolate(y, size=big_size, mode='nearest')
    for xc in _channels_last_forms(x):
        for yc in (y, *_channels_last_forms(y)):
            for fused, op in ((mul_nearest, torch.mul), (add_nearest, torch.add)):
                actual = fused(xc, yc)
                assert torch.equal(actual, op(x, up))
                assert actual.is_contiguous(memory_format=torch.channels_last)
    a, b = torch.randn(2, 6, *big_size, generator=gen), x
    expected = channel_shuffle(torch.cat((a, b), dim=1), 2)
    for ac, bc in zip(_channels_last_forms(a), _channels_last_forms(b)):
        actual = concat_shuffle(ac, bc)
        assert torch.equal(actual, expected)
        assert actual.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize('big_size,small_size', SIZES)
def test_in_place_sum_writes_into_dense_tensors_only(big_size, small_size, broadcast):
    """``add_nearest(..., in_place=True)`` gives the out-of-place sum; it overwrites and
    returns ``x`` at least when ``x`` is dense (NCHW or channels-last), and otherwise
    leaves ``x`` as it was."""
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(2, 6, *big_size, generator=gen)
    y = torch.randn(2, 6, *small_size, generator=gen)
    expected = x + F.interpolate(y, size=big_size, mode='nearest')
    full, half = _channels_last_forms(x)
    for xc in (x.clone(), full, half):
        dense = xc.is_contiguous() or xc.is_contiguous(memory_format=torch.channels_last)
        before = xc.clone()
        actual = add_nearest(xc, y, in_place=True)
        assert torch.equal(actual, expected)
        assert actual is xc or not dense
        assert torch.equal(xc, expected if actual is xc else before)


@pytest.mark.parametrize('shape', [(1, 20, 64, 48), (1, 160, 8, 6), (2, 6, 5, 4), (1, 6, 1, 1)])
def test_global_average_is_the_spatial_mean_in_every_layout(shape):
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(3))
    for xc in (x, *_channels_last_forms(x)):
        actual = global_average(xc)
        assert actual.shape == shape[:2]
        torch.testing.assert_close(actual, x.mean((2, 3)), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize('shape,size', [
    ((1, 20, 63, 48), (8, 6)), ((2, 3, 65, 49), (9, 7)), ((1, 4, 16, 12), (8, 6)),
    ((1, 2, 5, 4), (7, 6)), ((1, 2, 5, 4), (1, 1))])
def test_adaptive_average_by_products_is_adaptive_pooling(shape, size):
    """Windows of unequal length (63 -> 8), overlapping ones (65 -> 9), equal ones, more
    outputs than inputs, and the global average."""
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(adaptive_average_by_products(x, size),
                               F.adaptive_avg_pool2d(x, size), rtol=1e-6, atol=1e-6)
