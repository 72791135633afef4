# Lite-HRNet with our backbone: MMPose's own config and recipe (Adam lr 5e-4 for a total
# batch of 512, 500-iteration warm-up, steps at epochs 170 and 200, 210 epochs); only
# the backbone implementation differs, and it loads the same checkpoints.
_base_ = ['mmpose::body_2d_keypoint/topdown_heatmap/mpii/td-hm_litehrnet-30_8xb64-210e_mpii-256x256.py']

custom_imports = dict(imports=['mmpose_litehrnet'], allow_failed_imports=False)

# MPII val PCKh@0.5: authors 87.0, MMPose zoo 86.9 (this checkpoint).
released_checkpoint = ('https://download.openmmlab.com/mmpose/top_down/litehrnet/'
                       'litehrnet30_mpii_256x256-faae8bd8_20210622.pth')
