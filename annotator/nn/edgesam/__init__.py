"""EdgeSAM (chongzhou96/EdgeSAM): RepViT-m1 encoder + SAM prompt encoder and mask decoder."""

from annotator.nn.edgesam.build import build_edge_sam, load_edge_sam
from annotator.nn.edgesam.model import EdgeSam
from annotator.nn.edgesam.predictor import EdgeSamPrediction, EdgeSamPredictor

__all__ = ["EdgeSam", "EdgeSamPrediction", "EdgeSamPredictor", "build_edge_sam", "load_edge_sam"]
