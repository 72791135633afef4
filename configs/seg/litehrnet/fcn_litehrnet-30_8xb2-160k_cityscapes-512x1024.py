# Lite-HRNet-30 + FCN head on Cityscapes: the Lite-HRNet-18 recipe with 3/8/3 modules.
_base_ = ['./fcn_litehrnet-18_8xb2-160k_cityscapes-512x1024.py']

model = dict(backbone=dict(extra=dict(stages_spec=dict(num_modules=(3, 8, 3)))))

# Cityscapes val mIoU of the public reproduction: 72.7-75.3 (paper, test set: 75.3).
released_checkpoint = None
