"""Registration of our modules and hooks in MMPose's and MMSegmentation's registries.

MMPose 1.x registers a ``LiteHRNet`` of its own when ``mmpose.models`` is imported, and
MMEngine refuses a second registration under the same name ("already registered"),
whichever comes second. So we let MMPose's go first, by importing ``mmpose.models``
here when it can be imported, and then replace it under ``LiteHRNet``; MMPose's class
stays buildable as ``MMPoseLiteHRNet``. Neither mmpose nor its compiled ops are needed
for the package itself: without them there is nothing to register into.

MMEngine looks a ``type`` up in the config's default scope and its parents only, so a
model registered in MMPose's registry is not found from an MMSeg config
(``default_scope='mmseg'``); we therefore register in MMSeg's registry too when mmseg is
installed (it has no Lite-HRNet of its own). From either scope, the other's registration
is also reachable with an explicit prefix, e.g. ``type='mmpose.LiteHRNet'``.
"""
import warnings
from typing import Any, Dict, Type

import torch.nn as nn

from .engine import SwitchToDeployHook
from .models import (
    ConditionalChannelWeighting,
    CrossResolutionWeighting,
    FeatureMapSizeCheck,
    IterativeHead,
    LiteHRModule,
    LiteHRNet,
    MultiResolutionFusion,
    NaiveLiteHRNet,
    SpatialWeighting,
    Transition,
)

__all__ = ['OUR_HOOKS', 'OUR_MODULES', 'register_in_mmpose', 'register_in_mmseg']

#: Registered name -> class.
OUR_MODULES: Dict[str, Type[nn.Module]] = {
    'LiteHRNet': LiteHRNet,
    'NaiveLiteHRNet': NaiveLiteHRNet,
    'LiteHRModule': LiteHRModule,
    'ConditionalChannelWeighting': ConditionalChannelWeighting,
    'CrossResolutionWeighting': CrossResolutionWeighting,
    'SpatialWeighting': SpatialWeighting,
    'MultiResolutionFusion': MultiResolutionFusion,
    'LiteHRNetTransition': Transition,
    'LiteHRNetIterativeHead': IterativeHead,
    'FeatureMapSizeCheck': FeatureMapSizeCheck,
}

#: Registered name -> hook class (``custom_hooks`` in a config).
OUR_HOOKS: Dict[str, type] = {'SwitchToDeployHook': SwitchToDeployHook}


def register_in_mmpose() -> bool:
    """Registers :data:`OUR_MODULES` in ``mmpose.registry.MODELS`` and :data:`OUR_HOOKS`
    in its ``HOOKS``; False without mmpose."""
    try:
        from mmpose.registry import HOOKS, MODELS
    except ImportError:
        return False
    try:
        import mmpose.models  # noqa: F401  (MMPose registers its LiteHRNet first)
    except ImportError as error:
        warnings.warn(f'mmpose.models does not import ({error}); registering Lite-HRNet '
                      'in MMPose\'s registry without MMPose\'s own models', stacklevel=2)
    builtin = MODELS.module_dict.get('LiteHRNet')
    if builtin is not None and builtin is not LiteHRNet:
        MODELS.register_module('MMPoseLiteHRNet', module=builtin, force=True)
    _register(MODELS, HOOKS)
    try:  # built on MMPose's DEKRHead, which needs mmcv's compiled ops
        from .models.heads import GridSampleDEKRHead
    except ImportError as error:
        warnings.warn(f'GridSampleDEKRHead not registered: {error}', stacklevel=2)
    else:
        MODELS.register_module('GridSampleDEKRHead', module=GridSampleDEKRHead, force=True)
    return True


def register_in_mmseg() -> bool:
    """Registers :data:`OUR_MODULES` in ``mmseg.registry.MODELS`` and :data:`OUR_HOOKS`
    in its ``HOOKS``; False without mmseg."""
    try:
        from mmseg.registry import HOOKS, MODELS
    except ImportError:
        return False
    _register(MODELS, HOOKS)
    return True


def _register(models: Any, hooks: Any) -> None:
    for registry, table in ((models, OUR_MODULES), (hooks, OUR_HOOKS)):
        for name, module in table.items():
            registry.register_module(name, module=module, force=True)
