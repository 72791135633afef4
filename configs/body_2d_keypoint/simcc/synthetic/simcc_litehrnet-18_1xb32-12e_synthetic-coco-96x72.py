# Toy config for CPU: the SimCC recipe's head and codec (simcc/coco/simcc_litehrnet-18_...)
# on the synthetic top-down demo's data, input, schedule and optimizer (96x72, 12 epochs),
# so that the recipe shows learning in minutes (`python tools/pose_demo.py --demo simcc`).
# Not a recipe for real data.
_base_ = ['../../topdown_heatmap/synthetic/td-hm_litehrnet-18_1xb32-12e_synthetic-coco-96x72.py']

codec = dict(type='SimCCLabel', input_size=(72, 96), sigma=(2.25, 2.25), simcc_split_ratio=2.0)
model = dict(
    neck=dict(type='FeatureMapSizeCheck', input_size=codec['input_size'], stride=4),
    head=dict(
        _delete_=True,
        type='SimCCHead',
        in_channels=40,
        out_channels=17,
        input_size=codec['input_size'],
        in_featuremap_size=tuple([-(-s // 4) for s in codec['input_size']]),
        simcc_split_ratio=codec['simcc_split_ratio'],
        deconv_out_channels=None,
        loss=dict(type='KLDiscretLoss', use_target_weight=True),
        decoder=codec),
    test_cfg=dict(_delete_=True, flip_test=True))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomHalfBody'),
    dict(type='RandomBBoxTransform', rotate_factor=30, scale_factor=(0.8, 1.2)),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
