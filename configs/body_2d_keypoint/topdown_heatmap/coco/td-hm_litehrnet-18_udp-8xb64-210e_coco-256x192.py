# Lite-HRNet-18 with UDP heatmaps: MMPose's UDP recipe (HRNet-W32's: UDPHeatmap codec,
# unbiased affine transforms, no heatmap shift at flip test, Adam lr 5e-4, 210 epochs) with
# our backbone in HRNet's place. A recipe: trained here on synthetic data only, no COCO
# accuracy yet.
_base_ = ['mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_hrnet-w32_udp-8xb64-210e_coco-256x192.py']

custom_imports = dict(imports=['mmpose_litehrnet'], allow_failed_imports=False)

model = dict(
    backbone=dict(_delete_=True, type='LiteHRNet', extra='litehrnet_18'),
    head=dict(in_channels=40))
