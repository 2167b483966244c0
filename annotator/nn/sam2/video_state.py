"""Plain state of a video session: per-frame outputs, per-object tracks, a feature LRU."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from torch import Tensor

from annotator.nn.sam2.model import FrameFeatures


@dataclass
class FrameOut:
    """Stored result of a frame for a batch of objects (B = objects)."""

    pred_masks: Tensor  # B x 1 x h x w low-res logits
    obj_ptr: Tensor  # B x C
    object_score_logits: Tensor  # B x 1
    maskmem_features: Tensor | None = None  # B x N x C_mem, bfloat16
    maskmem_pos_enc: Tensor | None = None  # B x N x C_mem

    def slice(self, i: int) -> FrameOut:
        s = slice(i, i + 1)
        return FrameOut(
            self.pred_masks[s],
            self.obj_ptr[s],
            self.object_score_logits[s],
            None if self.maskmem_features is None else self.maskmem_features[s],
            None if self.maskmem_pos_enc is None else self.maskmem_pos_enc[s],
        )


@dataclass
class FrameResult:
    """What a session reports for one frame: mask logits at video resolution per object."""

    frame_index: int
    object_ids: list[int]
    mask_logits: np.ndarray  # N x H x W float32; > 0 is the mask
    object_scores: np.ndarray  # N float32 object-presence logits (> 0: present)

    @property
    def masks(self) -> np.ndarray:
        """N x H x W bool masks."""
        return self.mask_logits > 0


@dataclass
class ObjectTrack:
    """Prompts and outputs of one object (SAM 2's per-object output dicts)."""

    obj_id: int
    points: dict[int, tuple[Tensor, Tensor]] = field(default_factory=dict)
    mask_inputs: dict[int, Tensor] = field(default_factory=dict)
    cond: dict[int, FrameOut] = field(default_factory=dict)
    non_cond: dict[int, FrameOut] = field(default_factory=dict)
    temp: dict[int, tuple[bool, FrameOut]] = field(default_factory=dict)  # frame -> is_cond
    input_non_cond: set[int] = field(default_factory=set)  # consolidated correction frames
    tracked: dict[int, bool] = field(default_factory=dict)  # frame -> tracked in reverse

    def stored(self, frame: int, is_cond: bool | None = None) -> FrameOut | None:
        """Temp output (of kind `is_cond` if given), else conditioning, else tracked output."""
        temp = self.temp.get(frame)
        if temp is not None and (is_cond is None or temp[0] == is_cond):
            return temp[1]
        return self.cond.get(frame, self.non_cond.get(frame))

    def evict(self, center: int, keep: int) -> None:
        """Drop tracked outputs farther than `keep` frames from `center` (inputs are kept)."""
        for f in [
            f for f in self.non_cond if abs(f - center) > keep and f not in self.input_non_cond
        ]:
            del self.non_cond[f]


class FeatureCache:
    """LRU of per-frame backbone features (a few frames: they are ~16 MB each at 1024)."""

    def __init__(self, compute: Callable[[int], FrameFeatures], size: int = 2) -> None:
        self._compute = compute
        self._size = max(1, size)
        self._items: OrderedDict[int, FrameFeatures] = OrderedDict()

    def get(self, frame: int) -> FrameFeatures:
        if frame in self._items:
            self._items.move_to_end(frame)
            return self._items[frame]
        feats = self._compute(frame)
        self._items[frame] = feats
        while len(self._items) > self._size:
            self._items.popitem(last=False)
        return feats

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        self._items.clear()
