"""YOLACT configurations (dbolya/yolact data/config.py), one frozen dataclass per variant.

Only the settings the released `yolact_base` / `yolact_resnet50` / `yolact_plus_*` configs use
are modelled; the values are the official ones, including YOLACT's square-anchor quirk
(`use_square_anchors=True`; YOLACT++ turns it off).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

COCO_CLASSES: tuple[str, ...] = (
    "person",
    "bicycle",
    "car",
    "motorcycle",
    "airplane",
    "bus",
    "train",
    "truck",
    "boat",
    "traffic light",
    "fire hydrant",
    "stop sign",
    "parking meter",
    "bench",
    "bird",
    "cat",
    "dog",
    "horse",
    "sheep",
    "cow",
    "elephant",
    "bear",
    "zebra",
    "giraffe",
    "backpack",
    "umbrella",
    "handbag",
    "tie",
    "suitcase",
    "frisbee",
    "skis",
    "snowboard",
    "sports ball",
    "kite",
    "baseball bat",
    "baseball glove",
    "skateboard",
    "surfboard",
    "tennis racket",
    "bottle",
    "wine glass",
    "cup",
    "fork",
    "knife",
    "spoon",
    "bowl",
    "banana",
    "apple",
    "sandwich",
    "orange",
    "broccoli",
    "carrot",
    "hot dog",
    "pizza",
    "donut",
    "cake",
    "chair",
    "couch",
    "potted plant",
    "bed",
    "dining table",
    "toilet",
    "tv",
    "laptop",
    "mouse",
    "remote",
    "keyboard",
    "cell phone",
    "microwave",
    "oven",
    "toaster",
    "sink",
    "refrigerator",
    "book",
    "clock",
    "vase",
    "scissors",
    "teddy bear",
    "hair drier",
    "toothbrush",
)
"""Class names in YOLACT's output order: detection class index i is COCO_CLASSES[i]."""

COCO_CATEGORY_IDS: tuple[int, ...] = (
    *range(1, 12),
    *range(13, 26),
    27,
    28,
    *range(31, 45),
    *range(46, 66),
    67,
    70,
    *range(72, 83),
    *range(84, 91),
)
"""COCO category id of each class index (the inverse of YOLACT's COCO_LABEL_MAP)."""


@dataclass(frozen=True)
class YolactConfig:
    """Every hyper-parameter one YOLACT variant needs, as the official config sets it."""

    name: str
    backbone_layers: tuple[int, int, int, int]
    selected_layers: tuple[int, ...] = (1, 2, 3)
    max_size: int = 550
    num_classes: int = 81  # background + 80 COCO classes
    mask_dim: int = 32
    fpn_features: int = 256
    num_downsample: int = 2
    pred_scales: tuple[tuple[float, ...], ...] = ((24,), (48,), (96,), (192,), (384,))
    aspect_ratios: tuple[float, ...] = (1.0, 0.5, 2.0)
    square_anchors: bool = True  # official backward-compatibility bug: h = w
    dcn_layers: tuple[int, int, int, int] = (0, 0, 0, 0)  # YOLACT++: last N blocks per stage
    dcn_interval: int = 1  # ... every dcn_interval-th of them (block 0 counts when in range)
    maskiou_channels: tuple[int, ...] = ()  # YOLACT++ FastMaskIoUNet convs (then 1x1 -> 80)
    means_rgb: tuple[float, float, float] = (123.68, 116.78, 103.94)
    std_rgb: tuple[float, float, float] = (58.40, 57.12, 57.38)
    nms_top_k: int = 200
    nms_conf_thresh: float = 0.05
    nms_thresh: float = 0.5
    max_num_detections: int = 100
    file_name: str = ""
    url: str = ""

    @property
    def num_priors(self) -> int:
        """Anchors per feature-map location."""
        return len(self.pred_scales[0]) * len(self.aspect_ratios)


def yolact_base() -> YolactConfig:
    """yolact_base_config: ResNet-101 + FPN at 550x550."""
    return YolactConfig(
        name="yolact_base",
        backbone_layers=(3, 4, 23, 3),
        file_name="yolact_base_54_800000.pth",
        url="https://huggingface.co/dbolya/yolact-base/resolve/main/"
        "yolact_base_54_800000.pth?download=true",
    )


def yolact_resnet50() -> YolactConfig:
    """yolact_resnet50_config: ResNet-50 + FPN at 550x550."""
    return YolactConfig(
        name="yolact_resnet50",
        backbone_layers=(3, 4, 6, 3),
        file_name="yolact_resnet50_54_800000.pth",
        url="https://huggingface.co/dbolya/yolact-resnet50/resolve/main/"
        "yolact_resnet50_54_800000.pth?download=true",
    )


PLUS_SCALES = tuple(tuple(s * 2 ** (j / 3.0) for j in range(3)) for s in (24, 48, 96, 192, 384))
"""YOLACT++ anchors: three scales per level, s * 2^(j/3)."""
MASKIOU_CHANNELS = (8, 16, 32, 64, 128)


def yolact_plus_base() -> YolactConfig:
    """yolact_plus_base_config: ResNet-101 with DCNv2 every 3rd block of C3-C5 (11 DCNs),
    9 non-square anchors per location, mask-IoU rescoring."""
    return replace(
        yolact_base(),
        name="yolact_plus_base",
        pred_scales=PLUS_SCALES,
        square_anchors=False,
        dcn_layers=(0, 4, 23, 3),
        dcn_interval=3,
        maskiou_channels=MASKIOU_CHANNELS,
        file_name="yolact_plus_base_54_800000.pth",
        url="https://huggingface.co/dbolya/yolact-plus-base/resolve/main/"
        "yolact_plus_base_54_800000.pth?download=true",
    )


def yolact_plus_resnet50() -> YolactConfig:
    """yolact_plus_resnet50_config: ResNet-50 with DCNv2 in every block of C3-C5 (13 DCNs)."""
    return replace(
        yolact_plus_base(),
        name="yolact_plus_resnet50",
        backbone_layers=(3, 4, 6, 3),
        dcn_layers=(0, 4, 6, 3),
        dcn_interval=1,
        file_name="yolact_plus_resnet50_54_800000.pth",
        url="https://huggingface.co/dbolya/yolact-plus-resnet50/resolve/main/"
        "yolact_plus_resnet50_54_800000.pth?download=true",
    )


CONFIGS = {
    "yolact_base": yolact_base,
    "yolact_resnet50": yolact_resnet50,
    "yolact_plus_base": yolact_plus_base,
    "yolact_plus_resnet50": yolact_plus_resnet50,
}
"""Variant name -> config builder."""
