# Lite-HRNet with our backbone: MMPose's own config and recipe (Adam lr 5e-4 for a total
# batch of 512, 500-iteration warm-up, steps at epochs 170 and 200, 210 epochs); only
# the backbone implementation differs, and it loads the same checkpoints.
_base_ = ['mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_litehrnet-18_8xb32-210e_coco-384x288.py']

custom_imports = dict(imports=['mmpose_litehrnet'], allow_failed_imports=False)

# COCO val AP: authors 67.6, MMPose zoo 67.6 (this checkpoint).
released_checkpoint = ('https://download.openmmlab.com/mmpose/top_down/litehrnet/'
                       'litehrnet18_coco_384x288-8d4dac48_20211230.pth')
