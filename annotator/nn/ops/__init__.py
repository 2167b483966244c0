"""Detection and pooling ops in plain torch: box IoU, the NMS family, RoIAlign, NOH head,
modulated deformable convolution (DCNv2)."""

from annotator.nn.ops.boxes import box_area, box_iou, cxcywh_to_xyxy, xyxy_to_cxcywh
from annotator.nn.ops.deform_conv import ModulatedDeformConv2d, deform_conv2d
from annotator.nn.ops.nms import batched_nms, cluster_nms, fast_nms, matrix_nms, nms, noh_nms
from annotator.nn.ops.roi_align import roi_align

__all__ = [
    "ModulatedDeformConv2d",
    "batched_nms",
    "box_area",
    "box_iou",
    "cluster_nms",
    "cxcywh_to_xyxy",
    "deform_conv2d",
    "fast_nms",
    "matrix_nms",
    "nms",
    "noh_nms",
    "roi_align",
    "xyxy_to_cxcywh",
]
