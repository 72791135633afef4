"""Report lines shared by the CPU and GPU reports."""
from typing import Dict, List, Optional, Tuple

from .models import BASE, TRAINED, TRAINED_CL
from .timing import medians, round_ratios


def ratio(value: float, base: float) -> str:
    return f'{value / base:.2f}'


def training_line(samples: Dict[str, List[float]], label: str, ms: bool) -> Tuple[str, str]:
    """The report's line on :func:`~.timing.training_steps` (ours, its channels-last
    form, the built-in), and the median ratio ours/built-in."""
    ours, scale = samples[TRAINED], 1e3 if ms else 1.0
    median = medians(samples)
    ours_ratio = ratio(median[TRAINED], median[BASE])
    line = (f'Training step, {label} ({"ms" if ms else "s"}, medians of {len(ours)} '
            'alternating steps): ' + ', '.join(
                f'{k} {v * scale:.{1 if ms else 2}f}' for k, v in median.items())
            + f'; ratio ours/built-in {ours_ratio}, round by round '
            f'{round_ratios(ours, samples[BASE])} (median, quartiles)')
    if TRAINED_CL in samples:
        last = samples[TRAINED_CL]
        line += (f'; {TRAINED_CL} / built-in {ratio(median[TRAINED_CL], median[BASE])}, '
                 f'round by round {round_ratios(last, samples[BASE])}, against ours round '
                 f'by round {round_ratios(last, ours)}')
    return line, ours_ratio


def training_lines(samples: Optional[Dict[str, List[float]]], label: str,
                   ms: bool) -> Tuple[str, Optional[str]]:
    """:func:`training_line`, or a line saying the step was not run (a ``--models``
    subset without ours or the built-in) and no ratio."""
    if samples is None:
        return f'Training step: not run (it needs `{TRAINED}` and `{BASE}`).', None
    return training_line(samples, label, ms)
