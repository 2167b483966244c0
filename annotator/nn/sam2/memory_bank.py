"""Which stored frames a tracked frame reads (SAM2Base `_prepare_memory_conditioned_features`).

Spatial memories: every selected conditioning frame (slot 0), then for slots 1..num_maskmem-1
the non-conditioning output `num_maskmem - slot` frames back (forward; ahead in reverse),
skipped when absent. Pointers: conditioning frames not in the future (eval rule), then up to
min(num_frames, max_obj_ptrs) - 1 previous frames. A plan is plain data, so objects whose plans
are equal can be batched.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from annotator.nn.sam2.config import Sam2Config


@dataclass(frozen=True)
class MemoryPlan:
    """(slot, frame, is_cond) per spatial memory and (frame, is_cond) per pointer."""

    spatial: tuple[tuple[int, int, bool], ...]
    pointers: tuple[tuple[int, bool], ...]


def select_cond_frames(
    frame_idx: int, cond: Collection[int], max_num: int
) -> tuple[list[int], list[int]]:
    """Selected and unselected conditioning frames (all of them when max_num is -1)."""
    frames = sorted(cond)
    if max_num == -1 or len(frames) <= max_num:
        return frames, []
    chosen: list[int] = []
    before = [t for t in frames if t < frame_idx]
    after = [t for t in frames if t >= frame_idx]
    if before:
        chosen.append(before[-1])
    if after:
        chosen.append(after[0])
    rest = sorted((t for t in frames if t not in chosen), key=lambda t: abs(t - frame_idx))
    chosen += rest[: max_num - len(chosen)]
    return sorted(chosen), [t for t in frames if t not in chosen]


def _prev_frame(frame_idx: int, t_rel: int, stride: int, reverse: bool) -> int:
    if t_rel == 1:
        return frame_idx + 1 if reverse else frame_idx - 1
    if not reverse:
        return ((frame_idx - 2) // stride) * stride - (t_rel - 2) * stride
    return -(-(frame_idx + 2) // stride) * stride + (t_rel - 2) * stride


def plan_memory(
    cfg: Sam2Config,
    frame_idx: int,
    cond: Collection[int],
    non_cond: Collection[int],
    num_frames: int,
    reverse: bool,
) -> MemoryPlan:
    """The memory layout for tracking `frame_idx` given the stored frames of one object."""
    selected, unselected = select_cond_frames(frame_idx, cond, cfg.max_cond_frames_in_attn)
    unsel = set(unselected)
    spatial: list[tuple[int, int, bool]] = [(0, t, True) for t in selected]
    for t_pos in range(1, cfg.num_maskmem):
        prev = _prev_frame(
            frame_idx, cfg.num_maskmem - t_pos, cfg.memory_temporal_stride_for_eval, reverse
        )
        if prev in non_cond:
            spatial.append((t_pos, prev, False))
        elif prev in unsel:
            spatial.append((t_pos, prev, True))
    pointers: list[tuple[int, bool]] = [
        (t, True)
        for t in selected
        if not cfg.only_obj_ptrs_in_the_past_for_eval
        or (t >= frame_idx if reverse else t <= frame_idx)
    ]
    for t_diff in range(1, min(num_frames, cfg.max_obj_ptrs_in_encoder)):
        t = frame_idx + t_diff if reverse else frame_idx - t_diff
        if t < 0 or t >= num_frames:
            break
        if t in non_cond:
            pointers.append((t, False))
        elif t in unsel:
            pointers.append((t, True))
    return MemoryPlan(tuple(spatial), tuple(pointers))
