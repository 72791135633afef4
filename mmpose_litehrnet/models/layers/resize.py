"""Nearest-neighbour resizing, as a module and fused into a product or a sum; bilinear
upsampling that avoids a slow GPU kernel."""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from .layout import is_channels_last
from .tracing import is_exporting_onnx

__all__ = ['NearestResize', 'add_nearest', 'mul_nearest', 'upsample_bilinear']


def _interpolate(x: Tensor, size: Sequence[int], mode: str,
                 align_corners: Optional[bool] = None) -> Tensor:
    """``F.interpolate(x, size=size, ...)``. In ONNX export, a size that is a whole
    multiple of ``x``'s is given as scale factors instead: the ``Resize`` node then takes
    constant scales, not a size assembled from ``Shape`` nodes (the same result at whole
    factors, where the scale is exactly the ratio of the sizes)."""
    if is_exporting_onnx():
        (h, w), (th, tw) = ((int(a), int(b)) for a, b in (x.shape[-2:], size))
        if th % h == 0 and tw % w == 0:
            return F.interpolate(x, scale_factor=(float(th // h), float(tw // w)), mode=mode,
                                 align_corners=align_corners)
    return F.interpolate(x, size=size, mode=mode, align_corners=align_corners)


def _power_of_two_ratios(big: Tensor, small: Tensor) -> Optional[Tuple[int, int]]:
    """(k_h, k_w) when ``big``'s size is ``small``'s times powers of two, else None."""
    (h, w), (sh, sw) = big.shape[-2:], small.shape[-2:]
    if h % sh or w % sw:
        return None
    kh, kw = h // sh, w // sw
    return (kh, kw) if kh & (kh - 1) == 0 and kw & (kw - 1) == 0 else None


def _fusable_ratios(big: Tensor, small: Tensor) -> Optional[Tuple[int, int]]:
    """The block ratios when the fused form applies. Not in ONNX export: there the plain
    ``Resize`` + ``Mul`` / ``Add`` graph runs faster in ONNX Runtime than the reshaped
    broadcasts (measured on Lite-HRNet-18 at 256x192, 2 CPU threads: 51 ms -> 32 ms)."""
    if is_exporting_onnx():
        return None
    return _power_of_two_ratios(big, small)


def _rows_first(x: Tensor) -> bool:
    """Whether the fused ops broadcast whole rows (CPU kernels) rather than 6-D blocks
    (GPU kernels) for ``x``: see :func:`_blocks`."""
    return not x.is_cuda


def _blocks(big: Tensor, small: Tensor, ratios: Tuple[int, int],
            rows: bool) -> Tuple[Tensor, Tensor]:
    """Views under which broadcasting ``small`` against ``big`` (NCHW) repeats each
    element over its k_h x k_w block.

    With ``rows`` (for the CPU), ``small`` is first repeated along the width, a copy of
    1/k_h of ``big``, and whole rows are broadcast: CPU kernels run a 6-D broadcast with a
    k_w-long innermost loop several times slower. GPU kernels do not care, and there the
    extra copy would be one more kernel launch, so ``rows=False`` broadcasts in 6-D.
    """
    n, c, h, w = big.shape
    (kh, kw), (sn, sc, sh, sw) = ratios, small.shape
    if not rows:
        return big.reshape(n, c, sh, kh, sw, kw), small.reshape(sn, sc, sh, 1, sw, 1)
    repeated = small.reshape(sn, sc, sh, sw, 1).expand(sn, sc, sh, sw, kw)
    return big.reshape(n, c, sh, kh, w), repeated.reshape(sn, sc, sh, 1, w)


def _nhwc_blocks(big: Tensor, small: Tensor, ratios: Tuple[int, int],
                 rows: bool) -> Tuple[Tensor, Tensor]:
    """:func:`_blocks` for channels-last tensors: with ``rows``, (N, h, k_h, W, C) views,
    the innermost loop running over whole rows of pixels (W x C) where ``big`` is dense;
    without, (N, h, k_h, w, k_w, C) views (no copy of ``small``)."""
    n, c, h, w = big.shape
    (kh, kw), (sn, sc, sh, sw) = ratios, small.shape
    pixels, small_pixels = big.permute(0, 2, 3, 1), small.permute(0, 2, 3, 1)
    if not rows:
        return (pixels.reshape(n, sh, kh, sw, kw, c),
                small_pixels.reshape(sn, sh, 1, sw, 1, sc))
    repeated = small_pixels.unsqueeze(3).expand(sn, sh, sw, kw, sc)
    return pixels.reshape(n, sh, kh, w, c), repeated.reshape(sn, sh, 1, w, sc)


def _nearest_op(op: str, x: Tensor, small: Tensor, in_place: bool = False) -> Tensor:
    """``x <op> interpolate(small, size=x.shape[-2:], mode='nearest')`` (``op`` is
    ``'add'`` or ``'mul'``) without building the upsampled tensor when the sizes differ by
    powers of two (then bit-identical: each element of ``small`` meets its block of
    ``x``); otherwise the plain definition. The result has ``x``'s layout (NCHW or
    channels-last). With ``in_place`` the result may be written into ``x`` (use the
    returned tensor): always by the plain definition, and by the fused form when ``x`` is
    dense (NCHW or channels-last), so that its block views alias ``x``; a strided ``x``
    is then left as it was and the result is a new tensor."""
    ratios = _fusable_ratios(x, small)
    if ratios is None:
        upsampled = _interpolate(small, x.shape[-2:], 'nearest')
        return getattr(x, op + '_')(upsampled) if in_place else getattr(torch, op)(x, upsampled)
    nhwc = is_channels_last(x)
    big, repeated = (_nhwc_blocks if nhwc else _blocks)(x, small, ratios, _rows_first(x))
    if in_place and x.is_contiguous(memory_format=torch.channels_last if nhwc
                                    else torch.contiguous_format):
        getattr(big, op + '_')(repeated)  # ``big`` is a view of the dense ``x``
        return x
    out = getattr(torch, op)(big, repeated)
    if nhwc:
        n, c, h, w = x.shape
        return out.reshape(n, h, w, c).permute(0, 3, 1, 2)
    return out.reshape(x.shape)


def mul_nearest(x: Tensor, weights: Tensor) -> Tensor:
    """``x * interpolate(weights, size=x.shape[-2:], mode='nearest')``, fused when the
    sizes differ by powers of two (see :func:`_nearest_op`).

    Shape:
        x: (N, C, H, W), weights: (N, C, h, w) -> (N, C, H, W)
    """
    return _nearest_op('mul', x, weights)


def add_nearest(x: Tensor, y: Tensor, in_place: bool = False) -> Tensor:
    """``x + interpolate(y, size=x.shape[-2:], mode='nearest')``, like :func:`mul_nearest`;
    with ``in_place`` the sum may be written into ``x`` (use the returned tensor).

    Shape:
        x: (N, C, H, W), y: (N, C, h, w) -> (N, C, H, W)
    """
    return _nearest_op('add', x, y, in_place)


class NearestResize(nn.Module):
    """Nearest upsampling to the size of the branch it is fused into.

    The original fusion uses ``nn.Upsample(scale_factor=2 ** k)``, which only lands on
    the target size when the input is a multiple of 32; resizing to the target's size
    is identical there (nearest with an exact integer ratio) and works for every size.
    It stays a module so that the FLOPs counter sees it as the paper's tool did. With
    ``into``, it returns ``into + upsampled x`` through :func:`add_nearest`, which skips
    building the upsampled tensor (the largest copy cost of the original fusion), written
    into ``into`` when ``in_place``.

    Shape:
        x: (N, C, h, w), size: [H, W], into: (N, C, H, W) -> (N, C, H, W)
    """

    def forward(self, x: Tensor, size: List[int], into: Optional[Tensor] = None,
                in_place: bool = False) -> Tensor:
        if into is None:
            return _interpolate(x, size, 'nearest')
        return add_nearest(into, x, in_place)


def upsample_bilinear(x: Tensor, size: List[int]) -> Tensor:
    """``interpolate(x, size, mode='bilinear', align_corners=True)``.

    On a GPU an NCHW input is resized channels-last and converted back: PyTorch's NCHW
    bilinear CUDA kernel runs one thread per output pixel looping over N x C, which took
    1.2 ms per call at batch 64 (H200, fp16, the iterative head's largest resize), the
    channels-last one 45 us; the two layout copies cost a few microseconds.

    Shape:
        (N, C, h, w), size: [H, W] -> (N, C, H, W), in ``x``'s memory format
    """
    if x.is_cuda and not is_channels_last(x) and not is_exporting_onnx():
        resized = F.interpolate(x.contiguous(memory_format=torch.channels_last), size=size,
                                mode='bilinear', align_corners=True)
        return resized.contiguous()
    return _interpolate(x, size, 'bilinear', align_corners=True)
