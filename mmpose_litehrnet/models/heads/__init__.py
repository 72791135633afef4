"""Heads built on MMPose's (importing them needs mmpose and mmcv's ops)."""
from .grid_sample_dekr_head import GridSampleDEKRHead

__all__ = ['GridSampleDEKRHead']
