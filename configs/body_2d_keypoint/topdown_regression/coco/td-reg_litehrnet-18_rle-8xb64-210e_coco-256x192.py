# Lite-HRNet-18 with RLE regression: MMPose's RLE recipe (ResNet-50's: RegressionLabel
# codec, global average pooling neck, RLEHead and loss, Adam lr 1e-3, 210 epochs) with our
# backbone in ResNet's place. The head regresses from the pooled lowest-resolution branch
# (1/32, 160 channels after the backbone's head), as it does from ResNet's last stage. A
# recipe: trained here on synthetic data only, no COCO accuracy yet.
_base_ = ['mmpose::body_2d_keypoint/topdown_regression/coco/td-reg_res50_rle-8xb64-210e_coco-256x192.py']

custom_imports = dict(imports=['mmpose_litehrnet'], allow_failed_imports=False)

model = dict(
    backbone=dict(_delete_=True, type='LiteHRNet', extra='litehrnet_18', out_indices=(3, )),
    head=dict(in_channels=160))
