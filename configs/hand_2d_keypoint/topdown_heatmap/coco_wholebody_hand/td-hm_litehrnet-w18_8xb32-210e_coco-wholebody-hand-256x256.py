# Lite-HRNet-18 for hands with our backbone: MMPose's own config and recipe (COCO-WholeBody
# hands, 21 keypoints, 256x256, Adam lr 5e-4 for a total batch of 256, 210 epochs); only
# the backbone implementation differs, and it loads the same checkpoint.
_base_ = ['mmpose::hand_2d_keypoint/topdown_heatmap/coco_wholebody_hand/td-hm_litehrnet-w18_8xb32-210e_coco-wholebody-hand-256x256.py']

custom_imports = dict(imports=['mmpose_litehrnet'], allow_failed_imports=False)

# COCO-WholeBody-Hand val: PCK@0.2 0.795, AUC 0.83, EPE 4.77 (MMPose zoo, this checkpoint).
released_checkpoint = ('https://download.openmmlab.com/mmpose/hand/litehrnet/'
                       'litehrnet_w18_coco_wholebody_hand_256x256-d6945e6a_20210908.pth')
