"""Parameters and FLOPs of a model built from a config, in both conventions."""
from dataclasses import dataclass
from typing import Sequence, Tuple

import torch
import torch.nn as nn

from ..models import TensorForward
from ..models.backbones import resolve_extra, variant_name
from .paper_flops import count_paper_flops

__all__ = ['Complexity', 'build_model_from_config', 'measure', 'config_input_size']


@dataclass(frozen=True)
class Complexity:
    """What :func:`measure` reports for one model and input size."""
    variant: str
    input_hw: Tuple[int, int]
    params: int
    paper_flops: int
    backbone_paper_flops: int
    mmengine_flops: int


def build_model_from_config(cfg) -> nn.Module:
    """Builds ``cfg.model`` in the config's default scope, after its custom imports."""
    from mmengine.registry import init_default_scope
    from mmengine.utils import import_modules_from_strings

    if cfg.get('custom_imports'):
        import_modules_from_strings(**cfg['custom_imports'])
    scope = cfg.get('default_scope', 'mmpose')
    init_default_scope(scope)
    registry_module = __import__(f'{scope}.registry', fromlist=['MODELS'])
    return registry_module.MODELS.build(cfg.model)


def config_input_size(cfg) -> Tuple[int, int]:
    """(H, W) the config trains at: the codec's ``input_size`` (W, H) or a crop size."""
    codec = cfg.get('codec')
    if codec is not None and 'input_size' in codec:
        w, h = codec['input_size']
        return int(h), int(w)
    crop = cfg.get('crop_size')
    if crop is not None:
        return int(crop[0]), int(crop[1])
    raise ValueError('the config has neither codec.input_size nor crop_size: pass --shape H W')


def measure(model: nn.Module, backbone_cfg: dict, input_hw: Sequence[int]) -> Complexity:
    """Parameters, paper-convention FLOPs and MMEngine-convention FLOPs of ``model``."""
    from mmengine.analysis import get_model_complexity_info

    h, w = (int(v) for v in input_hw)
    model = TensorForward(model).eval()
    extra = resolve_extra(backbone_cfg.get('extra', 'litehrnet_18'))
    name = variant_name(dict(extra, with_head=True))
    if not extra['with_head']:
        name += ' (no iterative head)'
    weighting = backbone_cfg.get('channel_weighting')
    if weighting is not None:
        name += '[' + '+'.join(weighting) + ' only]'
    with torch.no_grad():
        info = get_model_complexity_info(
            model, inputs=(torch.zeros(1, 3, h, w), ), show_table=False, show_arch=False)
    return Complexity(
        variant=name,
        input_hw=(h, w),
        params=sum(p.numel() for p in model.parameters()),
        paper_flops=count_paper_flops(model, (1, 3, h, w)),
        backbone_paper_flops=count_paper_flops(model.model.backbone, (1, 3, h, w)),
        mmengine_flops=int(info['flops']))
