"""The benchmark's plots: latency against FLOPs, published AP against latency."""
import os.path as osp
from typing import Dict, List

from .models import published_ap
from .runtimes import split_runtime


def _pyplot():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def plot(path: str, title: str, flops: Dict[str, int], latency: Dict[str, float]) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    for key in latency:
        if key in flops:
            ax.scatter(flops[key] / 2**20, latency[key] * 1e3)
            ax.annotate(key, (flops[key] / 2**20, latency[key] * 1e3), fontsize=7)
    ax.set_xlabel('FLOPs, paper convention (M)')
    ax.set_ylabel('batch-1 latency (ms)')
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def plot_accuracy(path: str, title: str, latency: Dict[str, float]) -> List[str]:
    """Published COCO AP against measured batch-1 latency, a point per row (model and
    runtime) whose model has a published AP, in float32 (a bfloat16 or INT8 row's AP is
    not the published one): a colour per model, a marker per runtime, both in the
    legend; returns the report's lines on it."""
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 5.5))
    rows = {key: split_runtime(key) for key in latency
            if not key.endswith((' bf16', ' int8'))}
    published = {key: published_ap(model) for key, (model, _) in rows.items()}
    published = {key: found for key, found in published.items() if found is not None}
    colours = {model: f'C{i}' for i, model in
               enumerate(dict.fromkeys(rows[key][0] for key in published))}
    markers = dict(zip(dict.fromkeys(rows[key][1] for key in published), 'osD^vxP*<>hpd'))
    for key, (ap, _) in published.items():
        model, runtime = rows[key]
        ax.scatter(latency[key] * 1e3, ap * 100, color=colours[model], marker=markers[runtime],
                   s=50)
    handles = [Line2D([], [], color=c, marker='o', linestyle='', label=m)
               for m, c in colours.items()]
    handles += [Line2D([], [], color='grey', marker=k, linestyle='', label=r)
                for r, k in markers.items()]
    ax.legend(handles=handles, fontsize=7, loc='best')
    ax.set_xscale('log')
    plain = FuncFormatter(lambda value, _: f'{value:g}')
    ax.xaxis.set_major_formatter(plain)  # 20, 30, 40 ms rather than 2 x 10^1
    ax.xaxis.set_minor_formatter(plain)
    ax.set_xlabel('batch-1 latency (ms, log scale), this run')
    ax.set_ylabel('COCO val2017 AP, published')
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return [f'Accuracy against latency: [`{osp.basename(path)}`]({osp.basename(path)}); '
            'published COCO val AP (256x192) per model, from '
            + '; '.join(sorted({f'{ap * 100:.1f} {source}'
                                for ap, source in published.values()}))
            + '. Rows in bfloat16 or INT8 are left out: their AP is not the published one.']
