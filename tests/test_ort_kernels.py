"""The deploy form's CPU kernels as ONNX Runtime custom operators: an ONNX export inside
``cpu_kernels_in_exports`` writes one ``mmpose_litehrnet`` node per kernel call, which a
session with ``add_ort_kernels`` runs, giving the PyTorch kernels' outputs."""
import collections
import shutil
from typing import Tuple

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from conftest import COCO_LITEHRNET_18, VARIANT_NAMES, calibrate_, randomize_, run_tool
from test_cpu_kernels import KERNELS, modules_of

from mmpose_litehrnet.deploy import export_onnx, switch_to_deploy
from mmpose_litehrnet.kernels import cpu_kernels_available
from mmpose_litehrnet.kernels import ort as ort_kernels
from mmpose_litehrnet.models.backbones import LiteHRNet

ONNX_NAMES = dict(zip(KERNELS, ('ConditionalChannelWeighting', 'MultiResolutionFusion',
                                'ShuffleUnit', 'Stem', 'DepthwiseSeparable', 'IterativeHead')))


@pytest.fixture(scope='module', autouse=True)
def _library_built():
    """With a C++ compiler and ONNX Runtime's headers (make setup installs them where apt
    can fetch them) both libraries must build: a failure is not a skip."""
    if shutil.which('c++') is None and shutil.which('g++') is None:
        pytest.skip('no C++ compiler')
    if ort_kernels.onnxruntime_include_dir() is None:
        pytest.skip('no ONNX Runtime headers (make setup could not fetch them with apt; '
                    'ONNXRUNTIME_INCLUDE_DIR is unset): the ONNX Runtime kernels are optional')
    assert cpu_kernels_available()
    ort_kernels.ort_kernels_library()


def session(path: str) -> ort.InferenceSession:
    return ort.InferenceSession(path, ort_kernels.add_ort_kernels(),
                                providers=['CPUExecutionProvider'])


#: The outputs of :func:`export_with_kernels`'s files.
NAMES = [f'out{k}' for k in range(4)]


def export_with_kernels(variant: str, seed: int, path: str
                        ) -> Tuple[torch.Tensor, Tuple, Tuple, LiteHRNet]:
    """A random ``LiteHRNet(variant)`` with its four outputs (:data:`NAMES`), in deploy
    form exported with the kernels' nodes to ``path`` at batch 2 with a dynamic batch.
    Returns an input of batch 3, the training form's outputs on it, the eager deploy
    form's, and the deploy form."""
    model = calibrate_(randomize_(LiteHRNet(variant, out_indices=(0, 1, 2, 3)), seed=seed))
    x = torch.randn(3, 3, 128, 96, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        training = model(x)
    deployed = switch_to_deploy(model)
    with torch.no_grad():
        eager = deployed(x)
    export_onnx(deployed, x[:2], path, output_names=NAMES, dynamic_batch=True,
                cpu_kernels=True)
    return x, training, eager, deployed


@pytest.mark.parametrize('variant', VARIANT_NAMES)
def test_onnx_runtime_runs_the_kernels(variant, tmp_path):
    """Exported at batch 2 with a dynamic batch: one node per kernel call of the eager
    pass, no transpose but the input's and the four outputs'; ONNX Runtime at batch 3
    gives the eager kernels' outputs (the same code, compiled apart: float rounding at
    most) and the training form's within 1e-4."""
    path = str(tmp_path / 'model.onnx')
    x, training, eager, deployed = export_with_kernels(variant, 4, path)
    nodes = collections.Counter(
        node.op_type if node.domain in ('', 'ai.onnx') else f'{node.domain}::{node.op_type}'
        for node in onnx.load(path).graph.node)
    expected = {f'mmpose_litehrnet::{ONNX_NAMES[k]}': n
                for k, n in modules_of(deployed).items() if n}
    assert {k: v for k, v in nodes.items() if '::' in k} == expected
    assert set(nodes) - set(expected) <= {'Transpose', 'Constant'}
    assert nodes['Transpose'] == 5
    actual = session(path).run(NAMES, {'input': x.numpy()})
    for a, e, t in zip(actual, eager, training):
        assert a.shape == tuple(e.shape)
        scale = t.abs().max().item()
        torch.testing.assert_close(torch.from_numpy(a), e, rtol=0, atol=1e-6 * scale)
        torch.testing.assert_close(torch.from_numpy(a), t, rtol=0, atol=1e-4 * scale)


def test_default_exports_need_no_library(tmp_path):
    """Outside ``cpu_kernels`` the file holds ONNX's operators only: a plain session runs
    it."""
    model = switch_to_deploy(calibrate_(randomize_(LiteHRNet('litehrnet_18'), seed=1)))
    x = torch.randn(1, 3, 64, 48, generator=torch.Generator().manual_seed(1))
    path = str(tmp_path / 'model.onnx')
    export_onnx(model, x, path, output_names=['out'])
    assert not any(node.domain == 'mmpose_litehrnet' for node in onnx.load(path).graph.node)
    plain = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    with torch.no_grad():
        expected = model(x)[0]
    torch.testing.assert_close(torch.from_numpy(plain.run(None, {'input': x.numpy()})[0]),
                               expected, rtol=0, atol=1e-4 * expected.abs().max().item())


def test_a_session_reports_a_kernels_error(tmp_path):
    """A wrong input reaches the kernels' checks, which fail the run with their message
    (not a crash): here a 40-channel branch for a block made for 80."""
    model = switch_to_deploy(calibrate_(randomize_(LiteHRNet('litehrnet_18'), seed=2)))
    block = model.stage0[0].layers[0]
    xs = [torch.randn(1, c, 16 >> k, 12 >> k) for k, c in enumerate((40, 80))]
    path = str(tmp_path / 'block.onnx')
    export_onnx(block, xs, path, output_names=['a', 'b'], cpu_kernels=True)
    exported = onnx.load(path)
    for value in exported.graph.input:  # any shape, so that ONNX Runtime passes a wrong one
        for axis, dim in enumerate(value.type.tensor_type.shape.dim):
            dim.dim_param = f'{value.name}_{axis}'
    onnx.save(exported, path)
    run = session(path)
    inputs = [i.name for i in run.get_inputs()]
    good = {name: x.numpy() for name, x in zip(inputs, xs)}
    assert len(run.run(None, good)) == 2
    bad = dict(good, **{inputs[1]: np.zeros((1, 40, 8, 6), np.float32)})
    with pytest.raises(Exception, match='conditional_channel_weighting: expected an operand'):
        run.run(None, bad)


def test_missing_headers_are_named(monkeypatch):
    """Without ONNX Runtime's headers the build says which and where to point."""
    monkeypatch.setattr(ort_kernels, 'onnxruntime_include_dir', lambda: None)
    with pytest.raises(RuntimeError, match='ONNXRUNTIME_INCLUDE_DIR'):
        ort_kernels.ort_kernels_library()


@pytest.mark.slow(seconds=15)
def test_export_tool_writes_the_kernels_on_request(tmp_path):
    """``tools/export_onnx.py --deploy --cpu-kernels --dynamic-batch`` on the COCO config:
    30 kernel nodes for Lite-HRNet-18 (one stem, four transition paths, 16 blocks, eight
    fusions, the head) and the heatmap head's MatMul, checked by the tool at batches 1 and 3
    against PyTorch; ``--cpu-kernels`` without ``--deploy`` is refused before any work."""
    from test_deploy import _export
    stdout, _, out = _export('export_onnx', COCO_LITEHRNET_18, (256, 192), tmp_path,
                             '--deploy', '--cpu-kernels', '--dynamic-batch')
    assert 'input N (dynamic, checked at 1 and 3)x3x256x192, heatmaps (17, 64, 48)' in stdout
    nodes = collections.Counter(node.op_type for node in onnx.load(out).graph.node
                                if node.domain == '' and node.op_type != 'Constant')
    # The heatmap head's 1x1 convolution reads the head's channels-last output as a
    # MatMul: no transpose but the input's and the heatmaps'.
    assert nodes == {'Transpose': 2, 'MatMul': 1, 'Add': 1}
    assert sum(node.domain == 'mmpose_litehrnet' for node in onnx.load(out).graph.node) == 30
    code, _ = run_tool('export_onnx', COCO_LITEHRNET_18, 'ckpt.pth', '--shape', '256', '192',
                       '--cpu-kernels')
    assert code == 2
