"""Lite-HRNet under DistributedDataParallel: 2 CPU processes (gloo) vs one process.

MMEngine's launcher calls ``torch.cuda.set_device``, so ``mim train --launcher pytorch``
cannot run on a machine without a GPU; this tests the model at the torch level. Batch
norm statistics are per process (SyncBN needs a GPU), so the model uses a per-sample norm
(GroupNorm with one group) to make the computation independent of how the batch is split.
"""

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from conftest import randomize_

from mmpose_litehrnet import LiteHRNet

STEPS = 2


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return randomize_(LiteHRNet('litehrnet_18', norm_cfg=dict(type='GN', num_groups=1)),
                     seed=5).train()


def _batch():
    gen = torch.Generator().manual_seed(1)
    return torch.randn(4, 3, 64, 48, generator=gen), torch.randn(4, 40, 16, 12, generator=gen)


def _train(model, x, y, step_hook=None):
    opt = torch.optim.SGD(model.parameters(), lr=1e-2)
    for _ in range(STEPS):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x)[0], y).backward()
        if step_hook:
            step_hook(model)
        opt.step()
    return model


def _worker(rank: int, world: int, init_file: str, out: str) -> None:
    dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank,
                            world_size=world)
    torch.set_num_threads(1)
    x, y = _batch()
    half = slice(rank * 2, rank * 2 + 2)
    ddp = torch.nn.parallel.DistributedDataParallel(_model(), find_unused_parameters=False)
    unused = []
    _train(ddp, x[half], y[half],
           lambda m: unused.extend(n for n, p in m.named_parameters() if p.grad is None))
    if rank == 0:
        torch.save({'state': ddp.module.state_dict(), 'unused': unused}, out)
    dist.destroy_process_group()


def test_ddp_two_processes_equal_one_process(tmp_path):
    out = str(tmp_path / 'ddp.pth')
    mp.spawn(_worker, args=(2, str(tmp_path / 'init'), out), nprocs=2, join=True)
    result = torch.load(out, weights_only=True)
    assert result['unused'] == []
    x, y = _batch()
    init = _model().state_dict()
    single = _train(_model(), x, y).state_dict()
    # Compare the updates, not the weights, so that gradient errors are visible; the
    # absolute tolerance is a float32 rounding step of weights of magnitude ~2.
    moved = 0
    for key, value in single.items():
        if not value.is_floating_point():
            continue
        torch.testing.assert_close(result['state'][key] - init[key], value - init[key],
                                   rtol=1e-3, atol=2.5e-7, msg=key)
        moved += int((value - init[key]).abs().max() > 0)
    assert moved > 100
