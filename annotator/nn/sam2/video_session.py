"""Streaming SAM 2-family video session: prompts on any frame, propagation as a generator.

Frames come from `get_frame(index)` (or a `VideoSource`) on demand; only a few frames'
features are cached and tracked outputs far from the current frame can be dropped
(`keep_frames`). The official predictor's semantics are kept (EdgeTAM's: objects batched, a
frame with new prompts is re-encoded for every object before propagation; with
`cfg.independent_objects`, SAM 2's newer one used by EfficientTAM: only each object's own new
outputs are encoded and corrected frames are tracked again), with two extensions: objects
may be added at any time (a frame counts as tracked per object, as in SAM 2's newer
predictor) and, with `refine_keyframes`, a click on an object's conditioning
frame refines that keyframe instead of being dropped at the next propagation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from annotator.core.errors import PromptError
from annotator.nn.sam2.holes import fill_holes
from annotator.nn.sam2.memory_bank import MemoryPlan, plan_memory
from annotator.nn.sam2.model import NO_OBJ_SCORE, FrameFeatures, MemoryInputs, Sam2Model
from annotator.nn.sam2.transforms import ResizeMode, preprocess
from annotator.nn.sam2.video_state import FeatureCache, FrameOut, FrameResult, ObjectTrack

FrameGetter = Callable[[int], np.ndarray]


class VideoSession:
    """Tracking state of one video (create it with `Sam2VideoPredictor.start`)."""

    def __init__(
        self,
        model: Sam2Model,
        get_frame: FrameGetter,
        num_frames: int,
        video_size: tuple[int, int],
        *,
        fill_hole_area: int,
        resize_mode: ResizeMode,
        feature_cache_size: int,
        keep_frames: int | None,
        refine_keyframes: bool,
    ) -> None:
        self.model = model
        self.get_frame = get_frame
        self.num_frames = num_frames
        self.video_size = video_size  # (H, W)
        self.fill_hole_area = fill_hole_area
        self.resize_mode = resize_mode
        self.keep_frames = keep_frames
        self.refine_keyframes = refine_keyframes
        self.tracks: list[ObjectTrack] = []
        self.features = FeatureCache(self._compute_features, feature_cache_size)
        self._pos_enc: Tensor | None = None

    # ---- public API ------------------------------------------------------------------------

    @property
    def object_ids(self) -> list[int]:
        return [t.obj_id for t in self.tracks]

    @torch.inference_mode()
    def add_points(
        self,
        frame_index: int,
        obj_id: int,
        points: Sequence[Sequence[float]] | None = None,
        labels: Sequence[int] | None = None,
        box: Sequence[float] | None = None,
        clear_old_points: bool = True,
    ) -> FrameResult:
        """Clicks (x, y video pixels; label 1 positive, 0 negative) and/or a box x0,y0,x1,y1."""
        self._check_frame(frame_index)
        pts = torch.as_tensor(points if points is not None else [], dtype=torch.float32)
        lbl = torch.as_tensor(labels if labels is not None else [], dtype=torch.int32)
        pts = pts.reshape(1, -1, 2)
        lbl = lbl.reshape(1, -1)
        if pts.shape[1] != lbl.shape[1]:
            raise PromptError("points and labels differ in length")
        if box is not None:
            if not clear_old_points:
                raise PromptError("a box replaces earlier points: use clear_old_points=True")
            pts = torch.cat([torch.as_tensor(box, dtype=torch.float32).reshape(1, 2, 2), pts], 1)
            lbl = torch.cat([torch.tensor([[2, 3]], dtype=torch.int32), lbl], dim=1)
        if pts.shape[1] == 0:
            raise PromptError("give at least one point or a box")
        h, w = self.video_size
        pts = pts / torch.tensor([w, h], dtype=torch.float32) * self.model.cfg.image_size
        track = self._track(obj_id, create=True)
        old = track.points.get(frame_index)
        if not clear_old_points and old is not None:
            pts, lbl = torch.cat([old[0], pts], dim=1), torch.cat([old[1], lbl], dim=1)
        track.points[frame_index] = (pts, lbl)
        track.mask_inputs.pop(frame_index, None)
        return self._prompt(track, frame_index, (pts, lbl), None)

    @torch.inference_mode()
    def add_mask(self, frame_index: int, obj_id: int, mask: np.ndarray) -> FrameResult:
        """A bool H x W mask as the object's prompt on a frame (used as the output directly)."""
        self._check_frame(frame_index)
        s = self.model.cfg.image_size
        m = torch.from_numpy(np.asarray(mask, dtype=bool)).float()[None, None]
        if m.shape[-2:] != (s, s):
            m = F.interpolate(m, size=(s, s), mode="bilinear", align_corners=False, antialias=True)
            m = (m >= 0.5).float()
        track = self._track(obj_id, create=True)
        track.mask_inputs[frame_index] = m
        track.points.pop(frame_index, None)
        return self._prompt(track, frame_index, None, m)

    @torch.inference_mode()
    def propagate(
        self,
        start_frame: int | None = None,
        max_frames: int | None = None,
        reverse: bool = False,
    ) -> Iterator[FrameResult]:
        """Track every object frame by frame; yields one `FrameResult` per frame."""
        self._consolidate()
        cond_frames = [f for t in self.tracks for f in t.cond]
        if not cond_frames:
            raise PromptError("add a prompt before propagating")
        start = min(cond_frames) if start_frame is None else start_frame
        span = self.num_frames if max_frames is None else max_frames
        if reverse:
            order: Sequence[int] = range(start, max(start - span, 0) - 1, -1) if start > 0 else []
        else:
            order = range(start, min(start + span, self.num_frames - 1) + 1)
        for f in order:
            outs = self._propagate_frame(f, reverse)
            if self.keep_frames is not None:
                for t in self.tracks:
                    t.evict(f, self.keep_frames)
            yield self._result(f, outs)

    def remove_object(self, obj_id: int) -> None:
        """Forget an object and everything stored for it."""
        self.tracks = [t for t in self.tracks if t.obj_id != obj_id]

    def reset(self) -> None:
        """Forget all objects and prompts (features of the frames stay cached)."""
        self.tracks = []

    def stored_output(self, frame_index: int, obj_id: int) -> FrameOut | None:
        """The output an object keeps for a frame (pending prompt output first)."""
        return self._track(obj_id).stored(frame_index)

    # ---- prompts ---------------------------------------------------------------------------

    def _prompt(
        self, track: ObjectTrack, f: int, points: tuple[Tensor, Tensor] | None, mask: Tensor | None
    ) -> FrameResult:
        refine = self.refine_keyframes and f in track.cond
        is_init = f not in track.tracked or refine
        reverse = False if is_init else track.tracked[f]
        is_cond = is_init
        prev_logits = None
        prev = track.stored(f, is_cond)
        if prev is not None and mask is None:
            prev_logits = torch.clamp(prev.pred_masks, -32.0, 32.0)
        plan = None if is_init else self._plan(track, f, reverse)
        out = self._infer(
            f, [track], plan, points, mask, run_mem_encoder=False, prev_logits=prev_logits
        )
        track.temp[f] = (is_cond, out)
        outs = [t.stored(f, is_cond) for t in self.tracks]
        return self._result(f, outs)

    # ---- inference -------------------------------------------------------------------------

    def _compute_features(self, f: int) -> FrameFeatures:
        frame = np.ascontiguousarray(self.get_frame(f))
        image = preprocess(frame, self.model.cfg.image_size, self.resize_mode)
        device = next(self.model.parameters()).device
        return self.model.frame_features(self.model.forward_image(image.to(device)))

    def _plan(self, track: ObjectTrack, f: int, reverse: bool) -> MemoryPlan:
        return plan_memory(
            self.model.cfg, f, track.cond.keys(), track.non_cond.keys(), self.num_frames, reverse
        )

    def _gather(self, tracks: list[ObjectTrack], plan: MemoryPlan) -> MemoryInputs:
        mems, pos, ptrs = [], [], []
        for t_pos, frame, is_cond in plan.spatial:
            outs = [(t.cond if is_cond else t.non_cond)[frame] for t in tracks]
            feats = [o.maskmem_features for o in outs if o.maskmem_features is not None]
            fpos = [o.maskmem_pos_enc for o in outs if o.maskmem_pos_enc is not None]
            if len(feats) != len(outs) or len(fpos) != len(outs):
                raise RuntimeError(f"frame {frame} has no memory")
            mems.append(feats[0] if len(feats) == 1 else torch.cat(feats))
            mem_pos = fpos[0] if len(fpos) == 1 else torch.cat(fpos)
            pos.append(mem_pos + self.model.tpos_enc(t_pos))
        for frame, is_cond in plan.pointers:
            ptrs.append(
                torch.cat([(t.cond if is_cond else t.non_cond)[frame].obj_ptr for t in tracks])
            )
        return MemoryInputs(mems, pos, ptrs)

    def _infer(
        self,
        f: int,
        tracks: list[ObjectTrack],
        plan: MemoryPlan | None,
        points: tuple[Tensor, Tensor] | None,
        mask: Tensor | None,
        run_mem_encoder: bool,
        prev_logits: Tensor | None = None,
    ) -> FrameOut:
        """One track step for a batch of objects sharing a memory plan (None: initial frame)."""
        model = self.model
        feats = self.features.get(f).expand(len(tracks))
        dev = feats.top.device
        if points is not None:
            points = (points[0].to(dev), points[1].to(dev))
        if mask is not None:
            mask = mask.to(dev)
        if mask is not None and model.cfg.use_mask_input_as_output_without_sam:
            heads = model.mask_as_output(feats, mask)
        else:
            mem = None if plan is None else self._gather(tracks, plan)
            pix = model.condition_on_memory(feats, mem)
            n_pts = 0 if points is None else points[1].shape[1]
            multimask = model.use_multimask(plan is None, n_pts)
            heads = model.sam_heads(
                pix, feats.high_res, points, prev_logits if mask is None else mask, multimask
            )
        out = FrameOut(
            fill_holes(heads.low_res_masks, self.fill_hole_area),
            heads.obj_ptr,
            heads.object_score_logits,
        )
        if run_mem_encoder:
            out.maskmem_features, out.maskmem_pos_enc = self._encode(
                feats, heads.high_res_masks, points is not None
            )
        return out

    def _encode(
        self, feats: FrameFeatures, high_res: Tensor, from_pts: bool
    ) -> tuple[Tensor, Tensor]:
        mem, pos = self.model.encode_memory(feats, high_res, from_pts)
        if self._pos_enc is None:  # the same for every frame: keep one copy
            self._pos_enc = pos[0:1].clone()
        return mem, self._pos_enc.expand(mem.shape[0], -1, -1)

    # ---- propagation -----------------------------------------------------------------------

    def _propagate_frame(self, f: int, reverse: bool) -> list[FrameOut | None]:
        outs: dict[int, FrameOut | None] = {}
        groups: dict[MemoryPlan, list[ObjectTrack]] = {}
        for i, t in enumerate(self.tracks):
            if f in t.cond:
                outs[i] = t.cond[f]
            elif f in t.input_non_cond and not self.model.cfg.independent_objects:
                outs[i] = t.non_cond[f]
            elif not t.cond:
                outs[i] = None
            else:
                groups.setdefault(self._plan(t, f, reverse), []).append(t)
        for plan, group in groups.items():
            out = self._infer(f, group, plan, None, None, run_mem_encoder=True)
            for j, t in enumerate(group):
                t.non_cond[f] = out.slice(j)
        for i, t in enumerate(self.tracks):
            t.tracked[f] = reverse
            if i not in outs:
                outs[i] = t.non_cond[f]
        return [outs[i] for i in range(len(self.tracks))]

    def _consolidate(self) -> None:
        """Encode the memory of every frame with new prompts, for all objects (preflight)."""
        for is_cond in (False, True):
            frames = sorted(
                {f for t in self.tracks for f, (c, _) in t.temp.items() if c == is_cond}
            )
            for f in frames:
                self._consolidate_frame(f, is_cond)
            for t in self.tracks:
                t.temp = {f: v for f, v in t.temp.items() if v[0] != is_cond}
        for t in self.tracks:
            for f in t.cond:
                t.non_cond.pop(f, None)
                t.input_non_cond.discard(f)

    def _consolidate_frame(self, f: int, is_cond: bool) -> None:
        entries: list[tuple[ObjectTrack, FrameOut | None]] = []
        own_only = self.model.cfg.independent_objects
        for t in self.tracks:
            temp = t.temp.get(f)
            if temp is not None and temp[0] == is_cond:
                entries.append((t, temp[1]))
            elif own_only:
                continue
            elif is_cond and f in t.cond:
                entries.append((t, t.cond[f]))
            elif is_cond and f not in t.tracked:
                entries.append((t, None))  # absent on a shared conditioning frame (official)
            elif not is_cond and f in t.non_cond:
                entries.append((t, t.non_cond[f]))
        if not entries:
            return
        out = self._consolidated_out(f, [src for _, src in entries])
        for j, (t, _) in enumerate(entries):
            if is_cond:
                t.cond[f] = out.slice(j)
            else:
                t.non_cond[f] = out.slice(j)
                if not own_only:
                    t.input_non_cond.add(f)

    def _consolidated_out(self, f: int, srcs: list[FrameOut | None]) -> FrameOut:
        model = self.model
        low = model.cfg.image_size // 4
        device = self._device()
        masks, ptrs, scores = [], [], []
        for src in srcs:
            if src is None:
                masks.append(torch.full((1, 1, low, low), NO_OBJ_SCORE, device=device))
                ptrs.append(self._empty_mask_ptr(f))
                scores.append(torch.full((1, 1), 10.0, device=device))
            else:
                masks.append(src.pred_masks)
                ptrs.append(src.obj_ptr)
                scores.append(src.object_score_logits)
        out = FrameOut(torch.cat(masks), torch.cat(ptrs), torch.cat(scores))
        s = model.cfg.image_size
        high = F.interpolate(out.pred_masks, size=(s, s), mode="bilinear", align_corners=False)
        feats = self.features.get(f).expand(len(srcs))
        out.maskmem_features, out.maskmem_pos_enc = self._encode(feats, high, True)
        return out

    def _empty_mask_ptr(self, f: int) -> Tensor:
        s = self.model.cfg.image_size
        zeros = torch.zeros(1, 1, s, s, device=self._device())
        return self.model.mask_as_output(self.features.get(f), zeros).obj_ptr

    # ---- helpers ---------------------------------------------------------------------------

    def _track(self, obj_id: int, create: bool = False) -> ObjectTrack:
        for t in self.tracks:
            if t.obj_id == obj_id:
                return t
        if not create:
            raise PromptError(f"unknown object id {obj_id}")
        track = ObjectTrack(obj_id)
        self.tracks.append(track)
        return track

    def _device(self) -> torch.device:
        return next(self.model.parameters()).device

    def _check_frame(self, f: int) -> None:
        if not 0 <= f < self.num_frames:
            raise PromptError(f"frame {f} is outside the video (0..{self.num_frames - 1})")

    def _result(self, f: int, outs: Sequence[FrameOut | None]) -> FrameResult:
        h, w = self.video_size
        low = self.model.cfg.image_size // 4
        logits = torch.cat(
            [
                o.pred_masks.cpu() if o is not None else torch.full((1, 1, low, low), NO_OBJ_SCORE)
                for o in outs
            ]
        ).float()
        if logits.shape[-2:] != (h, w):
            logits = F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False)
        scores = [
            o.object_score_logits.reshape(-1).cpu()
            if o is not None
            else torch.full((1,), NO_OBJ_SCORE)
            for o in outs
        ]
        return FrameResult(
            f, self.object_ids, logits[:, 0].cpu().numpy(), torch.cat(scores).float().cpu().numpy()
        )
