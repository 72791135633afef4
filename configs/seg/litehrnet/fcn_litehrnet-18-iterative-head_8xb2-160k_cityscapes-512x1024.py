# Lite-HRNet-18 with its iterative head (outputs 40/40/80/160) under the FCN head.
_base_ = ['./fcn_litehrnet-18_8xb2-160k_cityscapes-512x1024.py']

head_widths = [40, 40, 80, 160]
model = dict(
    backbone=dict(extra=dict(with_head=True)),
    decode_head=dict(in_channels=head_widths, channels=sum(head_widths)))

released_checkpoint = None
