"""Shared helpers for the SAM 2-family tests: fixture weights and a tiny random model."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from annotator.nn.sam2 import EDGETAM, Sam2Config, Sam2ImagePredictor, Sam2Model, build_model
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


# --- parity checks shared by the EdgeTAM and EfficientTAM fixtures ------------------------------


def assert_close(name: str, got: np.ndarray, want: np.ndarray, tol: float = 1e-3) -> None:
    """|got - want| <= tol + tol |want| everywhere, shapes equal."""
    got = np.asarray(got, dtype=np.float64)
    assert got.shape == want.shape, f"{name}: shape {got.shape} != {want.shape}"
    err = np.abs(got - want) - (tol + tol * np.abs(want))
    assert np.all(err <= 0), f"{name}: max excess {err.max():.3g}"


def check_image_predict(model: Sam2Model, inputs: dict, expected: dict) -> None:
    """Point and box image predictions against the fixture."""
    pred = Sam2ImagePredictor(model, resize_mode="bilinear")
    pred.set_image(inputs["frames"][0])
    calls = {
        "points": {
            "point_coords": inputs["image_points"],
            "point_labels": inputs["image_point_labels"],
            "multimask_output": True,
        },
        "box": {"box": inputs["image_box"], "multimask_output": False},
    }
    for name, kwargs in calls.items():
        masks, iou, low = pred.predict(**kwargs, return_logits=True)
        assert_close(f"{name}_masks", masks, expected[f"image_predict/{name}_masks"])
        assert_close(f"{name}_iou", iou, expected[f"image_predict/{name}_iou"])
        assert_close(f"{name}_low_res", low, expected[f"image_predict/{name}_low_res"])


def check_state(session, frame: int, ids: list[int], key: str, expected: dict) -> None:
    """Stored object pointers and object scores of `ids` on a frame."""
    outs = [session.stored_output(frame, i) for i in ids]
    assert_close(
        f"{key}/obj_ptr", np.stack([o.obj_ptr[0].numpy() for o in outs]), expected[f"{key}/obj_ptr"]
    )
    scores = np.stack([o.object_score_logits.reshape(-1).numpy() for o in outs])[:, 0]
    assert_close(f"{key}/object_score_logits", scores, expected[f"{key}/object_score_logits"])


def check_pass(
    session, key: str, expected: dict, max_frames: int | None = None, ids: tuple[int, ...] = (1, 2)
) -> None:
    """One propagation against the recorded pass (its first frames, objects `ids` only)."""
    order, masks, ptrs, scores = [], [], [], []
    for res in session.propagate(max_frames=max_frames):
        assert res.object_ids == list(ids)
        order.append(res.frame_index)
        masks.append(res.mask_logits)
        outs = [session.stored_output(res.frame_index, i) for i in ids]
        ptrs.append(np.stack([o.obj_ptr[0].numpy() for o in outs]))
        scores.append([float(o.object_score_logits.reshape(-1)[0]) for o in outs])
    n, cols = len(order), [i - 1 for i in ids]  # object id i is slot i - 1
    assert order == expected[f"{key}/frame_order"].tolist()[:n]
    for name, got in (("masks", masks), ("obj_ptr", ptrs), ("object_score_logits", scores)):
        want = expected[f"{key}/{name}"][:n][:, cols]
        assert_close(f"{key}/{name}", np.array(got), want)
