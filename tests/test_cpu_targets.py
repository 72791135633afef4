"""The CPU kernels built for other targets than this machine's: x86 (``-march=haswell``:
AVX2 and FMA; ``-march=x86-64-v2``: SSE4.2), as ``MMPOSE_LITEHRNET_CPU_TARGET`` builds
them for users' CPUs, each in a fresh process (one library per process), against the
training form's and the deploy form's operators for every variant; and aarch64, under
emulation, against the native kernels."""
import json
import os.path as osp
import platform
import sys

import pytest
from conftest import ROOT, run_python

from mmpose_litehrnet.kernels.build import cpu_flags

#: Each target and the CPU flags its code needs to run here.
TARGETS = {'haswell': {'avx2', 'fma'}, 'x86-64-v2': {'sse4_2', 'popcnt'}}


@pytest.mark.slow(seconds=30)
@pytest.mark.skipif(platform.machine() not in ('x86_64', 'AMD64'), reason='x86 targets')
@pytest.mark.parametrize('target', sorted(TARGETS))
def test_kernels_built_for_another_x86_target(target):
    """Built for ``target`` (the build records its flags), every variant's kernels run
    (a call per block) and give the training form's outputs as closely as the deploy
    form's operators do (float32 summed in other orders): relative L2 error at most 1.5x
    the operators' + 1e-6 (both 5e-6 to 5e-5 here), largest difference at most 1e-4 of
    the output's largest magnitude, as on the native build."""
    if not TARGETS[target] <= cpu_flags():
        pytest.skip(f'this CPU cannot run {target} code')
    out = run_python(f'''
        import copy, json, os, sys
        os.environ['MMPOSE_LITEHRNET_CPU_TARGET'] = {target!r}
        sys.path.insert(0, 'tests')
        import torch
        from conftest import VARIANT_NAMES, calibrate_, randomize_, relative_error
        from test_cpu_kernels import kernel_calls
        from mmpose_litehrnet import LiteHRNet
        from mmpose_litehrnet.deploy import switch_to_deploy
        from mmpose_litehrnet.kernels import LIBRARY, cpu_kernels_available, flag_sets
        assert cpu_kernels_available()
        ninja = open(os.path.join(LIBRARY.build_dir(flag_sets()[0]), 'build.ninja')).read()
        results = {{'march': '-march={target}' in ninja}}
        x = torch.randn(2, 3, 128, 96, generator=torch.Generator().manual_seed(0))
        for variant in VARIANT_NAMES:
            model = calibrate_(randomize_(LiteHRNet(variant, out_indices=(0, 1, 2, 3)), seed=4))
            with torch.no_grad():
                training = model(x)
                operators = switch_to_deploy(copy.deepcopy(model), cpu_kernels=False)(x)
            kernels, calls = kernel_calls(switch_to_deploy(model), x)
            results[variant] = dict(
                calls=sum(calls.values()),
                kernels=max(relative_error(a, t) for a, t in zip(kernels, training)),
                largest=max(((a - t).abs().max() / t.abs().max()).item()
                            for a, t in zip(kernels, training)),
                operators=max(relative_error(b, t) for b, t in zip(operators, training)))
        print(json.dumps(results))
    ''')
    results = json.loads(out.strip().splitlines()[-1])
    assert results.pop('march')
    for variant, r in results.items():
        assert r['calls'] > 0, variant
        assert r['kernels'] <= 1.5 * r['operators'] + 1e-6 and r['largest'] <= 1e-4, (variant, r)


@pytest.mark.slow(seconds=20)
def test_kernels_on_aarch64_under_emulation():
    """The kernels cross-compiled for aarch64 (NEON: four-float vectors, 32 registers) in
    their standalone host, run under qemu-user on every kernel call of Lite-HRNet-18's
    and Naive Lite-HRNet-18's deploy forms (recorded here), give the native kernels'
    outputs within 1e-5 of each output's largest magnitude (the same arithmetic in
    other vector widths)."""
    sys.path.insert(0, osp.join(ROOT, 'tools'))
    import check_kernels_cross
    missing = check_kernels_cross.missing_tools('aarch64')
    if missing:
        pytest.skip(f'no {", ".join(missing)} (make cross-tools installs them)')
    results = check_kernels_cross.check('aarch64', ['litehrnet_18', 'naive_litehrnet_18'])
    assert results['litehrnet_18'][0] == 30 and results['naive_litehrnet_18'][0] > 30
    assert all(worst <= 1e-5 for _, worst in results.values()), results
