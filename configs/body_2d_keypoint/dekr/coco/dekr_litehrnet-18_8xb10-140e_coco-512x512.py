# Bottom-up Lite-HRNet-18 with DEKR: MMPose's DEKR recipe (HRNet-W32's: SPR codec, DEKRHead,
# Adam lr 1e-3 for a total batch of 80, 140 epochs, 512x512) with our backbone in HRNet's
# place. As HRNet-W32 does, all four branches go out (1/4, 1/8, 1/16, 1/32 of the input;
# 40, 40, 80 and 160 channels after the backbone's head) and FeatureMapProcessor resizes
# them to the 1/4 map and concatenates them (320 channels). No rescore net: MMPose's is
# trained on HRNet-W32's features, and none is trained for ours. The head is MMPose's
# DEKRHead with its deformable convolutions on grid_sample (GridSampleDEKRHead: the same
# parameters and outputs, about 14x faster than mmcv's op on the CPU; docs/bottomup.md).
# A recipe: trained here on synthetic data only, no COCO accuracy yet.
_base_ = ['mmpose::body_2d_keypoint/dekr/coco/dekr_hrnet-w32_8xb10-140e_coco-512x512.py']

custom_imports = dict(imports=['mmpose_litehrnet'], allow_failed_imports=False)

model = dict(
    backbone=dict(_delete_=True, type='LiteHRNet', extra='litehrnet_18',
                  out_indices=(0, 1, 2, 3)),
    head=dict(type='GridSampleDEKRHead', in_channels=320, rescore_cfg=None))
