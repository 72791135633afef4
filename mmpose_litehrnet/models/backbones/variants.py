"""The Lite-HRNet family, declared once (paper Table 1 and the released configs)."""
from types import MappingProxyType
from typing import Any, Dict, Mapping, Tuple

__all__ = ['VARIANTS', 'variant_extra', 'variant_name']


def _family(widths: Tuple[int, ...], num_modules: Tuple[int, ...], module_type: str,
            reduce_ratio: int) -> Dict[str, Any]:
    """The ``extra`` dict of a three-stage family member with base widths ``widths``."""
    return dict(
        stem=dict(stem_channels=32, out_channels=32, expand_ratio=1),
        num_stages=3,
        stages_spec=dict(
            num_modules=num_modules,
            num_branches=(2, 3, 4),
            num_blocks=(2, 2, 2),
            module_type=(module_type, ) * 3,
            with_fuse=(True, True, True),
            reduce_ratios=(reduce_ratio, ) * 3,
            num_channels=tuple(widths[:n] for n in (2, 3, 4)),
        ),
        with_head=True,
    )


#: name -> MMPose-style ``extra``. Naive-18 is 30/60/120/240 wide (the paper's
#: Table 1 and the released checkpoint), its wider version 40/80/160/320.
VARIANTS: Mapping[str, Mapping[str, Any]] = MappingProxyType({
    'litehrnet_18': _family((40, 80, 160, 320), (2, 4, 2), 'LITE', 8),
    'litehrnet_30': _family((40, 80, 160, 320), (3, 8, 3), 'LITE', 8),
    'naive_litehrnet_18': _family((30, 60, 120, 240), (2, 4, 2), 'NAIVE', 1),
    'wider_naive_litehrnet_18': _family((40, 80, 160, 320), (2, 4, 2), 'NAIVE', 1),
})


def variant_extra(name: str) -> Dict[str, Any]:
    """Returns a fresh copy of the ``extra`` of variant ``name``."""
    if name not in VARIANTS:
        raise ValueError(f'unknown Lite-HRNet variant {name!r}; known: {sorted(VARIANTS)}')
    extra = dict(VARIANTS[name])
    extra['stem'] = dict(extra['stem'])
    extra['stages_spec'] = dict(extra['stages_spec'])
    return extra


def variant_name(extra: Mapping[str, Any]) -> str:
    """The name of the variant whose architecture ``extra`` describes, or ``'custom'``."""
    def normalise(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: normalise(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return tuple(normalise(v) for v in value)
        return value.upper() if isinstance(value, str) else value

    wanted = normalise(extra)
    for name, candidate in VARIANTS.items():
        if normalise(candidate) == wanted:
            return name
    return 'custom'
