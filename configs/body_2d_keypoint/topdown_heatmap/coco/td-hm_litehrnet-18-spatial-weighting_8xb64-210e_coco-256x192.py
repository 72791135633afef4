# Paper Table 7 ablation: Lite-HRNet-18 whose CCW blocks keep only the spatial weighting.
_base_ = ['./td-hm_litehrnet-18_8xb64-210e_coco-256x192.py']

model = dict(backbone=dict(channel_weighting=('spatial', )))

released_checkpoint = None
