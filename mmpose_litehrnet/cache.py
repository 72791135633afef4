"""The on-disk cache of built and compiled artifacts: the CPU kernels, their ONNX
Runtime library, AOTInductor packages. One routine names a cached file by a digest of
what it depends on and makes it whole or not at all."""
import hashlib
import os
import os.path as osp
import tempfile
from typing import Callable, Optional, Union

__all__ = ['cache_folder', 'cache_root', 'cached_file', 'digest']


def cache_root() -> str:
    """``$MMPOSE_LITEHRNET_CACHE``, else ``~/.cache/mmpose_litehrnet``."""
    return os.environ.get('MMPOSE_LITEHRNET_CACHE',
                          osp.join(osp.expanduser('~'), '.cache', 'mmpose_litehrnet'))


def digest(*parts: Union[str, bytes], length: int = 16) -> str:
    """The first ``length`` hex digits of the SHA-256 of ``parts`` in turn."""
    sha = hashlib.sha256()
    for part in parts:
        sha.update(part.encode() if isinstance(part, str) else part)
    return sha.hexdigest()[:length]


def cache_folder(folder: str) -> str:
    """``folder`` (a relative one under :func:`cache_root`), made if missing."""
    path = osp.join(cache_root(), folder)
    os.makedirs(path, exist_ok=True)
    return path


def cached_file(folder: str, name: str, make: Optional[Callable[[str], None]] = None) -> str:
    """The path of ``name`` in ``folder`` (relative folders are under
    :func:`cache_root`), made by ``make(partial)`` when it is missing: ``make`` writes a
    file at ``partial`` (same folder and extension), which is then renamed into place, so that
    another process making the same file at once never sees a partial one. With no
    ``make``, only the path (its folder made)."""
    path = osp.join(cache_folder(folder), name)
    if make is None or osp.exists(path):
        return path
    fd, partial = tempfile.mkstemp(prefix=osp.basename(path) + '.', suffix=osp.splitext(path)[1],
                                   dir=osp.dirname(path))
    os.close(fd)
    try:
        make(partial)
        os.replace(partial, path)
    finally:
        if osp.exists(partial):
            os.remove(partial)
    return path
