from .feature_map_size_check import FeatureMapSizeCheck

__all__ = ['FeatureMapSizeCheck']
