from .extra import resolve_extra
from .lite_hr_module import MODULE_TYPES, LiteHRModule
from .litehrnet import LiteHRNet, NaiveLiteHRNet
from .shuffle_free_module import ShuffleFreeLiteHRModule
from .variants import VARIANTS, variant_extra, variant_name

__all__ = [
    'MODULE_TYPES', 'VARIANTS', 'LiteHRModule', 'LiteHRNet', 'NaiveLiteHRNet',
    'ShuffleFreeLiteHRModule', 'resolve_extra', 'variant_extra', 'variant_name'
]
