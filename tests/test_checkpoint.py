"""Checkpoints load on torch >= 2.6 without ever unpickling code from the file."""
import os
import os.path as osp

import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner import CheckpointLoader, load_checkpoint

from mmpose_litehrnet import LiteHRNet
from mmpose_litehrnet.checkpoint import CheckpointError, load_from_local_safely


class _RunsCode:
    """Unpickling this calls os.system: a crafted 'checkpoint'."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}', )


class _ReachesGetattr:
    """Asks for getattr of a non-statistic attribute: getattr chains reach arbitrary code."""

    def __reduce__(self):
        return getattr, (HistoryBuffer, '__init__')


def test_mmengine_uses_the_safe_loader():
    assert CheckpointLoader._schemes[''] is load_from_local_safely


def test_a_pickle_that_runs_code_is_refused_and_does_not_run(tmp_path):
    marker = tmp_path / 'pwned'
    path = str(tmp_path / 'evil.pth')
    torch.save({'state_dict': {}, 'meta': _RunsCode(str(marker))}, path)
    with pytest.raises(CheckpointError, match='not known to be safe.*nothing in it was run'):
        load_checkpoint(LiteHRNet('litehrnet_18'), path)
    assert not marker.exists()
    # The same file really does run code when loaded unsafely: the test can fail.
    torch.load(path, weights_only=False)
    assert marker.exists()


def test_getattr_is_only_allowed_for_history_buffer_statistics(tmp_path):
    path = str(tmp_path / 'evil.pth')
    torch.save({'meta': _ReachesGetattr()}, path)
    with pytest.raises(CheckpointError, match='refused getattr'):
        load_from_local_safely(path)


def test_mmengine_training_state_loads(tmp_path):
    import numpy as np
    buffer = HistoryBuffer()
    buffer.update(0.5)
    state = {
        'meta': {'seed': np.int64(3), 'dataset_meta': {'sigmas': np.ones(17) * 0.1}},
        'message_hub': {'log_scalars': {'train/loss': buffer}},
        'state_dict': LiteHRNet('naive_litehrnet_18').state_dict(),
    }
    path = str(tmp_path / 'ok.pth')
    torch.save(state, path)
    loaded = load_from_local_safely(path)
    assert loaded['message_hub']['log_scalars']['train/loss'].mean() == 0.5
    assert loaded['meta']['seed'] == 3
    np.testing.assert_array_equal(loaded['meta']['dataset_meta']['sigmas'], np.ones(17) * 0.1)


@pytest.mark.parametrize('content', ['truncated', 'text', 'empty'])
def test_broken_files_give_a_clear_error(tmp_path, content):
    good = str(tmp_path / 'good.pth')
    torch.save({'state_dict': LiteHRNet('litehrnet_18').state_dict()}, good)
    data = open(good, 'rb').read()
    path = str(tmp_path / 'bad.pth')
    with open(path, 'wb') as f:
        f.write({'truncated': data[:len(data) // 2], 'text': b'hello, not a model\n',
                 'empty': b''}[content])
    with pytest.raises(CheckpointError, match='not a (readable )?PyTorch checkpoint'):
        load_from_local_safely(path)


def test_missing_file():
    with pytest.raises(FileNotFoundError, match='can not be found'):
        load_from_local_safely(osp.join('no', 'such.pth'))
