# Bottom-up Lite-HRNet-30 with DEKR: the Lite-HRNet-18 DEKR recipe (MMPose's HRNet-W32 DEKR
# recipe, GridSampleDEKRHead, no rescore net; docs/bottomup.md) with Lite-HRNet-30, whose
# outputs have the same channels (320 concatenated). A recipe: trained here on synthetic
# data only, no COCO accuracy yet.
_base_ = ['./dekr_litehrnet-18_8xb10-140e_coco-512x512.py']

model = dict(backbone=dict(extra='litehrnet_30'))
