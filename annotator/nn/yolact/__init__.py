"""YOLACT real-time instance segmentation (Bolya et al., ICCV 2019), faithful to dbolya/yolact.

Build with `build_yolact("yolact_base")` or load released weights with
`load_yolact("yolact_base", path)` (or a `yolact_plus_*` variant: YOLACT++ with DCNv2); run
`predict(model, rgb_frame, suppression="fast")` for a list of Detections.
"""

from annotator.nn.yolact.build import (
    build_yolact,
    build_yolact_base,
    build_yolact_resnet50,
    filter_legacy_keys,
    load_state,
    load_yolact,
)
from annotator.nn.yolact.config import (
    COCO_CATEGORY_IDS,
    COCO_CLASSES,
    CONFIGS,
    YolactConfig,
)
from annotator.nn.yolact.detect import (
    Detection,
    RawDetections,
    detect,
    postprocess,
    predict,
    rescore,
)
from annotator.nn.yolact.model import Yolact, YolactOutput
from annotator.nn.yolact.suppression import SUPPRESSIONS

__all__ = [
    "COCO_CATEGORY_IDS",
    "COCO_CLASSES",
    "CONFIGS",
    "SUPPRESSIONS",
    "Detection",
    "RawDetections",
    "Yolact",
    "YolactConfig",
    "YolactOutput",
    "build_yolact",
    "build_yolact_base",
    "build_yolact_resnet50",
    "detect",
    "filter_legacy_keys",
    "load_state",
    "load_yolact",
    "postprocess",
    "predict",
    "rescore",
]
