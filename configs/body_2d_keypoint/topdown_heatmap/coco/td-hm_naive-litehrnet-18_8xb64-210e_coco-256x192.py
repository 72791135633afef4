# Naive Lite-HRNet-18 (shuffle blocks, widths 30/60/120/240): the Lite-HRNet-18 recipe
# with the naive backbone. The authors' config says 40 head input channels; their
# checkpoint (and the network) has 30 (HRNet/Lite-HRNet#60).
_base_ = ['./td-hm_litehrnet-18_8xb64-210e_coco-256x192.py']

model = dict(
    backbone=dict(type='NaiveLiteHRNet', extra='naive_litehrnet_18'),
    head=dict(in_channels=30))

# COCO val AP: authors 62.8; released by the authors only (Google Drive / OneDrive).
released_checkpoint = ('https://drive.google.com/file/d/'
                       '1rW1gqKtCUxpsos-eLItEHZThEF48eRjQ/view?usp=sharing')
