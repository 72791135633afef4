# Lite-HRNet-18 for COCO-WholeBody (133 keypoints: body, feet, face, hands): MMPose's
# HRNet-W32 whole-body recipe (MSRAHeatmap, HeatmapHead without deconvolution, Adam lr 5e-4,
# 210 epochs) with our backbone in HRNet's place; the head reads the 1/4 features (40
# channels). A recipe: trained here on synthetic data only (hands and body labelled, face
# and feet not), no COCO-WholeBody accuracy yet.
_base_ = ['mmpose::wholebody_2d_keypoint/topdown_heatmap/coco-wholebody/td-hm_hrnet-w32_8xb64-210e_coco-wholebody-256x192.py']

custom_imports = dict(imports=['mmpose_litehrnet'], allow_failed_imports=False)

model = dict(
    backbone=dict(_delete_=True, type='LiteHRNet', extra='litehrnet_18'),
    head=dict(in_channels=40))
