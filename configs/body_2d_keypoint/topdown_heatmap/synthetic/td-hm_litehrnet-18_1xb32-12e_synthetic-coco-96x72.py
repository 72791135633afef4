# Toy config for CPU: full-width Lite-HRNet-18 on the synthetic COCO-format dataset made
# by tools/make_synthetic_pose.py (data/synthetic_pose), at 96x72 input, 12 short epochs.
# It exercises the whole MMPose pipeline (data, codec, head, loss, CocoMetric, flip test)
# in minutes; it is not a recipe for real data.
_base_ = ['../coco/td-hm_litehrnet-18_8xb64-210e_coco-256x192.py']

data_root = 'data/synthetic_pose/'
codec = dict(type='MSRAHeatmap', input_size=(72, 96), heatmap_size=(18, 24), sigma=1.5)

train_cfg = dict(max_epochs=12, val_interval=12)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=2e-3))
param_scheduler = [
    dict(type='LinearLR', begin=0, end=30, start_factor=0.01, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=12, milestones=[10], gamma=0.1, by_epoch=True),
]
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(interval=12))
randomness = dict(seed=0)

model = dict(head=dict(decoder=codec))

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
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PackPoseInputs'),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    dataset=dict(
        data_root=data_root,
        ann_file='coco/person_keypoints_train.json',
        data_prefix=dict(img='images/train/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32,
    num_workers=2,
    dataset=dict(
        data_root=data_root,
        ann_file='coco/person_keypoints_val.json',
        bbox_file=None,
        data_prefix=dict(img='images/val/'),
        pipeline=val_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'coco/person_keypoints_val.json')
test_evaluator = val_evaluator

released_checkpoint = None
