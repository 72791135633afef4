"""The deploy form's CPU kernels as OpenVINO operations: OpenVINO reads the ONNX files an
export with ``cpu_kernels`` writes, and the IRs saved from them, once it has our
extension, and gives the PyTorch kernels' outputs."""
import collections
import shutil

import openvino as ov
import pytest
import torch
from conftest import COCO_LITEHRNET_18, calibrate_, randomize_
from test_cpu_kernels import modules_of
from test_ort_kernels import ONNX_NAMES, export_with_kernels

from mmpose_litehrnet.deploy import (
    compile_openvino,
    convert_openvino,
    switch_to_deploy,
    uses_openvino_kernels,
)
from mmpose_litehrnet.kernels import cpu_kernels_available
from mmpose_litehrnet.kernels import openvino as openvino_kernels
from mmpose_litehrnet.models.backbones import LiteHRNet


@pytest.fixture(scope='module', autouse=True)
def _library_built():
    """With a C++ compiler the extension must build from the openvino wheel: a failure is
    not a skip."""
    if shutil.which('c++') is None and shutil.which('g++') is None:
        pytest.skip('no C++ compiler')
    assert cpu_kernels_available()
    openvino_kernels.openvino_kernels_library()


def _run(compiled: ov.CompiledModel, x: torch.Tensor) -> list:
    results = compiled.create_infer_request().infer({0: x.numpy()})
    return [torch.from_numpy(results[output].copy()) for output in compiled.outputs]


@pytest.mark.parametrize('variant', ('litehrnet_18', 'naive_litehrnet_18'))
def test_openvino_runs_the_kernels(variant, tmp_path):
    """Exported at batch 2 with a dynamic batch: one operation per kernel call of the
    eager pass; OpenVINO at batch 3 gives the eager kernels' outputs (the same code,
    compiled apart: float rounding at most) and the training form's within 1e-4, from the
    ONNX file and from the IR saved from it."""
    onnx_path = str(tmp_path / 'model.onnx')
    x, training, eager, deployed = export_with_kernels(variant, 5, onnx_path)
    converted = ov.convert_model(onnx_path,
                                 extension=openvino_kernels.openvino_kernels_library())
    ops = collections.Counter(op.get_type_name() for op in converted.get_ops()
                              if op.get_type_info().version_id == 'mmpose_litehrnet')
    assert ops == {ONNX_NAMES[k]: n for k, n in modules_of(deployed).items() if n}
    assert uses_openvino_kernels(converted) and uses_openvino_kernels(onnx_path)
    ir_path = str(tmp_path / 'model.xml')
    ov.save_model(converted, ir_path, compress_to_fp16=False)
    assert uses_openvino_kernels(ir_path)
    for compiled in (compile_openvino(converted), compile_openvino(ir_path)):
        for a, e, t in zip(_run(compiled, x), eager, training):
            assert a.shape == e.shape
            scale = t.abs().max().item()
            torch.testing.assert_close(a, e, rtol=0, atol=1e-6 * scale)
            torch.testing.assert_close(a, t, rtol=0, atol=1e-4 * scale)


def test_plain_models_need_no_extension():
    """Without ``cpu_kernels`` the model holds OpenVINO's operations only."""
    model = switch_to_deploy(calibrate_(randomize_(LiteHRNet('litehrnet_18'), seed=1)))
    x = torch.randn(1, 3, 64, 48)
    assert not uses_openvino_kernels(convert_openvino(model, x, ('out', )))


def test_missing_headers_are_named(monkeypatch):
    """Where the wheel lacks a header the build names it and where it looked."""
    monkeypatch.setattr(openvino_kernels, '_HEADERS', ('openvino/no_such_header.hpp', ))
    with pytest.raises(RuntimeError, match='missing.*no_such_header'):
        openvino_kernels.openvino_kernels_library()


@pytest.mark.slow(seconds=15)
def test_export_tool_writes_the_kernels_on_request(tmp_path):
    """``tools/export_openvino.py --deploy --cpu-kernels`` on the COCO config: an IR of 30
    kernel operations, checked by the tool against PyTorch."""
    from test_deploy import _export
    stdout, _, out = _export('export_openvino', COCO_LITEHRNET_18, (256, 192), tmp_path,
                             '--deploy', '--cpu-kernels')
    assert 'input 1x3x256x192, heatmaps (17, 64, 48)' in stdout
    model = openvino_kernels.add_openvino_kernels().read_model(out)
    assert sum(op.get_type_info().version_id == 'mmpose_litehrnet'
               for op in model.get_ops()) == 30
