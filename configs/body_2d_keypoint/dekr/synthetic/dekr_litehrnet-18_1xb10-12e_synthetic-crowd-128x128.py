# Toy config for CPU: bottom-up Lite-HRNet-18 with DEKR on the crowded images made by
# tools/make_synthetic_pose.py (data/synthetic_pose, 3-7 overlapping people each), at
# 128x128 input (the codec scaled from 512x512 with it), a short schedule. It exercises
# the bottom-up pipeline (affine augmentation, SPR targets and masks, DEKRHead, grouping,
# CocoMetric with flip test) in minutes; it is not a recipe for real data.
_base_ = ['../coco/dekr_litehrnet-18_8xb10-140e_coco-512x512.py']

data_root = 'data/synthetic_pose/'
codec = dict(
    type='SPR',
    input_size=(128, 128),
    heatmap_size=(32, 32),
    sigma=(2, 1),
    minimal_diagonal_length=2**0.5,
    generate_keypoint_heatmaps=True,
    decode_max_instances=30)

train_cfg = dict(max_epochs=12, val_interval=12)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=2e-3))
param_scheduler = [
    dict(type='LinearLR', begin=0, end=40, start_factor=0.01, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=12, milestones=[10], gamma=0.1, by_epoch=True),
]
auto_scale_lr = dict(enable=False)
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=12))
randomness = dict(seed=0)

model = dict(head=dict(decoder=codec))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='BottomupRandomAffine', input_size=codec['input_size']),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='BottomupGetHeatmapMask'),
    dict(type='PackPoseInputs'),
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='BottomupResize', input_size=codec['input_size'], size_factor=32,
         resize_mode='expand'),
    dict(type='PackPoseInputs',
         meta_keys=('id', 'img_id', 'img_path', 'crowd_index', 'ori_shape', 'img_shape',
                    'input_size', 'input_center', 'input_scale', 'flip', 'flip_direction',
                    'flip_indices', 'raw_ann_info', 'skeleton_links')),
]
train_dataloader = dict(
    batch_size=10,
    num_workers=2,
    dataset=dict(
        data_root=data_root,
        ann_file='coco/crowd_keypoints_train.json',
        data_prefix=dict(img='images/crowd_train/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        ann_file='coco/crowd_keypoints_val.json',
        data_prefix=dict(img='images/crowd_val/'),
        pipeline=val_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'coco/crowd_keypoints_val.json')
test_evaluator = val_evaluator
