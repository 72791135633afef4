"""Registration in MMPose's registry, in every import order, each in a fresh process."""

import pytest
from conftest import POSE_CONFIGS, run_python

BUILD_AND_CHECK = '''
from mmengine.registry import init_default_scope
from mmpose.registry import MODELS
import mmpose_litehrnet
init_default_scope('mmpose')
backbone = MODELS.build(dict(type='LiteHRNet', extra='litehrnet_18'))
assert type(backbone) is mmpose_litehrnet.LiteHRNet, type(backbone)
naive = MODELS.build(dict(type='NaiveLiteHRNet'))
assert type(naive) is mmpose_litehrnet.NaiveLiteHRNet
for name in ('ConditionalChannelWeighting', 'CrossResolutionWeighting',
             'MultiResolutionFusion', 'SpatialWeighting'):
    assert MODELS.get(name) is getattr(mmpose_litehrnet, name), name
from mmpose.models.backbones.litehrnet import LiteHRNet as Builtin
assert MODELS.get('MMPoseLiteHRNet') is Builtin
print('OK')
'''


@pytest.mark.parametrize('first', ['import mmpose.models', 'import mmpose_litehrnet'])
def test_either_import_order_builds_ours(first):
    second = 'import mmpose_litehrnet' if 'models' in first else 'import mmpose.models'
    assert run_python(f'{first}\n{second}\n{BUILD_AND_CHECK}').strip() == 'OK'


def test_custom_imports_in_a_config_build_ours_and_mmpose_configs_still_build():
    run_python(f'''
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.utils import import_modules_from_strings
    cfg = Config.fromfile(
        '{POSE_CONFIGS}/coco/td-hm_litehrnet-18_8xb64-210e_coco-256x192.py')
    assert cfg.custom_imports == dict(imports=['mmpose_litehrnet'],
                                      allow_failed_imports=False)
    import_modules_from_strings(**cfg.custom_imports)
    init_default_scope('mmpose')
    from mmpose.registry import MODELS
    model = MODELS.build(cfg.model)
    import mmpose_litehrnet
    assert type(model.backbone) is mmpose_litehrnet.LiteHRNet
    # MMPose's own Lite-HRNet config (no custom_imports) builds, now with our backbone.
    from mmengine.utils import get_installed_path
    builtin_cfg = Config.fromfile(
        get_installed_path('mmpose') + '/.mim/configs/body_2d_keypoint/topdown_heatmap/'
        'coco/td-hm_litehrnet-30_8xb64-210e_coco-256x192.py')
    model = MODELS.build(builtin_cfg.model)
    assert type(model.backbone) is mmpose_litehrnet.LiteHRNet
    assert sum(p.numel() for p in model.parameters()) == 1763717
    ''')


def test_package_imports_without_mmpose():
    """The backbone needs only torch, mmengine and mmcv's Python parts."""
    out = run_python('''
    import sys
    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.split('.')[0] in ('mmpose', 'mmdet', 'mmseg') or name == 'mmcv.ops' \\
                    or name.startswith('mmcv._ext'):
                raise ImportError(f'blocked {name}')
    sys.meta_path.insert(0, Block())
    import torch
    import mmpose_litehrnet
    model = mmpose_litehrnet.LiteHRNet('litehrnet_18').eval()
    print(tuple(model(torch.randn(1, 3, 64, 64))[0].shape))
    print(sorted(m for m in sys.modules if m.startswith(('mmpose.', 'mmcv.ops'))))
    ''')
    assert out.splitlines() == ['(1, 40, 16, 16)', '[]']
