"""Lite-HRNet under DistributedDataParallel: 2 CPU processes (gloo) vs one process.

MMEngine's launcher calls ``torch.cuda.set_device``, so ``mim train --launcher pytorch``
cannot run on a machine without a GPU; this tests the model at the torch level. Batch
norm statistics are per process (SyncBN needs a GPU), so the norm layers run in eval mode
(``norm_eval``) to make the per-sample computation independent of the split; their
affine parameters still train.
"""

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from conftest import randomize_

from mmpose_litehrnet import LiteHRNet

STEPS = 2


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return randomize_(LiteHRNet('litehrnet_18', norm_eval=True), seed=5).train()


def _batch():
    gen = torch.Generator().manual_seed(1)
    return torch.randn(4, 3, 64, 48, generator=gen), torch.randn(4, 40, 16, 12, generator=gen)


def _train(model, x, y, step_hook=None):
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
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
    single = _train(_model(), x, y).state_dict()
    for key, value in single.items():
        torch.testing.assert_close(result['state'][key], value, rtol=1e-4, atol=1e-6,
                                   msg=key)
    assert any(not torch.equal(v, _model().state_dict()[k]) for k, v in single.items())
