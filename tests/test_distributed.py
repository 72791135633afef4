"""Lite-HRNet under DistributedDataParallel: 2 CPU processes (gloo) vs one process, in
training and through ``SwitchToDeployHook`` at test time.

MMEngine's launcher calls ``torch.cuda.set_device``, so ``mim train --launcher pytorch``
cannot run on a machine without a GPU; this tests the model at the torch level. Batch
norm statistics are per process (SyncBN needs a GPU), so the model uses a per-sample norm
(GroupNorm with one group) to make the computation independent of how the batch is split.
"""

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from conftest import random_image, random_pose_model, randomize_

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


@pytest.mark.slow
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


def _deploy_hook_worker(rank: int, world: int, init_file: str, out: str) -> None:
    """``mim test``'s order under the PyTorch launcher: the runner wraps the model in
    ``MMDistributedDataParallel``, then ``SwitchToDeployHook.before_test`` gets the
    wrapper, then the test loop calls the wrapper's ``test_step`` on this rank's data."""
    from types import SimpleNamespace

    import numpy as np
    from mmcv.transforms import Compose
    from mmengine.dataset import pseudo_collate
    from mmengine.model import MMDistributedDataParallel
    from torch.nn.modules.batchnorm import _BatchNorm

    from mmpose_litehrnet.engine import SwitchToDeployHook
    dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank,
                            world_size=world)
    torch.set_num_threads(1)
    model = random_pose_model()
    wrapper = MMDistributedDataParallel(model)
    hook = SwitchToDeployHook()
    hook.before_test(SimpleNamespace(model=wrapper, hooks=[hook]))
    pipeline = Compose(model.cfg.test_dataloader.dataset.pipeline)
    image = random_image(rank)
    sample = pipeline(dict(img=image, bbox=np.array([[0, 0, 180, 240]], np.float32),
                           bbox_score=np.ones(1, np.float32), **model.dataset_meta))
    with torch.no_grad():
        result = wrapper.test_step(pseudo_collate([sample]))[0]
    torch.save({'heatmaps': torch.as_tensor(result.pred_fields.heatmaps),
                'keypoints': torch.as_tensor(result.pred_instances.keypoints),
                'norms': sum(isinstance(m, _BatchNorm) for m in wrapper.modules()),
                'channels_last': model.backbone.channels_last_devices},
               f'{out}.{rank}')
    dist.destroy_process_group()


@pytest.mark.slow
def test_switch_to_deploy_hook_under_distributed_data_parallel(tmp_path):
    """Each rank's predictions through the DDP-wrapped, hook-deployed model equal the
    single-process deploy form's (MMPose's own inference) on that rank's image."""
    from mmpose.apis import inference_topdown
    out = str(tmp_path / 'rank')
    mp.spawn(_deploy_hook_worker, args=(2, str(tmp_path / 'init'), out), nprocs=2,
             join=True)
    model = random_pose_model()
    model.switch_to_deploy()
    for rank in range(2):
        result = torch.load(f'{out}.{rank}', weights_only=True)
        assert result['norms'] == 0 and result['channels_last'] == ('cpu', )
        expected = inference_topdown(model, random_image(rank))[0]
        heatmaps = torch.as_tensor(expected.pred_fields.heatmaps)
        # float32 rounding: one thread per rank here, two in this process
        torch.testing.assert_close(result['heatmaps'], heatmaps, rtol=0,
                                   atol=1e-4 * heatmaps.abs().max().item())
        torch.testing.assert_close(result['keypoints'],
                                   torch.as_tensor(expected.pred_instances.keypoints),
                                   rtol=0, atol=1e-3)
