# Lite-HRNet-18 + FCN head on Cityscapes (paper Table 8; the authors never released this
# code). Recipe of the only public reproduction (mmsegmentation PR #720), on MMSeg's own
# bases: 512x1024 crops, RandomResize (2048, 1024) x0.5-2.0, RandomCrop cat_max_ratio
# 0.75, flip, PhotoMetricDistortion; SGD lr 0.01, momentum 0.9, wd 5e-4, poly 0.9 down to
# 1e-4, 160k iterations, 8 GPUs x 2 images; no ImageNet pre-training.
_base_ = [
    'mmseg::_base_/datasets/cityscapes.py', 'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_160k.py'
]

custom_imports = dict(imports=['mmpose_litehrnet'], allow_failed_imports=False)

crop_size = (512, 1024)
norm_cfg = dict(type='SyncBN', requires_grad=True)  # plain BN when not distributed
widths = [40, 80, 160, 320]
model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255,
        size=crop_size),
    backbone=dict(
        type='LiteHRNet',
        extra=dict(
            stem=dict(stem_channels=32, out_channels=32, expand_ratio=1),
            num_stages=3,
            stages_spec=dict(
                num_modules=(2, 4, 2),
                num_branches=(2, 3, 4),
                num_blocks=(2, 2, 2),
                module_type=('LITE', 'LITE', 'LITE'),
                with_fuse=(True, True, True),
                reduce_ratios=(8, 8, 8),
                num_channels=(widths[:2], widths[:3], widths)),
            with_head=False),
        out_indices=(0, 1, 2, 3),
        norm_cfg=norm_cfg),
    decode_head=dict(
        type='FCNHead',
        in_channels=widths,
        in_index=(0, 1, 2, 3),
        channels=sum(widths),
        input_transform='resize_concat',
        kernel_size=1,
        num_convs=1,
        concat_input=False,
        dropout_ratio=-1,
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4))

# Cityscapes val mIoU of the public reproduction: 71.5-73.0 (paper, test set: 72.8).
released_checkpoint = None
