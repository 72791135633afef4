"""The package's layers, read from its source (ast, every import, also those inside
functions): ``models`` < ``kernels`` < ``export`` < ``deploy`` < the rest, each importing
only from those below it, and no import cycle between any two of its modules."""
import ast
import os.path as osp
import pathlib
from typing import Dict, Set

import pytest

import mmpose_litehrnet

PACKAGE = pathlib.Path(mmpose_litehrnet.__file__).parent
NAME = 'mmpose_litehrnet'
#: Each layer, bottom first, and what it may import from the package.
LAYERS = ('models', 'kernels', 'export', 'deploy')


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix('').parts)
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def _imports() -> Dict[str, Set[str]]:
    """Every module of the package and the modules of the package it imports: a
    ``from X import name`` imports ``X.name`` where that is a module, else ``X``."""
    modules = {_module_name(p): p for p in PACKAGE.rglob('*.py')}
    graph = {}
    for module, path in modules.items():
        package = module if path.name == '__init__.py' else module.rpartition('.')[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ''
                if node.level:
                    anchor = package.split('.')
                    anchor = anchor[:len(anchor) - node.level + 1]
                    base = '.'.join(anchor + ([base] if base else []))
                targets = [f'{base}.{alias.name}' if f'{base}.{alias.name}' in modules
                           else base for alias in node.names]
            else:
                continue
            edges |= {t for t in targets if t == NAME or t.startswith(NAME + '.')}
        graph[module] = edges - {module}
    return graph


GRAPH = _imports()


def _layer(module: str) -> int:
    """The index of ``module``'s layer in :data:`LAYERS`; len(LAYERS) for the rest."""
    parts = module.split('.')
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else len(LAYERS)


def test_the_graph_sees_the_imports():
    """The reader finds the imports it is to judge (relative and absolute, nested)."""
    assert f'{NAME}.models.layers' in GRAPH[f'{NAME}.models.blocks.stem']
    assert f'{NAME}.models.layers.tracing' in GRAPH[f'{NAME}.models.layers.pooling']
    assert f'{NAME}.kernels' in GRAPH[f'{NAME}.export.inductor']
    assert f'{NAME}.deploy' in GRAPH[NAME]
    assert len(GRAPH) > 50


@pytest.mark.parametrize('layer', LAYERS)
def test_each_layer_imports_only_those_below_it(layer):
    """``models`` imports nothing from ``kernels``, ``export`` or ``deploy`` (nor from the
    package's top modules); ``kernels`` nothing from ``export`` or ``deploy``; ``export``
    nothing from ``deploy``. Shared helpers (the cache, the version) sit beside them."""
    shared = {f'{NAME}.cache', f'{NAME}.version'}
    rank = LAYERS.index(layer)
    wrong = {(module, target) for module, targets in GRAPH.items()
             if _layer(module) == rank for target in targets
             if _layer(target) > rank and not (rank > 0 and target in shared)}
    assert not wrong


def test_no_import_cycles():
    """No module of the package reaches itself through the imports of others."""
    done: Set[str] = set()

    def visit(module: str, path: tuple) -> None:
        if module in path:
            cycle = path[path.index(module):] + (module, )
            raise AssertionError('import cycle: ' + ' -> '.join(cycle))
        if module in done:
            return
        for target in sorted(GRAPH.get(module, ())):
            visit(target, path + (module, ))
        done.add(module)

    for module in sorted(GRAPH):
        visit(module, ())


def test_models_stand_alone():
    """``models`` is pure PyTorch: of this package it imports only itself."""
    outside = {(module, target) for module, targets in GRAPH.items()
               if module.startswith(f'{NAME}.models') for target in targets
               if not target.startswith(f'{NAME}.models')}
    assert not outside and osp.isdir(PACKAGE / 'models')


def test_public_names_keep_working():
    """The names users import stay where they were: the deploy functions and layers in
    ``mmpose_litehrnet.deploy``, ``add_ort_kernels`` also at its earlier module path,
    the hook in MMEngine's registry; ``switch_to_deploy`` on a backbone runs the whole
    pipeline (kernels on by default, where they build), with the same options."""
    import torch.nn as nn
    from mmpose.registry import HOOKS
    from mmpose_litehrnet.models.layers.ort_kernels import add_ort_kernels

    from mmpose_litehrnet import LiteHRNet, deploy, export, kernels
    from mmpose_litehrnet.deploy import AOTBackbone
    from mmpose_litehrnet.models.layers import MatmulConv1x1
    for name in ('compile_aot_package', 'compile_for_cpu_inference', 'export_onnx',
                 'load_aot_package', 'load_torchscript', 'trace_torchscript'):
        assert getattr(deploy, name) is getattr(export, name)
    assert deploy.MatmulConv1x1 is MatmulConv1x1 and callable(deploy.fold_conv_bn)
    assert deploy.TensorForward.__module__ == 'mmpose_litehrnet.models.tensor_forward'
    assert add_ort_kernels is kernels.add_ort_kernels
    assert HOOKS.get('SwitchToDeployHook') is not None

    model = LiteHRNet('litehrnet_18').switch_to_deploy()
    assert model.channels_last_devices == ('cpu', )
    # The stem, 3 transitions, 8 modules' fusions, 16 blocks, the head.
    assert len(kernels.kernel_modules(model)) == 1 + 3 + 8 + 16 + 1
    assert any(isinstance(m, MatmulConv1x1) for m in model.modules())
    off = LiteHRNet('litehrnet_18').switch_to_deploy(cpu_kernels=False, channels_last=False,
                                                    aot='some/dir')
    assert not kernels.kernel_modules(off) and off.channels_last_devices == ()
    assert isinstance(off.accelerator, AOTBackbone) and not isinstance(off, nn.Sequential)
