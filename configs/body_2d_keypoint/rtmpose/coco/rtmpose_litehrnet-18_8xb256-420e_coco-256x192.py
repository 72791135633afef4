# Lite-HRNet-18 with RTMPose's head: MMPose's RTMPose-t recipe (SimCCLabel codec,
# RTMCCHead with its gated attention unit, KL loss with label softmax, AdamW lr 4e-3,
# 420 epochs in two augmentation stages) with our backbone in CSPNeXt's place. The head
# reads the 1/4-resolution features, so its linear layers are sized for input_size / 4
# (in_featuremap_size, from the codec); the neck checks that the features have that size.
# RTMPose's Albumentation step (blur, median blur, coarse dropout) is left out of both
# stages: albumentations is not in the pinned stack; add it back if you have it. A recipe:
# trained here on synthetic data only, no COCO accuracy yet.
_base_ = ['mmpose::body_2d_keypoint/rtmpose/coco/rtmpose-t_8xb256-420e_coco-256x192.py']

custom_imports = dict(imports=['mmpose_litehrnet'], allow_failed_imports=False)

# The base's codec, restated: the head's and neck's sizes are computed from it.
codec = dict(
    type='SimCCLabel',
    input_size=(192, 256),
    sigma=(4.9, 5.66),
    simcc_split_ratio=2.0,
    normalize=False,
    use_dark=False)
model = dict(
    backbone=dict(_delete_=True, type='LiteHRNet', extra='litehrnet_18'),
    neck=dict(type='FeatureMapSizeCheck', input_size=codec['input_size'], stride=4),
    head=dict(
        in_channels=40,
        in_featuremap_size=tuple([-(-s // 4) for s in codec['input_size']])))

# RTMPose's two augmentation stages without their Albumentation step.
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomHalfBody'),
    dict(
        type='RandomBBoxTransform', scale_factor=[0.6, 1.4], rotate_factor=80),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='mmdet.YOLOXHSVRandomAug'),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')
]
train_pipeline_stage2 = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomHalfBody'),
    dict(
        type='RandomBBoxTransform',
        shift_factor=0.,
        scale_factor=[0.75, 1.25],
        rotate_factor=60),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='mmdet.YOLOXHSVRandomAug'),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
custom_hooks = [
    dict(
        type='mmdet.PipelineSwitchHook',
        switch_epoch=420 - 30,
        switch_pipeline=train_pipeline_stage2)
]
