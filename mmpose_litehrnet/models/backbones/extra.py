"""Validation of the MMPose-style ``extra`` architecture dict."""
from numbers import Integral, Real
from typing import Any, Dict, Mapping, Sequence, Union

from .lite_hr_module import MODULE_TYPES
from .variants import variant_extra

__all__ = ['resolve_extra', 'STAGE_FIELDS']

#: Per-stage fields of ``extra['stages_spec']``, each a sequence of ``num_stages``.
STAGE_FIELDS = ('num_modules', 'num_branches', 'num_blocks', 'module_type', 'with_fuse',
                'reduce_ratios', 'num_channels')


def _fail(field: str, value: Any, expected: str) -> None:
    raise ValueError(f'Lite-HRNet extra: {field} must be {expected}, got {value!r}')


def _is_int(value: Any) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def _require(mapping: Any, field: str, keys: Sequence[str]) -> None:
    if not isinstance(mapping, Mapping):
        _fail(field, mapping, 'a dict')
    for key in keys:
        if key not in mapping:
            raise ValueError(f'Lite-HRNet extra: {field} has no {key!r} entry')


def resolve_extra(extra: Union[str, Mapping[str, Any]]) -> Dict[str, Any]:
    """Returns a validated copy of ``extra`` (a dict or a variant name).

    Raises:
        ValueError: naming the first malformed field and its value.
    """
    if isinstance(extra, str):
        return variant_extra(extra)
    _require(extra, 'extra', ('stem', 'num_stages', 'stages_spec', 'with_head'))
    stem = extra['stem']
    _require(stem, "extra['stem']", ('stem_channels', 'out_channels', 'expand_ratio'))
    for key in ('stem_channels', 'out_channels'):
        value = stem[key]
        if not _is_int(value) or value < 2 or value % 2:
            _fail(f"extra['stem']['{key}']", value, 'an even integer >= 2')
    ratio = stem['expand_ratio']
    if not isinstance(ratio, Real) or isinstance(ratio, bool) or ratio <= 0:
        _fail("extra['stem']['expand_ratio']", ratio, 'a positive number')
    num_stages = extra['num_stages']
    if not _is_int(num_stages) or num_stages < 1:
        _fail("extra['num_stages']", num_stages, 'an integer >= 1')
    if not isinstance(extra['with_head'], bool):
        _fail("extra['with_head']", extra['with_head'], 'True or False')
    spec = extra['stages_spec']
    _require(spec, "extra['stages_spec']", STAGE_FIELDS)
    for key in STAGE_FIELDS:
        value = spec[key]
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) \
                or len(value) != num_stages:
            _fail(f"extra['stages_spec']['{key}']", value,
                  f'a list of num_stages={num_stages} entries')
    for i in range(num_stages):
        where = "extra['stages_spec']"
        for key in ('num_modules', 'num_blocks'):
            if not _is_int(spec[key][i]) or spec[key][i] < 1:
                _fail(f"{where}['{key}'][{i}]", spec[key][i], 'an integer >= 1')
        if spec['num_branches'][i] != i + 2:
            _fail(f"{where}['num_branches'][{i}]", spec['num_branches'][i],
                  f'{i + 2} (branches grow by one per stage, from the stem\'s one)')
        module_type = spec['module_type'][i]
        if not isinstance(module_type, str) or module_type.upper() not in MODULE_TYPES:
            _fail(f"{where}['module_type'][{i}]", module_type, f'one of {MODULE_TYPES}')
        if not isinstance(spec['with_fuse'][i], bool):
            _fail(f"{where}['with_fuse'][{i}]", spec['with_fuse'][i], 'True or False')
        reduce_ratio = spec['reduce_ratios'][i]
        if not _is_int(reduce_ratio) or reduce_ratio < 1:
            _fail(f"{where}['reduce_ratios'][{i}]", reduce_ratio, 'an integer >= 1')
        channels = spec['num_channels'][i]
        if isinstance(channels, (str, bytes)) or not isinstance(channels, Sequence) \
                or len(channels) != i + 2:
            _fail(f"{where}['num_channels'][{i}]", channels,
                  f'a list of num_branches={i + 2} widths')
        for c in channels:
            if not _is_int(c) or c < 2 or c % 2:
                _fail(f"{where}['num_channels'][{i}]", channels,
                      'even integers >= 2 (each block splits its channels in half)')
    resolved = dict(extra)
    resolved['stem'] = dict(stem)
    resolved['stages_spec'] = {key: tuple(spec[key]) for key in STAGE_FIELDS}
    return resolved
