"""tools/benchmark.py's model building: the head stand-in and the fallback without mmcv ops."""
import importlib.util
import os.path as osp

import pytest
import torch
from conftest import ROOT, randomize_, run_python

BENCHMARK = osp.join(ROOT, 'tools', 'benchmark.py')


def _benchmark_module():
    spec = importlib.util.spec_from_file_location('lhr_benchmark', BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('deconv', [False, True])
def test_plain_heatmap_head_equals_mmpose_heatmap_head(deconv):
    from mmpose.models.heads import HeatmapHead
    benchmark = _benchmark_module()
    kwargs = {} if deconv else dict(deconv_out_channels=None)
    oracle = randomize_(HeatmapHead(in_channels=48, out_channels=17, **kwargs)).eval()
    plain = benchmark.PlainHeatmapHead(48, 17, deconv=deconv).eval()
    plain.load_state_dict(oracle.state_dict(), strict=True)
    feats = (torch.randn(2, 8, 16, 12), torch.randn(2, 48, 16, 12))
    with torch.no_grad():
        expected = oracle.forward(feats)
        assert torch.equal(plain(feats), expected)
    assert expected.shape == (2, 17, 128 if deconv else 16, 96 if deconv else 12)


def test_models_build_without_mmcv_ops():
    """As on a machine with mmcv-lite: mmcv's compiled extension is missing, so
    ``import mmpose.models`` fails; MMPose's backbones still load, ours replaces
    ``LiteHRNet``, and the built-in keeps our weights' outputs."""
    out = run_python(f'''
        import importlib.abc, sys
        class NoCompiledOps(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name == 'mmcv._ext':
                    raise ImportError('mmcv-lite: no compiled ops')
        sys.meta_path.insert(0, NoCompiledOps())
        import importlib.util
        spec = importlib.util.spec_from_file_location('bench', {BENCHMARK!r})
        bench = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(bench)
        imported = bench.import_mmpose_models()
        assert imported.startswith('MMPose backbones only'), imported
        import torch
        models = bench.build_models()
        assert 'mmpose.models.heads' not in sys.modules
        ours, builtin = models['ours litehrnet_18'], models['MMPose litehrnet_18']
        assert isinstance(ours.head, bench.PlainHeatmapHead)
        assert type(builtin.backbone).__module__ == 'mmpose.models.backbones.litehrnet'
        assert type(ours.backbone).__module__.startswith('mmpose_litehrnet')
        x = torch.randn(1, 3, 128, 96)
        with torch.no_grad():
            diff = (ours(x) - builtin(x)).abs().max().item()
            deployed = models['ours litehrnet_18 deploy'](x)
            dep = (deployed - ours(x)).abs().max().item() / ours(x).abs().max().item()
        print(sorted(models), diff, dep)
        assert diff == 0.0 and dep < 1e-4
    ''')
    assert 'HRNet-W16' in out


def test_round_ratios_pair_the_rounds():
    """Two models that slow down together in the same rounds have ratio 1 in every round,
    however much the machine drifts; the quartiles are those of the per-round ratios."""
    benchmark = _benchmark_module()
    drift = [1.0, 3.0, 1.5, 2.0, 5.0]
    assert benchmark.round_ratios([2 * t for t in drift], drift) == '2.00 (2.00-2.00)'
    assert benchmark.round_ratios([2.0, 4.0, 6.0, 8.0], [1.0] * 4) == '5.00 (2.50-7.50)'
