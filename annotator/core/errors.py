"""Errors users see: each message says what happened and how to fix it, in one line."""

from __future__ import annotations


class AnnotatorError(Exception):
    """Base of every error the CLI and GUI turn into a one-line message."""


class VideoError(AnnotatorError):
    """A video is missing, not a video, or cannot be decoded."""


class StoreError(AnnotatorError):
    """A project file cannot be opened or written."""


class BackendUnavailable(AnnotatorError):
    """A backend cannot be created (missing package or weights); the message says the fix."""


class CheckpointError(AnnotatorError):
    """A checkpoint file does not match the model (wrong file, corrupt, missing/unexpected keys)."""


class PromptError(AnnotatorError):
    """A prompt is invalid, e.g. outside the frame."""


class ExportError(AnnotatorError):
    """An export cannot be written."""
