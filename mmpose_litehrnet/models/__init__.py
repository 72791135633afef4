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

__all__ = [
    'VARIANTS', 'ConditionalChannelWeighting', 'CrossResolutionWeighting', 'IterativeHead',
    'LiteHRModule', 'LiteHRNet', 'MultiResolutionFusion', 'NaiveLiteHRNet', 'ShuffleUnit',
    'SpatialWeighting', 'Stem', 'Transition'
]
