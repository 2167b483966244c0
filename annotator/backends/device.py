"""Pick the compute device in one place: "auto" means CUDA, then Apple MPS, then CPU."""

from __future__ import annotations


def resolve_device(device: str = "auto") -> str:
    """A torch device string; torch is imported only here, when a model is being built."""
    if device != "auto":
        return device
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"
