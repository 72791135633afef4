# Lite-HRNet-18 with a SimCC head: MMPose's SimCC recipe without deconvolution
# (MobileNetV2's: SimCCLabel codec, KL loss, Adam lr 5e-4, 210 epochs) with our backbone in
# MobileNetV2's place. The head reads the 1/4-resolution features, so its linear layers
# are sized for input_size / 4 (in_featuremap_size, from the codec); the neck checks
# that the features have that size and names both sizes when they do not. A recipe:
# trained here on synthetic data only, no COCO accuracy yet.
_base_ = ['mmpose::body_2d_keypoint/simcc/coco/simcc_mobilenetv2_wo-deconv-8xb64-210e_coco-256x192.py']

custom_imports = dict(imports=['mmpose_litehrnet'], allow_failed_imports=False)

# The base's codec, restated: the head's and neck's sizes are computed from it.
codec = dict(
    type='SimCCLabel', input_size=(192, 256), sigma=6.0, simcc_split_ratio=2.0)
model = dict(
    backbone=dict(_delete_=True, type='LiteHRNet', extra='litehrnet_18'),
    neck=dict(type='FeatureMapSizeCheck', input_size=codec['input_size'], stride=4),
    head=dict(
        in_channels=40,
        in_featuremap_size=tuple([-(-s // 4) for s in codec['input_size']])))
