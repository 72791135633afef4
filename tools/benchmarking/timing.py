"""The one timing loop (models called alternately, one call each per round), per-round
ratios, training steps, and steps that a time limit (SIGTERM) cuts short cleanly."""
import contextlib
import copy
import platform
import signal
import statistics
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from .models import SHAPE


def alternate_samples(fns: Dict[str, Callable[[], None]], rounds: int,
                      warmup: int = 2) -> Dict[str, List[float]]:
    """Seconds of each call of each function, calling them round-robin (one call of
    each per round)."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: Dict[str, List[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def medians(samples: Dict[str, List[float]]) -> Dict[str, float]:
    return {k: statistics.median(v) for k, v in samples.items()}


def alternate(fns: Dict[str, Callable[[], None]], rounds: int, warmup: int = 2) -> Dict:
    """Median seconds of each function, calling them round-robin."""
    return medians(alternate_samples(fns, rounds, warmup))


def round_ratios(a: List[float], b: List[float]) -> str:
    """Median and quartiles of the per-round ratios ``a[r] / b[r]``: two models timed in
    the same round see the same machine state, so this spread is the comparison's
    noise (the machine's speed drifts between rounds and runs)."""
    ratios = [x / y for x, y in zip(a, b)]
    q1, median, q3 = statistics.quantiles(ratios, n=4)
    return f'{median:.2f} ({q1:.2f}-{q3:.2f})'


def training_steps(models: Dict[str, nn.Module], batch: int, rounds: int,
                   device: torch.device) -> Dict[str, List[float]]:
    """Seconds of each forward + MSE backward + Adam step of each of ``models`` (copies,
    in training mode), alternating."""
    x = torch.randn(batch, 3, *SHAPE, device=device)
    target = torch.randn(batch, 17, SHAPE[0] // 4, SHAPE[1] // 4, device=device)
    steps = {}
    for key in models:
        model = copy.deepcopy(models[key]).to(device).train()
        opt = torch.optim.Adam(model.parameters())

        def step(model=model, opt=opt) -> None:
            opt.zero_grad()
            torch.nn.functional.mse_loss(model(x), target).backward()
            opt.step()
            if x.is_cuda:
                torch.cuda.synchronize()
        steps[key] = step
    return alternate_samples(steps, rounds, warmup=1)


def machine_name(device: torch.device) -> str:
    if device.type == 'cuda':
        return f'{torch.cuda.get_device_name(device)}, torch {torch.__version__}'
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            cpu = next(line.split(':', 1)[1].strip() for line in f if 'model name' in line)
    except (OSError, StopIteration):
        pass
    return f'{cpu}, {torch.get_num_threads()} threads, torch {torch.__version__}'


class Interrupted(Exception):
    """Raised in the main thread by SIGTERM while :func:`sigterm_interrupts` is active."""


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """Turns SIGTERM (what ``timeout`` sends) into :class:`Interrupted`, so that a run
    cut short by a time limit can still report what it measured."""
    def interrupt(signum: int, frame: Any) -> None:
        raise Interrupted(signal.Signals(signum).name)
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_steps(steps: Sequence[Tuple[str, Callable[[], None]]]) -> Optional[str]:
    """Runs the named steps in order until one is interrupted (SIGTERM); returns None
    when all ran, else a line naming the interrupted step and those not run."""
    with sigterm_interrupts():
        for i, (name, step) in enumerate(steps):
            try:
                step()
            except Interrupted as stop:
                left = [n for n, _ in steps[i + 1:]]
                return (f'Interrupted ({stop}) during "{name}"'
                        + (f'; not run: {", ".join(left)}' if left else '') + '.')
    return None
