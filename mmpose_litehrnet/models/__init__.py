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
from .necks import FeatureMapSizeCheck

__all__ = [
    'VARIANTS', 'ConditionalChannelWeighting', 'CrossResolutionWeighting',
    'FeatureMapSizeCheck', 'IterativeHead',
    'LiteHRModule', 'LiteHRNet', 'MultiResolutionFusion', 'NaiveLiteHRNet', 'ShuffleUnit',
    'SpatialWeighting', 'Stem', 'Transition'
]
