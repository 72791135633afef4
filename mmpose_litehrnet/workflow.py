"""Helpers shared by the demos: running ``mim`` and saving an untrained checkpoint."""
import os.path as osp
import subprocess
import sys
from typing import Callable, List, Optional

__all__ = ['generate_once', 'run_mim', 'save_initial_checkpoint']


def run_mim(*args: str, cwd: Optional[str] = None, echo: str = ' - INFO - ') -> List[str]:
    """Runs ``mim ARGS`` from this environment, printing the lines containing ``echo``
    (MMEngine's progress log) as they come; returns all output lines.

    Raises:
        SystemExit: when mim fails, after printing the end of its output.
    """
    mim = osp.join(osp.dirname(sys.executable), 'mim')
    cmd = [mim if osp.exists(mim) else 'mim', *args]
    print('$', ' '.join(cmd), flush=True)
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if echo in line and ('Iter(' in line or 'Epoch(' in line):
            print(line.rstrip()[:220], flush=True)
    if proc.wait() != 0:
        sys.stdout.write(''.join(lines[-40:]))
        raise SystemExit(f'mim {args[0]} failed (exit {proc.returncode})')
    return lines


def save_initial_checkpoint(config: str, path: str, seed: int = 0) -> None:
    """Saves the freshly initialised weights of ``config``'s model as a checkpoint."""
    import torch
    from mmengine.config import Config
    from mmengine.logging import MMLogger

    from .analysis.complexity import build_model_from_config
    torch.manual_seed(seed)
    model = build_model_from_config(Config.fromfile(config))
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel('WARNING')  # MMEngine logs every initialised parameter
    try:
        model.init_weights()
    finally:
        logger.setLevel(level)
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)


def generate_once(out: str, key: str, generate: Callable[[], None], what: str) -> None:
    """Runs ``generate()`` unless ``out`` already holds data made with the same ``key``
    (generator version and arguments), then records the key in ``out/VERSION``."""
    stamp = osp.join(out, 'VERSION')
    if osp.exists(stamp):
        with open(stamp) as f:
            if f.read() == key:
                print(f'[data] {out} is up to date')
                return
    generate()
    with open(stamp, 'w') as f:
        f.write(key)
    print(f'[data] wrote {what} to {out}')
