from .backbones import VARIANTS, LiteHRModule, LiteHRNet, NaiveLiteHRNet
from .blocks import (
                     ConditionalChannelWeighting,
                     CrossResolutionWeighting,
                     IterativeHead,
                     MultiResolutionFusion,
                     ShuffleUnit,
                     SpatialWeighting,
                     Stem,
                     Transition,
)
from .deploy_form import fold_channel_shuffles, reparameterize
from .necks import FeatureMapSizeCheck
from .tensor_forward import TensorForward

__all__ = [
    'VARIANTS', 'ConditionalChannelWeighting', 'CrossResolutionWeighting',
    'FeatureMapSizeCheck', 'IterativeHead',
    'LiteHRModule', 'LiteHRNet', 'MultiResolutionFusion', 'NaiveLiteHRNet', 'ShuffleUnit',
    'SpatialWeighting', 'Stem', 'TensorForward', 'Transition', 'fold_channel_shuffles',
    'reparameterize'
]
