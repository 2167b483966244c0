"""Exporters: one module per format, each with write() (a job) and read() (for round trips)."""

from annotator.export import coco, davis

FORMATS = {"coco": coco, "davis": davis}

__all__ = ["FORMATS", "coco", "davis"]
