"""The seams between the model and its accelerators.

A module that inherits :class:`Accelerated` names one step of its own (its forward, or
the part its docstring says) that something outside ``models/`` may compute instead of
its PyTorch code: ``mmpose_litehrnet.kernels`` installs the CPU kernels this way,
``mmpose_litehrnet.deploy`` the ahead-of-time compiled backbone. ``models/`` only asks;
it never imports what answers. Likewise ``LiteHRNet.switch_to_deploy`` runs the deploy
pipeline that ``mmpose_litehrnet.deploy`` installs (:func:`install_deploy_pipeline`).
"""
from typing import Any, Callable, Optional, Protocol

__all__ = ['Accelerated', 'Accelerator', 'DeployPipeline', 'install_deploy_pipeline',
           'run_deploy_pipeline']


class Accelerator(Protocol):
    """Computes an :class:`Accelerated` module's step on ``inputs`` (the arguments the
    module passes to :meth:`Accelerated.accelerated`), or returns None to let the
    module's PyTorch code run (another device, dtype or layout, gradients, export)."""

    def __call__(self, module: Any, *inputs: Any) -> Optional[Any]:
        ...


class Accelerated:
    """A module whose step an :class:`Accelerator` may compute."""

    #: The accelerator installed for this module, or None: always the PyTorch code.
    accelerator: Optional[Accelerator] = None

    def accelerated(self, *inputs: Any) -> Optional[Any]:
        """The accelerator's result for ``inputs``; None where there is none or it
        declines."""
        accelerator = self.accelerator
        return None if accelerator is None else accelerator(self, *inputs)


#: ``pipeline(model, test_cfg, **options) -> model``: the training form to the deploy
#: form, in place, with its accelerators.
DeployPipeline = Callable[..., Any]
_deploy_pipeline: Optional[DeployPipeline] = None


def install_deploy_pipeline(pipeline: DeployPipeline) -> None:
    """Makes :func:`run_deploy_pipeline` (``LiteHRNet.switch_to_deploy``) run
    ``pipeline``: ``mmpose_litehrnet.deploy`` installs its ``switch_to_deploy`` when
    imported, as importing any part of ``mmpose_litehrnet`` does."""
    global _deploy_pipeline
    _deploy_pipeline = pipeline


def run_deploy_pipeline(model: Any, test_cfg: Optional[Any] = None, **options: Any) -> Any:
    """The installed deploy pipeline on ``model``; a ``RuntimeError`` where none is."""
    if _deploy_pipeline is None:
        raise RuntimeError('mmpose_litehrnet: no deploy pipeline is installed; import '
                           'mmpose_litehrnet (its deploy package installs it)')
    return _deploy_pipeline(model, test_cfg, **options)
