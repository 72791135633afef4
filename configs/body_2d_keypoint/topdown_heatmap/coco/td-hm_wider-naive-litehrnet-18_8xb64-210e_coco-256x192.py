# Wider Naive Lite-HRNet-18 (shuffle blocks, widths 40/80/160/320).
_base_ = ['./td-hm_litehrnet-18_8xb64-210e_coco-256x192.py']

model = dict(backbone=dict(type='NaiveLiteHRNet', extra='wider_naive_litehrnet_18'))

# COCO val AP: authors 66.0; released by the authors only (Google Drive / OneDrive).
released_checkpoint = ('https://drive.google.com/file/d/'
                       '1Amb0yE677zV18KaH6gruUQnHUiwBx_-H/view?usp=sharing')
