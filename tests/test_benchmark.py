"""tools/benchmark.py and its package tools/benchmarking: the peers and runtimes as data,
the CPU run end to end on stand-in models, the head stand-in, the fallback without mmcv
ops, the CUDA graph replay, the model subsets, the printed targets, the compiled
convolution share, the GPU report cut short by a time limit."""
import argparse
import dataclasses
import os
import os.path as osp
import re
import signal
import sys
import time

import pytest
import torch
from conftest import ROOT, calibrate_, randomize_, run_python

TOOLS = osp.join(ROOT, 'tools')
sys.path.insert(0, TOOLS)
from benchmarking import cpu, gpu, models, plots, profiling, reports, runtimes, timing  # noqa: E402,I001


def test_cuda_graph_replays_the_deploy_form(cuda):
    """The GPU benchmark replays the forward pass as a CUDA graph (for the deploy form:
    channels-last on CUDA, the in-place fusion): a replay on a new input gives the eager
    outputs."""
    from mmpose_litehrnet import LiteHRNet
    from mmpose_litehrnet.deploy import switch_to_deploy
    model = switch_to_deploy(calibrate_(randomize_(LiteHRNet('litehrnet_18'), seed=4)),
                             channels_last=('cuda', )).to(cuda)
    graph, static, out = runtimes.capture_cuda_graph(
        model, torch.randn(1, 3, 256, 192, device=cuda))
    x = torch.randn_like(static)
    static.copy_(x)
    graph.replay()
    with torch.no_grad():
        expected = model(x)[0]
        assert not torch.equal(out[0], model(torch.randn_like(x))[0])  # the input matters
    torch.testing.assert_close(out[0], expected, rtol=1e-4, atol=1e-4)


def test_cuda_graph_call_keeps_what_the_replay_reads(monkeypatch):
    """The CUDA-graph call holds the model, the static input and the static output for
    as long as it lives (a graph holds none of them; freed, their memory went to the next
    model and a replay crashed the H200 run). Checked on the CPU with a stand-in graph:
    nothing else refers to them once the call is made."""
    import gc
    import weakref
    from types import SimpleNamespace

    replays = []
    captured = {}

    def capture(model, x):
        static_input, static_output = x.clone(), model(x)
        captured.update(model=weakref.ref(model), input=weakref.ref(static_input),
                        output=weakref.ref(static_output))
        return SimpleNamespace(replay=lambda: replays.append(1)), static_input, static_output

    monkeypatch.setattr(runtimes, 'capture_cuda_graph', capture)
    monkeypatch.setattr(torch.cuda, 'synchronize', lambda: None)
    call = runtimes.cuda_graph_fn(torch.nn.Linear(2, 2), torch.zeros(1, 2))
    gc.collect()
    assert all(ref() is not None for ref in captured.values())
    call()
    assert replays == [1]
    del call
    gc.collect()
    assert all(ref() is None for ref in captured.values())  # the call was what held them


@pytest.mark.parametrize('deconv', [False, True])
def test_plain_heatmap_head_equals_mmpose_heatmap_head(deconv):
    from mmpose.models.heads import HeatmapHead
    kwargs = {} if deconv else dict(deconv_out_channels=None)
    oracle = randomize_(HeatmapHead(in_channels=48, out_channels=17, **kwargs)).eval()
    plain = models.PlainHeatmapHead(48, 17, deconv=deconv).eval()
    plain.load_state_dict(oracle.state_dict(), strict=True)
    feats = (torch.randn(2, 8, 16, 12), torch.randn(2, 48, 16, 12))
    with torch.no_grad():
        expected = oracle.forward(feats)
        assert torch.equal(plain(feats), expected)
    assert expected.shape == (2, 17, 128 if deconv else 16, 96 if deconv else 12)


@pytest.mark.slow
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
        sys.path.insert(0, {TOOLS!r})
        from benchmarking import models as bench
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
    assert 'HRNet-W16' in out and 'RTMPose-t' not in out  # RTMPose needs MMPose's heads


def test_training_line_reports_medians_and_round_ratios():
    samples = {'ours litehrnet_18': [3.0, 1.0, 2.0], models.BASE: [6.0, 2.0, 4.1]}
    line, ratio = reports.training_line(samples, 'batch 32', ms=False)
    assert ratio == '0.49'  # 2.0 / 4.1: medians, not the first round
    assert line == ('Training step, batch 32 (s, medians of 3 alternating steps): '
                    'ours litehrnet_18 2.00, MMPose litehrnet_18 4.10; ratio ours/built-in '
                    '0.49, round by round 0.50 (0.49-0.50) (median, quartiles)')
    assert 'ours litehrnet_18 2000.0' in reports.training_line(samples, 'fp32', ms=True)[0]
    samples[models.TRAINED_CL] = [2.0, 1.0, 1.5]
    line, ratio = reports.training_line(samples, 'batch 32', ms=False)
    assert ratio == '0.49' and line.endswith(
        'ours litehrnet_18 channels-last / built-in 0.37, round by round 0.37 (0.33-0.50), '
        'against ours round by round 0.75 (0.67-1.00)')


def test_round_ratios_pair_the_rounds():
    """Two models that slow down together in the same rounds have ratio 1 in every round,
    however much the machine drifts; the quartiles are those of the per-round ratios."""
    drift = [1.0, 3.0, 1.5, 2.0, 5.0]
    assert timing.round_ratios([2 * t for t in drift], drift) == '2.00 (2.00-2.00)'
    assert timing.round_ratios([2.0, 4.0, 6.0, 8.0], [1.0] * 4) == '5.00 (2.50-7.50)'


def test_models_subset_is_checked_and_keeps_the_baseline():
    """``--models`` names must exist and include the baseline, every ratio's
    denominator; the error names the bad value."""
    built = {models.BASE: None, models.DEPLOYED: None, models.MOBILENET: None}
    chosen = f'{models.DEPLOYED},{models.BASE}'
    assert models.model_subset(chosen, built) == [models.DEPLOYED, models.BASE]
    with pytest.raises(ValueError, match='HRNet-W99'):
        models.model_subset(f'{models.BASE},HRNet-W99', built)
    with pytest.raises(ValueError, match='baseline'):
        models.model_subset(models.DEPLOYED, built)


def test_cpu_targets_report_only_what_the_run_measured():
    """A subset run (no training-form model, no MobileNetV2) prints the targets it can
    compute, from the measured values, and leaves the others out instead of failing."""
    deployed, base, mobilenet = models.DEPLOYED, models.BASE, models.MOBILENET
    latency = {deployed: 0.040, base: 0.080}
    share = {deployed: (0.48, 0.019)}
    assert cpu.cpu_targets(latency, None, share) == (
        'Targets (issue 5): deploy latency <= 0.60x built-in: 0.50x; conv share >= 70%: 48%.')
    latency.update({mobilenet: 0.050, f'{deployed} ONNX Runtime': 0.020,
                    f'{mobilenet} ONNX Runtime': 0.025, f'{deployed} + torch.compile': 0.018,
                    f'{mobilenet} + torch.compile': 0.030})
    share[f'{deployed} + torch.compile'] = (0.56, 0.010)
    line = cpu.cpu_targets(latency, '0.77', share)
    assert 'training step <= 1.0x: 0.77x; conv share >= 70%: 48% (compiled 56%)' in line
    assert line.endswith(f'beat {mobilenet} (ms, ours vs it, same runtime): eager 40.0 vs '
                         '50.0; + torch.compile 18.0 vs 30.0; ONNX Runtime 20.0 vs 25.0.')
    assert cpu.cpu_targets({base: 0.08}, None, {}) == (
        'Targets (issue 5): none measured in this subset.')
    rtmpose, aot = models.RTMPOSE_T, models.DEPLOYED_AOT
    line = cpu.cpu_targets({base: 0.08, rtmpose: 0.037, aot: 0.031}, None, {})
    assert line.endswith('as MMPose runs each (ours with SwitchToDeployHook(aot=True), '
                         'RTMPose-t eager): 31.0 vs 37.0 ms.')


def test_rows_split_into_model_and_runtime_for_the_accuracy_plot(tmp_path):
    """The AP plot's colour (model) and marker (runtime) of each row; its report line
    names each published AP's source."""
    deployed, rtmpose = models.DEPLOYED, models.RTMPOSE_T
    assert runtimes.split_runtime(f'{rtmpose} + torch.compile') == (rtmpose, 'torch.compile')
    assert runtimes.split_runtime(f'{deployed} ONNX Runtime') == (deployed, 'ONNX Runtime')
    assert runtimes.split_runtime(rtmpose) == (rtmpose, 'eager')
    assert runtimes.split_runtime(models.DEPLOYED_AOT) == (
        deployed, 'eager, SwitchToDeployHook(aot=True)')
    lines = plots.plot_accuracy(str(tmp_path / 'ap.png'), 'title', {
        deployed: 0.07, f'{deployed} AOTInductor': 0.03, rtmpose: 0.04, 'HRNet-W16': 0.1})
    assert (tmp_path / 'ap.png').exists()
    assert '68.5 MMPose 1.3.2 metafile, rtmpose-t_8xb256-420e_aic-coco-256x192' in lines[0]
    assert 'HRNet' not in lines[0]


@pytest.mark.slow
def test_compiled_conv_share_records_the_compiled_convolutions():
    """With Inductor's kernel profile on, a compiled network of large convolutions shows
    them as most of its time (without it the compiled graph is one profiler event and
    the share 0%, seen once by hand)."""
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 64, 3, padding=1), torch.nn.ReLU(),
        torch.nn.Conv2d(64, 64, 3, padding=1), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(64, 10)).eval()
    share, seconds = profiling.compiled_conv_share(model, torch.randn(1, 3, 64, 64))
    assert share > 0.7 and seconds > 0
    assert profiling.is_convolution('aoti_torch_cpu__mkl_linear')
    assert not profiling.is_convolution('aoti_torch_cpu_mm_out')


def test_gpu_models_run_the_channels_last_rows_on_the_gpu():
    """The models of a GPU run (built here on the CPU): the NCHW deploy row becomes the
    channels-last opt-in, and the channels-last training row runs channels-last on the
    GPU (not the CPU) with channels-last convolution weights and ours' weights."""
    models.import_mmpose_models()
    built = models.build_device_models(torch.device('cuda'))
    assert f'{models.DEPLOYED} NCHW' not in built
    for key in (models.DEPLOYED_CL, models.TRAINED_CL):
        backbone = built[key].backbone
        assert backbone.channels_last_devices == ('cuda', )
        # The stem's first convolution (3 input channels, 3x3): its layouts differ.
        stem_weight = next(p for p in backbone.parameters() if p.dim() == 4)
        assert stem_weight.shape[1:] == (3, 3, 3)
        assert stem_weight.is_contiguous(memory_format=torch.channels_last)
        assert not stem_weight.is_contiguous()
    ours = built[models.TRAINED].state_dict()
    trained_cl = built[models.TRAINED_CL].state_dict()
    assert trained_cl.keys() == ours.keys()
    assert all(torch.equal(trained_cl[k], v) for k, v in ours.items())


def _sigterm() -> None:
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(5)  # the handler interrupts this


def test_a_sigterm_stops_the_steps_and_names_what_was_not_run():
    """A time limit (``timeout`` sends SIGTERM) ends the run after the steps that
    finished, and the line names the interrupted step and those not run; the previous
    SIGTERM handler is back afterwards."""
    before = signal.getsignal(signal.SIGTERM)
    ran = []
    steps = [('a', lambda: ran.append('a')), ('b', _sigterm), ('c', lambda: ran.append('c'))]
    assert timing.run_steps(steps) == 'Interrupted (SIGTERM) during "b"; not run: c.'
    assert ran == ['a'] and signal.getsignal(signal.SIGTERM) is before
    assert timing.run_steps(steps[:1]) is None and ran == ['a', 'a']


def _stand_in(width: int) -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.AvgPool2d(4), torch.nn.Conv2d(3, width, 3),
                               torch.nn.ReLU(), torch.nn.Conv2d(width, 17, 1)).eval()


def _gpu_report_on_the_cpu(tmp_path, compile_hook=None, train_hook=None):
    """The GPU run and report on the CPU with small stand-in models under the baseline's,
    the deploy form's and ours' names (CUDA graphs and torch.compile replaced by eager
    calls; the hooks run at each compile and at the training step)."""
    def compiled(model, x, workdir):
        if compile_hook:
            compile_hook()
        return runtimes.eager(model, x)

    def train(*args):
        if train_hook:
            train_hook()
        return {models.TRAINED: [1.0, 2.0, 3.0], models.BASE: [2.0, 4.0, 6.0]}

    stand_ins = {'eager': runtimes.GPU_RUNTIMES['eager'],
                 'graph': dataclasses.replace(runtimes.GPU_RUNTIMES['graph'],
                                              prepare=runtimes.eager),
                 'compiled': dataclasses.replace(runtimes.GPU_RUNTIMES['compiled'],
                                                 prepare=compiled)}
    built = {models.BASE: _stand_in(64), models.DEPLOYED: _stand_in(8),
             models.TRAINED: _stand_in(4)}
    args = argparse.Namespace(device='cpu', rounds=3, throughput_rounds=1, batch=2,
                              train_rounds=3, compile=True, out=str(tmp_path / 'gpu'))
    results = gpu.measure_gpu(built, args, stand_ins, train)
    return '\n'.join(gpu.gpu_lines(results, list(built), {k: 2**20 for k in built}, args))


def test_gpu_report_keeps_the_columns_measured_before_a_sigterm(tmp_path):
    """The compiled columns come first (fp32, then fp16); a SIGTERM in the fp16 compile
    leaves the fp32 compiled column in the table and its speed-up, and names the rest as
    not run; a SIGTERM in the training step leaves every column, in display order; a
    full run reports the training step."""
    compiles = []

    def compile_hook() -> None:  # the third compile: fp16, the first model
        compiles.append(1)
        if len(compiles) == 3:
            _sigterm()

    report = _gpu_report_on_the_cpu(tmp_path, compile_hook=compile_hook)
    assert '| model | FLOPs (paper) | fp32 compiled ms |\n|---|---:|---:|\n' in report
    assert f'| {models.TRAINED} | 1.0M |  |\n' in report  # not compiled
    assert re.search('torch.compile, first call \\(compiling\\), s: fp32 batch 1: '
                     f'{models.BASE} [0-9]+, {models.DEPLOYED} [0-9]+\n', report)
    assert re.search(r'batch-1 latency: fp32 compiled [0-9.]+x\.', report)
    assert report.endswith('Interrupted (SIGTERM) during "fp16 batch 1 compiled"; not run: '
                           'fp32 batch 1 eager, fp32 batch 1 graph, fp32 batch 2 eager, '
                           'fp32 batch 2 graph, fp16 batch 1 eager, fp16 batch 1 graph, fp16 '
                           'batch 2 eager, fp16 batch 2 graph, training step.')
    report = _gpu_report_on_the_cpu(tmp_path, train_hook=_sigterm)
    header = report.split('\n')[2]
    assert header == ('| model | FLOPs (paper) | fp32 eager ms | fp32 graph ms | fp32 compiled '
                      'ms | fp16 eager ms | fp16 graph ms | fp16 compiled ms | fp32 eager '
                      'img/s | fp32 graph img/s | fp16 eager img/s | fp16 graph img/s |')
    assert 'Training step' not in report
    assert report.endswith('Interrupted (SIGTERM) during "training step".')
    assert osp.exists(tmp_path / 'gpu.png')
    report = _gpu_report_on_the_cpu(tmp_path)
    assert 'Training step, fp32, batch 2 (ms, medians of 3 alternating steps): ' \
        f'{models.TRAINED} 2000.0, {models.BASE} 4000.0; ratio ours/built-in 0.50' in report
    assert 'Interrupted' not in report


def test_every_peer_runtime_is_declared_and_every_row_splits_back():
    """The peers name only declared runtimes; each row a peer gets in a runtime splits
    back into that peer and runtime (the AP plot's colour and marker)."""
    names = [peer.name for peer in models.PEERS]
    assert len(names) == len(set(names))
    declared = {runtime.name for runtime in runtimes.CPU_RUNTIMES}
    for peer in models.PEERS:
        assert peer.runtimes <= declared, peer.name
        for runtime in runtimes.CPU_RUNTIMES:
            if runtime.runs(peer.name):
                assert runtimes.split_runtime(runtime.row(peer.name)) == (
                    peer.name, runtime.name) or peer.name == models.DEPLOYED_AOT
    assert runtimes.CPU_RUNTIMES[0].runs('anything')  # eager: every model
    assert not runtimes.CPU_RUNTIMES[1].runs(models.DEPLOYED_AOT)


def test_cpu_run_times_every_row_and_reports_the_ones_that_failed(tmp_path):
    """The CPU run on two stand-in models under the baseline's and the deploy form's names,
    with ONNX Runtime, OpenVINO (f32, bf16, int8) and ncnn on and a runtime that fails: every row
    the peers ask for is timed in the one alternating loop (throughput where the runtime
    takes it), the failing row is named in the report instead of ending the run."""
    def broken(model, x, workdir):
        raise RuntimeError('no kernel')

    built = {models.BASE: _stand_in(64), models.DEPLOYED: _stand_in(8)}
    failing = runtimes.Runtime('broken', ' broken', broken,
                               applies=lambda model: model == models.DEPLOYED)
    args = argparse.Namespace(rounds=4, throughput_rounds=1, batch=2, compile=False,
                              aoti=False, onnx=True, openvino=True, ncnn=True,
                              out=str(tmp_path / 'cpu'))
    results = cpu.measure_cpu(built, args, (*runtimes.CPU_RUNTIMES, failing))
    rows = [f'{model}{suffix}' for suffix in ('', ' + torch.jit.trace', ' ONNX Runtime',
                                               ' OpenVINO', ' OpenVINO bf16',
                                               ' OpenVINO int8', ' ncnn')
            for model in built]
    assert list(results.latency) == rows
    assert all(len(samples) == 4 for samples in results.latency.values())
    assert list(results.throughput) == rows
    assert results.not_measured == [
        f'{models.DEPLOYED} broken (RuntimeError: no kernel)']
    assert results.training is None and set(results.share) == set(built)
    lines = cpu.cpu_lines(results, {k: 2**20 for k in rows}, args)
    table = [line for line in lines if line.startswith(f'| {models.DEPLOYED}')]
    assert [line.split(' | ')[0][2:] for line in table] == rows[1::2]
    assert lines[4].startswith(f'| {models.BASE} | 1.0M | ') and ' | 1.00 | ' in lines[4]
    assert f'Not measured: {models.DEPLOYED} broken (RuntimeError: no kernel).' in lines
    assert 'Training step: not run' in '\n'.join(lines)
    assert osp.exists(tmp_path / 'cpu.png') and osp.exists(tmp_path / 'cpu_ap.png')


def test_target_benchmark_times_the_kernels_against_the_operators():
    """``tools/benchmark_targets.py`` builds the named target in a process of its own and
    prints its row: both times, the per-round ratio and the error against the training
    form; a target that does not build is left out, said so."""
    from conftest import run_tool
    code, printed = run_tool('benchmark_targets', '--targets', 'native', 'no-such-cpu-x',
                             '--rounds', '2')
    assert code in (0, None), printed
    row = next(line for line in printed.splitlines() if line.startswith('| `native`'))
    kernels, operators, ratio, error = (cell.strip() for cell in row.split('|')[2:6])
    assert float(kernels) > 0 and float(operators) > 0 and float(error) < 1e-5
    assert re.fullmatch(r'\d+\.\d\d \(\d+\.\d\d-\d+\.\d\d\)', ratio)
    assert 'no-such-cpu-x: left out' in printed and '`no-such-cpu-x`' not in printed
