from .channel_shuffle import channel_shuffle
from .checkpoint import checkpoint_if
from .conv_norm_act import ConvNormAct, DepthwiseSeparableConv, default_norm_cfg
from .resize import NearestResize

__all__ = [
    'ConvNormAct', 'DepthwiseSeparableConv', 'NearestResize', 'channel_shuffle',
    'checkpoint_if', 'default_norm_cfg'
]
