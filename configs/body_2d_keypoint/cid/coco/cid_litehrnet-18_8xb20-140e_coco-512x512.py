# Bottom-up Lite-HRNet-18 with CID (contextual instance decoupling): MMPose's CID recipe
# (HRNet-W32's: DecoupledHeatmap codec, CIDHead, Adam lr 1e-3 for a total batch of 160,
# 140 epochs, 512x512) with our backbone in HRNet's place, all four branches resized to
# the 1/4 map and concatenated as for DEKR (320 channels). A recipe: trained here on
# synthetic data only, no COCO accuracy yet.
_base_ = ['mmpose::body_2d_keypoint/cid/coco/cid_hrnet-w32_8xb20-140e_coco-512x512.py']

custom_imports = dict(imports=['mmpose_litehrnet'], allow_failed_imports=False)

model = dict(
    backbone=dict(_delete_=True, type='LiteHRNet', extra='litehrnet_18',
                  out_indices=(0, 1, 2, 3)),
    head=dict(in_channels=320))
