"""Annotator: interactive video segmentation annotation."""

__version__ = "0.1.0"
