"""Lite-HRNet and Naive Lite-HRNet for MMPose and MMSegmentation.

Importing the package registers the models in MMPose's and MMSegmentation's registries
(see ``registry``);
``custom_imports = dict(imports=['mmpose_litehrnet'], allow_failed_imports=False)`` in a
config is all that is needed. It also makes MMEngine load checkpoints safely on torch >= 2.6
(see ``checkpoint``).
"""
from .checkpoint import install as _install_safe_checkpoint_loading
from .models import (
                     VARIANTS,
                     ConditionalChannelWeighting,
                     CrossResolutionWeighting,
                     IterativeHead,
                     LiteHRModule,
                     LiteHRNet,
                     MultiResolutionFusion,
                     NaiveLiteHRNet,
                     ShuffleUnit,
                     SpatialWeighting,
                     Stem,
                     Transition,
)
from .registry import register_in_mmpose, register_in_mmseg

__version__ = '0.1.0'

register_in_mmpose()
register_in_mmseg()
_install_safe_checkpoint_loading()

__all__ = [
    'VARIANTS', 'ConditionalChannelWeighting', 'CrossResolutionWeighting', 'IterativeHead',
    'LiteHRModule', 'LiteHRNet', 'MultiResolutionFusion', 'NaiveLiteHRNet', 'ShuffleUnit',
    'SpatialWeighting', 'Stem', 'Transition'
]
