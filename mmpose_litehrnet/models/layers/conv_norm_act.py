"""Convolution -> normalization -> activation, named like MMCV's ``ConvModule``."""
from collections import OrderedDict
from typing import Optional

import torch
import torch.nn as nn
from mmcv.cnn import build_activation_layer, build_conv_layer, build_norm_layer
from torch import Tensor

__all__ = ['ConvNormAct', 'DepthwiseSeparableConv', 'default_norm_cfg', 'folded_weighting_mlp',
           'weighting_mlp']


def default_norm_cfg(norm_cfg: Optional[dict]) -> dict:
    """Returns ``norm_cfg``, or batch norm when it is None (no mutable defaults)."""
    return dict(type='BN') if norm_cfg is None else norm_cfg


class ConvNormAct(nn.Sequential):
    """A ``Conv2d`` followed by a norm layer and an activation.

    The children are named ``conv``, ``bn`` (or whatever MMCV names the norm type, e.g.
    ``gn``) and ``activate``, exactly as in MMCV's ``ConvModule``, so that the parameter
    names of released Lite-HRNet checkpoints match. Being a plain ``nn.Sequential``, it
    scripts, traces and exports with no custom forward. The convolution has a bias only
    when there is no norm layer (``ConvModule``'s ``bias='auto'``).

    Args:
        in_channels (int): Input channels C_in.
        out_channels (int): Output channels C_out.
        kernel_size (int): Square kernel size; padding keeps ``ceil(H / stride)``.
        stride (int): Convolution stride.
        groups (int): Convolution groups (``in_channels`` for a depthwise convolution).
        conv_cfg (dict, optional): MMCV convolution config; None means ``nn.Conv2d``.
        norm_cfg (dict, optional): MMCV norm config; None means no norm layer.
        act_cfg (dict, optional): MMCV activation config; None means no activation.

    Shape:
        (N, C_in, H, W) -> (N, C_out, ceil(H / stride), ceil(W / stride))
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: int = 1,
                 stride: int = 1,
                 groups: int = 1,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = None,
                 act_cfg: Optional[dict] = None) -> None:
        layers = OrderedDict()
        layers['conv'] = build_conv_layer(
            conv_cfg,
            in_channels,
            out_channels,
            kernel_size=kernel_size,
            stride=stride,
            padding=kernel_size // 2,
            groups=groups,
            bias=norm_cfg is None)
        if norm_cfg is not None:
            norm_name, norm = build_norm_layer(norm_cfg, out_channels)
            layers[norm_name] = norm
        if act_cfg is not None:
            act_cfg = dict(act_cfg)
            if act_cfg['type'] in ('ReLU', 'ReLU6', 'LeakyReLU'):
                act_cfg.setdefault('inplace', True)
            layers['activate'] = build_activation_layer(act_cfg)
        super().__init__(layers)
        self.in_channels = in_channels
        self.out_channels = out_channels


class DepthwiseSeparableConv(nn.Sequential):
    """3x3 depthwise conv + norm, then 1x1 pointwise conv + norm + ReLU.

    Parameter names follow MMCV's ``DepthwiseSeparableConvModule``
    (``depthwise_conv.*``, ``pointwise_conv.*``) with ``dw_act_cfg=None``.

    Args:
        in_channels (int): Input channels C_in.
        out_channels (int): Output channels C_out.
        conv_cfg (dict, optional): MMCV convolution config.
        norm_cfg (dict, optional): MMCV norm config; None means batch norm.

    Shape:
        (N, C_in, H, W) -> (N, C_out, H, W)
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = None) -> None:
        norm_cfg = default_norm_cfg(norm_cfg)
        super().__init__(
            OrderedDict(
                depthwise_conv=ConvNormAct(
                    in_channels, in_channels, 3, groups=in_channels,
                    conv_cfg=conv_cfg, norm_cfg=norm_cfg),
                pointwise_conv=ConvNormAct(
                    in_channels, out_channels, 1, conv_cfg=conv_cfg,
                    norm_cfg=norm_cfg, act_cfg=dict(type='ReLU'))))


def weighting_mlp(rows: Tensor, weight1: Tensor, bias1: Tensor, weight2: Tensor,
                  bias2: Tensor) -> Tensor:
    """``sigmoid(relu(rows @ weight1.T + bias1) @ weight2.T + bias2)``: the FC-ReLU,
    FC-sigmoid pair of both channel weightings as two matrix products with their biases
    fused, for the deploy form (fewer calls than the module layers).

    Args:
        rows (Tensor): (M, C_in) pooled vectors or pixels.
        weight1 (Tensor): (C_hidden, C_in); bias1 (Tensor): (C_hidden, ).
        weight2 (Tensor): (C_in, C_hidden); bias2 (Tensor): (C_in, ).

    Returns:
        Tensor: (M, C_in) weights in (0, 1).
    """
    hidden = torch.addmm(bias1, rows, weight1.t()).relu_()
    return torch.addmm(bias2, hidden, weight2.t()).sigmoid_()


def folded_weighting_mlp(rows: Tensor, first: ConvNormAct, second: ConvNormAct) -> Tensor:
    """:func:`weighting_mlp` with the weights of a 1x1 conv-ReLU, 1x1 conv-sigmoid pair
    whose convs are biased and whose norms are folded away (the deploy form).

    Args:
        rows (Tensor): (M, C_in) pooled vectors or pixels.
        first (ConvNormAct): [1x1 conv with bias, ReLU], C_in -> C_hidden.
        second (ConvNormAct): [1x1 conv with bias, Sigmoid], C_hidden -> C_in.

    Returns:
        Tensor: (M, C_in) weights in (0, 1).
    """
    fc1, fc2 = first.conv, second.conv
    return weighting_mlp(rows, fc1.weight.view(fc1.out_channels, -1), fc1.bias,
                         fc2.weight.view(fc2.out_channels, -1), fc2.bias)
