"""Shared helpers for the SAM 2-family tests: fixture weights and a tiny random model."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from annotator.nn.sam2 import EDGETAM, Sam2Config, Sam2Model, build_model
from annotator.nn.sam2.memory_attention import RoPEAttentionV2
from annotator.nn.sam2.perceiver import PerceiverResampler


def fixture_state_dict(folder: Path) -> dict[str, torch.Tensor]:
    """detinit weights of a parity fixture with its documented overrides (explicit.npz)."""
    import detinit  # put on sys.path by the parity_dir fixture

    manifest = json.loads((folder / "manifest.json").read_text())
    shapes = {k: (tuple(s), d) for k, s, d, _ in manifest["keys"]}
    state = detinit.state_dict(shapes)
    explicit = np.load(folder / "explicit.npz")
    for key in manifest["explicit"]:
        state[key] = torch.from_numpy(explicit[key])
    return state


def tiny_edgetam_config() -> Sam2Config:
    """EdgeTAM's layout at 128 x 128 input (8 x 8 memory grid, 64 patch latents): fast enough
    for unit tests of the video logic."""
    return replace(
        EDGETAM,
        name="edgetam-tiny",
        image_size=128,
        build_cross_attention=lambda: RoPEAttentionV2(
            256, num_heads=1, kv_in_dim=64, q_sizes=(8, 8), k_sizes=(8, 8)
        ),
        build_memory_compressor=lambda: PerceiverResampler(num_latents=64, num_latents_2d=64),
    )


def tiny_model(seed: int = 0) -> Sam2Model:
    """A random tiny model whose object-score head says 'present' (so masks are not -1024)."""
    torch.manual_seed(seed)
    model = build_model(tiny_edgetam_config())
    with torch.no_grad():
        model.sam_mask_decoder.pred_obj_score_head.layers[2].bias.fill_(2.0)
    return model


def single_thread() -> object:
    """Context for torch ops on one thread: on a shared 2-core machine, OpenMP threads that
    wait for each other make small convolutions >10x slower than one thread."""
    return _Threads(1)


class _Threads:
    def __init__(self, n: int) -> None:
        self.n = n
        self.old = torch.get_num_threads()

    def __enter__(self) -> None:
        self.old = torch.get_num_threads()
        torch.set_num_threads(self.n)

    def __exit__(self, *exc: object) -> None:
        torch.set_num_threads(self.old)
