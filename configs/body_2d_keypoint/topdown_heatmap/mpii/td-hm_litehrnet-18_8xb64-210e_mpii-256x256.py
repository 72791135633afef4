# Lite-HRNet with our backbone: MMPose's own config and recipe (Adam lr 5e-4 for a total
# batch of 512, 500-iteration warm-up, steps at epochs 170 and 200, 210 epochs); only
# the backbone implementation differs, and it loads the same checkpoints.
_base_ = ['mmpose::body_2d_keypoint/topdown_heatmap/mpii/td-hm_litehrnet-18_8xb64-210e_mpii-256x256.py']

custom_imports = dict(imports=['mmpose_litehrnet'], allow_failed_imports=False)

# MPII val PCKh@0.5: authors 85.4, MMPose zoo 85.9 (this checkpoint).
released_checkpoint = ('https://download.openmmlab.com/mmpose/top_down/litehrnet/'
                       'litehrnet18_mpii_256x256-cabd7984_20210623.pth')
