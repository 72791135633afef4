"""Safe checkpoint loading for MMEngine 0.10.7 on torch >= 2.6.

torch >= 2.6 unpickles with ``weights_only=True`` by default: only tensors, containers
and primitive types, plus the globals put on an allowlist, can be loaded, and nothing
in the file can run code. MMEngine 0.10.7 predates that, and the checkpoints it saves
hold a few more types (its ``HistoryBuffer`` in ``message_hub``, numpy arrays and scalars
in ``meta`` and the dataset meta), so resuming or testing from them fails.

Instead of falling back to ``weights_only=False`` (which would run whatever a downloaded
file asks), we allowlist exactly those data-only types and keep the safe unpickler.
Files that need anything else are refused with an error that says so; truncated or
non-checkpoint files get a clear error too. Importing ``mmpose_litehrnet`` installs this
as MMEngine's loader for local paths and for http(s) URLs.
"""
import os
import os.path as osp
import pickle
from typing import Any, Callable, List, Optional

import numpy as np
import torch

__all__ = [
    'CheckpointError', 'install', 'load_from_http_safely', 'load_from_local_safely',
    'safe_globals'
]


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be loaded safely or is not a checkpoint."""


def _history_buffer_statistic(owner: Any, name: str) -> Callable:
    """Stands in for ``getattr`` when unpickling: a ``HistoryBuffer`` pickles its
    statistics methods as ``getattr(HistoryBuffer, 'mean')``; that, and only that, is
    resolved (a general ``getattr`` would let a crafted file reach arbitrary code)."""
    from mmengine.logging.history_buffer import HistoryBuffer
    if owner is HistoryBuffer and name in set(HistoryBuffer._statistics_methods) | {
            'min', 'max', 'current', 'mean'}:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'refused getattr({owner!r}, {name!r}): only HistoryBuffer statistics are allowed')


def safe_globals() -> List[Any]:
    """The data-only globals MMEngine / MMPose checkpoints need beyond torch's defaults."""
    from mmengine.logging.history_buffer import HistoryBuffer

    numpy_types: List[Any] = [np.ndarray, np.dtype]
    numpy_types += [type(np.dtype(t)) for t in np.sctypeDict.values()]
    numpy_types += sorted({t for t in np.sctypeDict.values()}, key=str)
    try:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy 2.x
        from numpy._core.multiarray import _reconstruct, scalar
    return [HistoryBuffer, (_history_buffer_statistic, 'builtins.getattr'), _reconstruct,
            scalar] + numpy_types


def load_from_local_safely(filename: str, map_location: Optional[Any] = None) -> Any:
    """``torch.load(filename, weights_only=True)`` with :func:`safe_globals` allowed.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: the file is truncated, not a PyTorch checkpoint, or needs a
            global that is not known to be safe (it is not loaded, and nothing in it runs).
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    try:
        with torch.serialization.safe_globals(safe_globals()):
            return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        text = str(error)
        if 'Weights only load failed' in text or 'Unsupported global' in text:
            reasons = [line.strip() for line in text.splitlines()
                       if line.strip() and not line.startswith(('Weights only', 'Please file',
                                                                'Check the doc'))]
            raise CheckpointError(
                f'{filename} asks to unpickle an object that is not known to be safe '
                f'({" ".join(reasons)[:500]}); it was refused and nothing in it was run. If '
                'you trust the file, inspect it with torch.load(..., weights_only=False) or '
                'allowlist that type with torch.serialization.add_safe_globals.') from None
        raise CheckpointError(f'{filename} is not a PyTorch checkpoint ({text})') from None
    except Exception as error:  # the unpickler fails in many ways on foreign bytes
        raise CheckpointError(
            f'{filename} is not a readable PyTorch checkpoint (truncated or another kind of '
            f'file?): {error}') from None


def load_from_http_safely(filename: str, map_location: Optional[Any] = None,
                    model_dir: Optional[str] = None, **kwargs: Any) -> Any:
    """Downloads into torch's hub cache (rank 0 first, as MMEngine does), loads safely."""
    from mmengine.dist import barrier, get_dist_info
    from torch.hub import download_url_to_file, get_dir
    model_dir = model_dir or osp.join(get_dir(), 'checkpoints')
    cached = osp.join(model_dir, osp.basename(filename.split('?')[0]))
    rank, world_size = get_dist_info()
    if rank == 0 and not osp.exists(cached):
        os.makedirs(model_dir, exist_ok=True)
        download_url_to_file(filename, cached, progress=False)
    if world_size > 1:
        barrier()
    return load_from_local_safely(cached, map_location)


def install() -> None:
    """Makes MMEngine's ``CheckpointLoader`` use the safe loaders (idempotent)."""
    from mmengine.runner.checkpoint import CheckpointLoader

    # MMEngine names the loader in its log by the function name after 'load_from_'.
    CheckpointLoader.register_scheme('', load_from_local_safely, force=True)
    CheckpointLoader.register_scheme(('http://', 'https://'), load_from_http_safely,
                                     force=True)
