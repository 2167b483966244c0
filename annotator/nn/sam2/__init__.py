"""SAM 2 family (EdgeTAM, EfficientTAM on the same parts): model, image and video predictors.
Keys match the official checkpoints (`torch.load(...)["model"]`)."""

from annotator.nn.sam2.build import build_model, fuse_for_inference, load_edgetam, load_sam2
from annotator.nn.sam2.config import EDGETAM, Sam2Config
from annotator.nn.sam2.efficienttam import (
    EFFICIENTTAM_VARIANTS,
    efficienttam_config,
    load_efficienttam,
)
from annotator.nn.sam2.image_predictor import Sam2ImagePredictor
from annotator.nn.sam2.model import NO_OBJ_SCORE, Sam2Model
from annotator.nn.sam2.video_predictor import Sam2VideoPredictor
from annotator.nn.sam2.video_session import VideoSession
from annotator.nn.sam2.video_state import FrameOut, FrameResult

__all__ = [
    "EDGETAM",
    "EFFICIENTTAM_VARIANTS",
    "NO_OBJ_SCORE",
    "FrameOut",
    "FrameResult",
    "Sam2Config",
    "Sam2ImagePredictor",
    "Sam2Model",
    "Sam2VideoPredictor",
    "VideoSession",
    "build_model",
    "efficienttam_config",
    "fuse_for_inference",
    "load_edgetam",
    "load_efficienttam",
    "load_sam2",
]
