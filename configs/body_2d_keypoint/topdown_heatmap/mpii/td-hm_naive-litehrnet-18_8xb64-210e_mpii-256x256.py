# Naive Lite-HRNet-18 on MPII (see the COCO config for the head width).
_base_ = ['./td-hm_litehrnet-18_8xb64-210e_mpii-256x256.py']

model = dict(
    backbone=dict(type='NaiveLiteHRNet', extra='naive_litehrnet_18'),
    head=dict(in_channels=30))

# MPII val PCKh@0.5: authors 85.3; released by the authors only (Google Drive / OneDrive).
released_checkpoint = ('https://drive.google.com/file/d/'
                       '1tUdrJd_SI5HGBuYT9FxYX5XFhfcb3cD_/view?usp=sharing')
