from .conditional_channel_weighting import CHANNEL_WEIGHTINGS, ConditionalChannelWeighting
from .cross_resolution_weighting import CrossResolutionWeighting
from .fusion import FUSION_MODES, MultiResolutionFusion, Transition
from .iterative_head import IterativeHead
from .shuffle_unit import ShuffleUnit
from .spatial_weighting import BlockDiagonalSpatialWeighting, SpatialWeighting
from .stem import MergedBranchStem, Stem

__all__ = [
    'CHANNEL_WEIGHTINGS', 'FUSION_MODES', 'BlockDiagonalSpatialWeighting',
    'ConditionalChannelWeighting', 'CrossResolutionWeighting', 'IterativeHead',
    'MergedBranchStem', 'MultiResolutionFusion', 'ShuffleUnit',
    'SpatialWeighting', 'Stem', 'Transition'
]
