"""Lite-HRNet and Naive Lite-HRNet for MMPose and MMSegmentation.

Importing the package registers the models in MMPose's and MMSegmentation's registries
(see ``registry``);
``custom_imports = dict(imports=['mmpose_litehrnet'], allow_failed_imports=False)`` in a
config is all that is needed. It also makes MMEngine load checkpoints safely on torch >= 2.6
(see ``checkpoint``), and installs the deploy pipeline behind ``switch_to_deploy``
(see ``deploy``).

Layers, each importing only those below it: ``models`` (pure PyTorch: both forms and the
deploy form's maths) < ``kernels`` (the CPU kernels, reaching the model through its
``Accelerated`` seam) < ``export`` (ONNX, TorchScript, Inductor) < ``deploy`` (the
pipeline) < ``engine``, ``apis``, ``analysis`` and this file.
"""
import sys

from . import deploy
from .checkpoint import install as _install_safe_checkpoint_loading
from .kernels import ort as _ort_kernels
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
from .version import __version__

register_in_mmpose()
register_in_mmseg()
_install_safe_checkpoint_loading()

# Where earlier releases had ONNX Runtime's kernel library: ``from
# mmpose_litehrnet.models.layers.ort_kernels import add_ort_kernels`` keeps working
# (``models`` itself imports nothing above it).
sys.modules[f'{__name__}.models.layers.ort_kernels'] = _ort_kernels

__all__ = [
    'VARIANTS', 'ConditionalChannelWeighting', 'CrossResolutionWeighting', 'IterativeHead',
    'LiteHRModule', 'LiteHRNet', 'MultiResolutionFusion', 'NaiveLiteHRNet', 'ShuffleUnit',
    'SpatialWeighting', 'Stem', 'Transition', '__version__', 'deploy'
]
