"""Top-down and bottom-up inference and drawing with MMPose's own APIs (needs mmpose
installed); models for the export tools (MMPose or MMSeg)."""
import argparse
import os
import os.path as osp
import sys
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = ['export_argument_parser', 'export_path', 'init_tensor_model',
           'is_segmentation_config', 'max_abs_difference', 'positive_int',
           'as_outputs', 'check_line', 'describe_shapes', 'export_config', 'export_example',
           'export_model',
           'output_names',
           'refuse_unexportable', 'resolve_config',
           'predict_and_draw']


def positive_int(text: str) -> int:
    """An ``argparse`` type: an integer >= 1 (an error message names the value)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f'must be a positive integer, got {value}')
    return value


def export_argument_parser(doc: str, out_help: str) -> argparse.ArgumentParser:
    """The export tools' common command line: ``CONFIG CHECKPOINT --shape H W [--out F]
    [--deploy] [--atol A]``, described by the first line of ``doc`` (the tool's
    docstring); each tool adds its batch options."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--shape', nargs=2, type=positive_int, metavar=('H', 'W'),
                        required=True)
    parser.add_argument('--out', help=out_help)
    parser.add_argument('--deploy', action='store_true',
                        help='fold batch norms and use the deploy form first (faster)')
    parser.add_argument('--atol', type=float, default=1e-4,
                        help='largest max abs difference from PyTorch accepted, times the '
                             "outputs' largest magnitude where that is above 1 (SimCC "
                             'logits reach tens: float32 rounding alone exceeds 1e-4)')
    return parser


def add_cpu_kernels_argument(parser: argparse.ArgumentParser, writes: str) -> None:
    """Adds ``--cpu-kernels`` to an export tool's ``parser``: the deploy form's kernel
    calls kept as such in what the tool ``writes`` (its help says what, and how to run
    it). :func:`parse_export_arguments` refuses it without ``--deploy``."""
    parser.add_argument('--cpu-kernels', action='store_true',
                        help=f"with --deploy: the deploy form's CPU kernels {writes}")


def parse_export_arguments(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """The export tool's parsed command line; ``--cpu-kernels`` without ``--deploy`` is
    refused (only the deploy form calls the kernels) before any work."""
    args = parser.parse_args()
    if getattr(args, 'cpu_kernels', False) and not args.deploy:
        parser.error('--cpu-kernels needs --deploy: only the deploy form calls the kernels')
    return args


def as_outputs(out: Any) -> List[Any]:
    """A model's tensor output as a list of tensors (a tuple or list of them as it is)."""
    return list(out) if isinstance(out, (tuple, list)) else [out]


def max_abs_difference(run: Callable, model: Callable, batch_sizes: Sequence[int],
                       size: Sequence[int], generator: Any, runtime: str
                       ) -> Optional[Tuple[float, Tuple, float]]:
    """How an exported model ``run`` (a tensor in; a tensor, or a tuple or list of them,
    out) matches ``model``: on a fresh normal input (N, 3, H, W) of each batch size N
    (``size`` = H, W; drawn from the torch ``generator``), the largest max abs difference
    over the outputs, the outputs' shapes per image (:func:`describe_shapes` words them)
    and their largest magnitude in PyTorch (what a tolerance scales with). None, after
    an error line naming ``runtime`` and the shapes, when the outputs' number or shapes
    differ (a difference would broadcast)."""
    import torch
    diff, shapes, largest = 0.0, [], 0.0
    for n in batch_sizes:
        x = torch.randn(n, 3, *size, generator=generator)
        with torch.no_grad():
            actual, expected = as_outputs(run(x)), as_outputs(model(x))
        actual_shapes = [tuple(a.shape) for a in actual]
        expected_shapes = [tuple(e.shape) for e in expected]
        if actual_shapes != expected_shapes:
            print(f'error: {runtime} gave {actual_shapes} for {expected_shapes}',
                  file=sys.stderr)
            return None
        diff = max([diff] + [(a - e).abs().max().item() for a, e in zip(actual, expected)])
        largest = max([largest] + [e.abs().max().item() for e in expected])
        shapes = [shape[1:] for shape in actual_shapes]
    return diff, tuple(shapes), largest


def check_line(runtime: str, diff: float, largest: float, atol: float) -> Tuple[bool, str]:
    """Whether ``diff`` is within ``atol`` times the outputs' largest magnitude where that
    is above 1 (as the ``--atol`` of the export tools says), and the words for it."""
    limit = atol * max(1.0, largest)
    scale = '' if largest <= 1 else f' = {atol:g} x {largest:.3g}, the largest output'
    return diff <= limit, (f'{runtime} vs PyTorch max abs diff {diff:.2e} '
                           f'(limit {limit:.2g}{scale})')


def describe_shapes(shapes: Sequence[Tuple[int, ...]],
                    names: Optional[Sequence[str]] = None) -> str:
    """Output shapes as the export tools print them: ``(17, 64, 48)``, or with names
    ``heatmaps (17, 64, 48)``; several joined by commas."""
    names = names or [''] * len(shapes)
    return ', '.join(f'{name} {tuple(shape)}'.strip() for name, shape in zip(names, shapes))


#: The names of a top-down model's tensor outputs, by its head's type (MMPose's and ours);
#: a heatmap head's one output is ``heatmaps``.
HEAD_OUTPUTS = {
    'SimCCHead': ('simcc_x', 'simcc_y'),
    'RTMCCHead': ('simcc_x', 'simcc_y'),
    'RTMWHead': ('simcc_x', 'simcc_y'),
    'RLEHead': ('coords', ),
    'RegressionHead': ('coords', ),
    'IntegralRegressionHead': ('coords', ),
    'DSNTHead': ('coords', ),
    'DEKRHead': ('heatmaps', 'displacements'),
    'GridSampleDEKRHead': ('heatmaps', 'displacements'),
}


def _head_type(config: Any) -> str:
    """The ``type`` of ``config``'s ``model.head`` ('' where it has none)."""
    return (config.get('model', {}).get('head') or {}).get('type', '')


def export_example(config: Any, model: Callable, batch: int, size: Sequence[int]
                   ) -> Tuple[Any, Any, Tuple[str, ...]]:
    """What an export tool traces and names: a torch generator seeded 0, a normal
    (``batch``, 3, H, W) input drawn from it (``size`` = H, W; the tool's check then draws
    its own inputs from the same generator), and the names of ``model``'s outputs on it
    (:func:`output_names`, from one pass without gradients)."""
    import torch
    generator = torch.Generator().manual_seed(0)
    example = torch.randn(batch, 3, *size, generator=generator)
    with torch.no_grad():
        names = output_names(config, model(example))
    return generator, example, names


def output_names(config: Any, outputs: Any) -> Tuple[str, ...]:
    """Names for the tensor outputs ``outputs`` of ``config``'s model (an
    ``mmengine.Config``): ``logits`` for a segmentor, by the head's type
    (:data:`HEAD_OUTPUTS`), ``heatmaps`` for one output of any other head, else
    ``output0``, ``output1``, ..."""
    count = len(as_outputs(outputs))
    if is_segmentation_config(config):
        names: Tuple[str, ...] = ('logits', )
    else:
        names = HEAD_OUTPUTS.get(_head_type(config), ('heatmaps', ))
    return names if len(names) == count else tuple(f'output{i}' for i in range(count))


#: Heads whose tensor output no fixed graph can hold, and why.
UNEXPORTABLE_HEADS = {
    'CIDHead': 'its forward finds the people in the image and returns heatmaps for as '
               'many as it found (a data-dependent count), which a traced or exported '
               'graph would fix to the count of its example',
}


#: Per runtime, heads whose graph that runtime cannot hold, and why.
UNEXPORTABLE_HEADS_IN = {
    'ncnn': {'DEKRHead': "its adaptive activation blocks compute their offsets on 6-D "
                         "tensors, and ncnn holds at most 4-D ones (our configs' "
                         'GridSampleDEKRHead, the same parameters, exports)'},
}


def refuse_unexportable(config: Any, runtime: str = '') -> Optional[str]:
    """Why ``config``'s model cannot be exported (an error line), for ``runtime`` where
    given, or None."""
    head = _head_type(config)
    if head in UNEXPORTABLE_HEADS:
        return f'error: {head} cannot be exported: {UNEXPORTABLE_HEADS[head]}'
    if head in UNEXPORTABLE_HEADS_IN.get(runtime, {}):
        return (f'error: {head} cannot be exported to {runtime}: '
                f'{UNEXPORTABLE_HEADS_IN[runtime][head]}')
    return None


def export_config(config: str, runtime: str = '') -> Any:
    """``config`` (a path or ``scope::path``, see :func:`resolve_config`) read as an
    ``mmengine.Config`` for an export tool (to ``runtime``, where it matters); None,
    after an error line saying why, where its model cannot be exported
    (:func:`refuse_unexportable`)."""
    from mmengine.config import Config
    cfg = Config.fromfile(resolve_config(config))
    refused = refuse_unexportable(cfg, runtime)
    if refused:
        print(refused, file=sys.stderr)
        return None
    return cfg


def export_model(args: argparse.Namespace, kind: str, suffix: str,
                 runtime: str = '') -> Optional[Tuple[Any, Any, str]]:
    """What every export tool does first with its parsed :func:`export_argument_parser`
    ``args``: its config read once (:func:`export_config`, for ``runtime``), the model
    (:func:`init_tensor_model`, the deploy form with ``--deploy``) and where to write
    (:func:`export_path` under ``work_dirs/<kind>``, ending ``_<suffix>``). None, after
    the error line, where the model cannot be exported (the tools then exit with 2)."""
    config = export_config(args.config, runtime)  # read once (an MMSeg config: ~0.7 s)
    if config is None:
        return None
    model = init_tensor_model(config, args.checkpoint, deploy=args.deploy)
    return config, model, export_path(args.config, args.out, kind, suffix)


def resolve_config(config: str) -> str:
    """The file of ``config``: ``scope::path`` (an OpenMMLab package's own config, such
    as ``mmpose::body_2d_keypoint/rtmpose/coco/rtmpose-t_8xb256-420e_coco-256x192.py``)
    as the installed package's copy, any other path as it is.

    Raises:
        FileNotFoundError: where that package has no such config.
    """
    if '::' not in config:
        return config
    from mmengine.utils import get_installed_path
    scope, relative = config.split('::', 1)
    path = osp.join(get_installed_path(scope), '.mim', 'configs', relative)
    if not osp.isfile(path):
        raise FileNotFoundError(f'{config}: no {path}')
    return path


def init_tensor_model(config: Union[str, Any], checkpoint: Optional[str],
                      deploy: bool = False, device: str = 'cpu'):
    """A top-down pose model or an MMSeg segmentor from its config (a path or an
    ``mmengine.Config``, read once) and checkpoint (with MMPose's or MMSeg's
    ``init_model``, by the config's ``default_scope``), in eval mode,
    optionally in deploy form (:func:`mmpose_litehrnet.deploy.switch_to_deploy`), wrapped
    to map a normalised image batch to its tensor output: what the export tools trace.

    Returns:
        TensorForward: (N, 3, H, W) -> for Lite-HRNet, heatmaps (N, K, ceil(H / 4),
        ceil(W / 4)) or segmentation logits (N, classes, ceil(H / 4), ceil(W / 4)).
    """
    from mmengine.config import Config

    import mmpose_litehrnet  # noqa: F401  (registry and safe checkpoint loading)
    from mmpose_litehrnet.deploy import TensorForward, switch_to_deploy

    if isinstance(config, str):
        config = Config.fromfile(resolve_config(config))
    if is_segmentation_config(config):
        from mmseg.apis import init_model
    else:
        from mmpose.apis import init_model
    model = init_model(config, checkpoint, device=device).eval()
    if deploy:
        switch_to_deploy(model)
    return TensorForward(model).eval()


def is_segmentation_config(config: Any) -> bool:
    """Whether ``config`` (an ``mmengine.Config``) builds an MMSeg model
    (``default_scope='mmseg'``)."""
    return config.get('default_scope') == 'mmseg'


def export_path(config: str, out: Optional[str], kind: str, suffix: str) -> str:
    """``out``, or ``work_dirs/<kind>/<config name>_<suffix>`` by default, with its folder
    created: where the export tools write."""
    name = osp.splitext(osp.basename(config))[0]
    path = out or osp.join('work_dirs', kind, f'{name}_{suffix}')
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    return path


def predict_and_draw(config: str,
                     checkpoint: Optional[str],
                     image: str,
                     bboxes: Optional[Sequence[Sequence[float]]] = None,
                     out_file: Optional[str] = None,
                     device: str = 'cpu',
                     kpt_thr: float = 0.3):
    """Predicts keypoints of the people in ``bboxes`` (x1, y1, x2, y2; None: the whole
    image is one person) and, with ``out_file``, draws the skeletons there with MMPose's
    ``PoseLocalVisualizer``. A bottom-up model (``BottomupPoseEstimator``) finds every
    person in one pass and takes no boxes.

    Returns:
        PoseDataSample: the merged predictions (``pred_instances.keypoints``: (P, K, 2)).
    """
    import mmcv
    from mmpose.apis import inference_bottomup, inference_topdown, init_model
    from mmpose.registry import VISUALIZERS
    from mmpose.structures import merge_data_samples

    import mmpose_litehrnet  # noqa: F401  (registry and safe checkpoint loading)

    model = init_model(config, checkpoint, device=device)
    if model.cfg.model.type == 'BottomupPoseEstimator':
        if bboxes is not None:
            raise ValueError(f'predict_and_draw: {config} is a bottom-up model, which finds '
                             f'the people itself: pass no bboxes (got {len(bboxes)})')
        result = inference_bottomup(model, image)[0]
    else:
        boxes = None if bboxes is None else np.asarray(bboxes,
                                                       dtype=np.float32).reshape(-1, 4)
        result = merge_data_samples(inference_topdown(model, image, boxes))
    if out_file is not None:
        visualizer = VISUALIZERS.build(dict(model.cfg.visualizer, radius=2, line_width=1))
        visualizer.set_dataset_meta(model.dataset_meta)
        visualizer.add_datasample(
            'prediction', mmcv.imread(image, channel_order='rgb'), data_sample=result,
            draw_gt=False, draw_bbox=True, kpt_thr=kpt_thr, show=False, out_file=out_file)
    return result
