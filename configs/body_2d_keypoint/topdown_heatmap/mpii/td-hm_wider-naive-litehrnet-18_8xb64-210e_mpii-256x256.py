# Wider Naive Lite-HRNet-18 on MPII.
_base_ = ['./td-hm_litehrnet-18_8xb64-210e_mpii-256x256.py']

model = dict(backbone=dict(type='NaiveLiteHRNet', extra='wider_naive_litehrnet_18'))

# MPII val PCKh@0.5: authors 86.8; released by the authors only (Google Drive / OneDrive).
# The authors list 418.7M FLOPs; their counting rules give 414.6M (tools/flops.py).
released_checkpoint = ('https://drive.google.com/file/d/'
                       '12cPeB8MZs1o6_qOS7HavGwkk6r7hUMAS/view?usp=sharing')
