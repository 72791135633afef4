"""Runner hooks, mirroring ``mmpose.engine``."""
from .hooks import SwitchToDeployHook

__all__ = ['SwitchToDeployHook']
