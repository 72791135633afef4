"""Hooks for MMEngine's runner (``mim train`` / ``mim test``)."""
from typing import Any, Sequence, Union

from mmengine.hooks import EMAHook, Hook
from mmengine.logging import print_log
from torch.nn.modules.batchnorm import _BatchNorm

from ..deploy import aot_cache_dir, channels_last_device_types, switch_to_deploy

__all__ = ['SwitchToDeployHook']


class SwitchToDeployHook(Hook):
    """Puts the model in deploy form before the test loop, so that ``mim test`` evaluates
    (and times) the model as it is deployed: batch norms folded, 1x1 convolutions as
    matrix products, channels-last on the CPU, each block and fusion one call of the CPU
    kernels (:func:`mmpose_litehrnet.deploy.switch_to_deploy` on the whole model). The
    validation during training keeps the training form. In a config::

        custom_hooks = [dict(type='SwitchToDeployHook')]

    With ``aot=True`` (or a cache directory), the backbones' CPU forward passes run an
    AOTInductor package compiled at the first test batch and cached on disk (minutes
    once per weights and input size; later runs load it in about a second)::

        custom_hooks = [dict(type='SwitchToDeployHook', aot=True)]

    Args:
        channels_last (bool | str | Sequence[str]): The devices on which the Lite-HRNet
            backbones run channels-last, as in ``switch_to_deploy``.
        aot (bool | str): Compile the backbones ahead of time, as in ``switch_to_deploy``.
        cpu_kernels (bool): Run the CPU kernels, as in ``switch_to_deploy``.

    Raises:
        ValueError: for a ``channels_last`` that names no device type; at the test, when
            the runner also has an ``EMAHook``: it swaps the averaged weights in and out
            of the model parameter by parameter, and the deploy form has different
            parameters.
    """

    priority = 'VERY_LOW'

    def __init__(self, channels_last: Union[bool, str, Sequence[str]] = True,
                 aot: Union[bool, str] = False, cpu_kernels: bool = True) -> None:
        # Checked (a bad value fails when the config is built) and kept as the device
        # types that switch_to_deploy takes.
        self.channels_last = channels_last_device_types(channels_last)
        self.cpu_kernels = bool(cpu_kernels)
        try:
            self.aot_cache_dir = aot_cache_dir(aot)
        except ValueError as error:
            raise ValueError(f'SwitchToDeployHook: {error}') from None

    def before_test(self, runner: Any) -> None:
        if any(isinstance(hook, EMAHook) for hook in runner.hooks):
            raise ValueError('SwitchToDeployHook cannot follow an EMAHook, which swaps '
                             'the averaged weights into the training form during the '
                             'test: save the averaged weights as the checkpoint and test '
                             'without the EMAHook')
        model = runner.model  # a wrapper (DDP) too: the same modules inside
        norms = sum(isinstance(m, _BatchNorm) for m in model.modules())
        switch_to_deploy(model, channels_last=self.channels_last,
                         aot=self.aot_cache_dir or False, cpu_kernels=self.cpu_kernels)
        left = sum(isinstance(m, _BatchNorm) for m in model.modules())
        compiled = '' if self.aot_cache_dir is None else \
            f', backbones compiled ahead of time on first use (cache: {self.aot_cache_dir})'
        print_log(f'SwitchToDeployHook: testing the deploy form, {norms - left} of '
                  f'{norms} batch norms folded{compiled}', logger='current')
