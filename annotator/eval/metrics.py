"""DAVIS metrics: region similarity J, boundary accuracy F, their statistics and J&F.

Computed exactly as the DAVIS 2017 evaluation does (davisvideochallenge/davis2017-evaluation,
`davis2017/metrics.py` and `utils.py`), so our numbers compare with published ones:

- J is the IoU; void pixels are excluded from both sets; an empty union gives J = 1.
- F matches one-pixel boundary maps (Martin 2003 `seg2bmap`) by dilation with a disk of radius
  ceil(0.008 * image diagonal), not by bipartite matching (the DAVIS 2016 MATLAB definition).
- Statistics per object: mean, recall (fraction > 0.5) and decay (first quarter minus last quarter,
  the quarters sharing their endpoints). One deviation: the reference casts the bin ids to uint8,
  which overflows past 256 frames; we keep them as ints.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

BOUND_TH = 0.008
"""Boundary tolerance relative to the image diagonal (a value >= 1 is taken as pixels)."""


def disk(radius: float) -> np.ndarray:
    """uint8 disk footprint of side 2r+1: x^2 + y^2 <= r^2 (skimage.morphology.disk, strict)."""
    r = int(radius)
    axis = np.arange(-r, r + 1)
    return ((axis[None, :] ** 2 + axis[:, None] ** 2) <= radius**2).astype(np.uint8)


def bound_pixels(shape: Sequence[int], bound_th: float = BOUND_TH) -> int:
    """Dilation radius in pixels for an (H, W) image: ceil(th * diagonal), or th itself if >= 1."""
    if bound_th >= 1:
        return int(bound_th)
    return math.ceil(bound_th * math.hypot(shape[0], shape[1]))


def seg2bmap(seg: np.ndarray) -> np.ndarray:
    """One-pixel boundary map of a binary mask, offset half a pixel towards the origin.

    A pixel is on the boundary when it differs from its east, south or south-east neighbour
    (zero-filled outside); the last row only looks east, the last column only south, and the
    bottom-right corner is never a boundary.
    """
    seg = np.asarray(seg).astype(bool)
    east = np.zeros_like(seg)
    south = np.zeros_like(seg)
    south_east = np.zeros_like(seg)
    east[:, :-1] = seg[:, 1:]
    south[:-1, :] = seg[1:, :]
    south_east[:-1, :-1] = seg[1:, 1:]
    b = (seg ^ east) | (seg ^ south) | (seg ^ south_east)
    b[-1, :] = seg[-1, :] ^ east[-1, :]
    b[:, -1] = seg[:, -1] ^ south[:, -1]
    b[-1, -1] = False
    return b


def jaccard(gt: np.ndarray, pred: np.ndarray, void: np.ndarray | None = None) -> float:
    """Region similarity J of two (H, W) masks; 1.0 when both are empty (outside void)."""
    gt = np.asarray(gt, dtype=bool)
    pred = np.asarray(pred, dtype=bool)
    if gt.shape != pred.shape:
        raise ValueError(f"mask shapes differ: gt {gt.shape} vs prediction {pred.shape}")
    keep = np.ones_like(gt) if void is None else ~np.asarray(void, dtype=bool)
    union = int(np.count_nonzero((gt | pred) & keep))
    if union == 0:
        return 1.0
    return int(np.count_nonzero(gt & pred & keep)) / union


def f_measure(gt: np.ndarray, pred: np.ndarray, void: np.ndarray | None = None,
              bound_th: float = BOUND_TH) -> float:
    """Boundary F of two (H, W) masks with the DAVIS 2017 dilation matching and edge cases.

    Empty prediction boundary with a GT boundary gives P=1, R=0 (F=0), the reverse P=0, R=1 (F=0),
    and both empty F=1.
    """
    gt = np.asarray(gt, dtype=bool)
    pred = np.asarray(pred, dtype=bool)
    if gt.shape != pred.shape:
        raise ValueError(f"mask shapes differ: gt {gt.shape} vs prediction {pred.shape}")
    if void is not None:
        keep = ~np.asarray(void, dtype=bool)
        gt, pred = gt & keep, pred & keep
    kernel = disk(bound_pixels(gt.shape, bound_th))
    pred_b = seg2bmap(pred)
    gt_b = seg2bmap(gt)
    n_pred = int(np.count_nonzero(pred_b))
    n_gt = int(np.count_nonzero(gt_b))
    if n_pred == 0 and n_gt == 0:
        return 1.0
    if n_pred == 0 or n_gt == 0:
        return 0.0
    pred_dil = cv2.dilate(pred_b.astype(np.uint8), kernel).astype(bool)
    gt_dil = cv2.dilate(gt_b.astype(np.uint8), kernel).astype(bool)
    precision = np.count_nonzero(pred_b & gt_dil) / n_pred
    recall = np.count_nonzero(gt_b & pred_dil) / n_gt
    if precision + recall == 0:
        return 0.0
    return float(2 * precision * recall / (precision + recall))


def f_measure_bipartite(gt: np.ndarray, pred: np.ndarray, bound_th: float = BOUND_TH) -> float:
    """Boundary F with one-to-one matching of boundary pixels within the radius (DAVIS 2016 style).

    A maximum-cardinality bipartite matching (scipy) stands in for BSDS `correspondPixels`; each
    boundary pixel matches at most one on the other side, so precision and recall can only be lower
    than with dilation. Slower; not what published DAVIS 2017+ numbers use.
    """
    from scipy.sparse import csr_matrix  # lazy: scipy is an optional extra
    from scipy.sparse.csgraph import maximum_bipartite_matching

    pred_b, gt_b = seg2bmap(pred), seg2bmap(gt)
    pp, gp = np.argwhere(pred_b), np.argwhere(gt_b)
    if len(pp) == 0 and len(gp) == 0:
        return 1.0
    if len(pp) == 0 or len(gp) == 0:
        return 0.0
    r = bound_pixels(np.shape(gt), bound_th)
    offsets = np.argwhere(disk(r)) - r
    gt_index = np.full(gt_b.shape, -1, dtype=np.int64)
    gt_index[gt_b] = np.arange(len(gp))
    rows, cols = [], []
    h, w = gt_b.shape
    for dy, dx in offsets:
        y, x = pp[:, 0] + dy, pp[:, 1] + dx
        ok = (y >= 0) & (y < h) & (x >= 0) & (x < w)
        hit = np.full(len(pp), -1, dtype=np.int64)
        hit[ok] = gt_index[y[ok], x[ok]]
        sel = hit >= 0
        rows.append(np.nonzero(sel)[0])
        cols.append(hit[sel])
    row, col = np.concatenate(rows), np.concatenate(cols)
    graph = csr_matrix((np.ones(len(row)), (row, col)), shape=(len(pp), len(gp)))
    matched = int(np.count_nonzero(maximum_bipartite_matching(graph, perm_type="column") >= 0))
    precision, recall = matched / len(pp), matched / len(gp)
    if precision + recall == 0:
        return 0.0
    return float(2 * precision * recall / (precision + recall))


@dataclass(frozen=True)
class Statistics:
    """DAVIS per-object statistics of one metric over frames: mean, recall and decay."""

    mean: float
    recall: float
    decay: float


def db_statistics(values: Sequence[float] | np.ndarray) -> Statistics:
    """Mean (NaN-skipping), recall (v > 0.5; a NaN frame counts as a miss, as in the reference)
    and decay over 4 quarters whose bins share endpoints."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return Statistics(math.nan, math.nan, math.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        mean = float(np.nanmean(v))
        recall = float(np.nanmean(v > 0.5))
        ids = (np.round(np.linspace(1, len(v), 5) + 1e-10) - 1).astype(np.int64)
        bins = [v[ids[i]: ids[i + 1] + 1] for i in range(4)]
        decay = float(np.nanmean(bins[0]) - np.nanmean(bins[3]))
    return Statistics(mean, recall, decay)


@dataclass(frozen=True)
class ObjectScore:
    """Per-frame J and F of one Object of one sequence, and their DAVIS statistics."""

    sequence: str
    obj: int
    j: np.ndarray = field(compare=False)
    f: np.ndarray = field(compare=False)

    @property
    def key(self) -> str:
        """The DAVIS table key `seq_objid`."""
        return f"{self.sequence}_{self.obj}"

    @property
    def j_stats(self) -> Statistics:
        return db_statistics(self.j)

    @property
    def f_stats(self) -> Statistics:
        return db_statistics(self.f)

    @property
    def jf(self) -> float:
        """(J-mean + F-mean) / 2 for this object."""
        return (self.j_stats.mean + self.f_stats.mean) / 2


def evaluate_frames(gt_ids: np.ndarray, pred_ids: np.ndarray, objects: Iterable[int],
                    bound_th: float = BOUND_TH) -> tuple[np.ndarray, np.ndarray]:
    """J and F of each object on one frame of id maps: two (n_objects,) arrays.

    GT void (255) counts as background, as in the DAVIS semi-supervised evaluation.
    """
    objs = list(objects)
    j = np.empty(len(objs))
    f = np.empty(len(objs))
    for i, obj in enumerate(objs):
        gt, pred = gt_ids == obj, pred_ids == obj
        j[i] = jaccard(gt, pred)
        f[i] = f_measure(gt, pred, bound_th=bound_th)
    return j, f


def evaluate_sequence(name: str, gt_ids: np.ndarray, pred_ids: np.ndarray,
                      objects: Iterable[int] | None = None, *, drop_ends: bool = True,
                      bound_th: float = BOUND_TH) -> list[ObjectScore]:
    """Score (N, H, W) id maps per object; DAVIS semi-supervised drops the first and last frames.

    `objects` defaults to every id present in the GT (except 0 and 255).
    """
    gt_ids, pred_ids = np.asarray(gt_ids), np.asarray(pred_ids)
    if gt_ids.shape != pred_ids.shape:
        raise ValueError(f"id map shapes differ: gt {gt_ids.shape} vs prediction {pred_ids.shape}")
    objs = sorted(int(o) for o in (objects if objects is not None else object_ids(gt_ids)))
    frames = range(1, len(gt_ids) - 1) if drop_ends else range(len(gt_ids))
    j = np.zeros((len(objs), len(frames)))
    f = np.zeros((len(objs), len(frames)))
    for col, t in enumerate(frames):
        j[:, col], f[:, col] = evaluate_frames(gt_ids[t], pred_ids[t], objs, bound_th)
    return [ObjectScore(name, obj, j[i], f[i]) for i, obj in enumerate(objs)]


def object_ids(id_maps: np.ndarray) -> list[int]:
    """Sorted Object ids present in id maps, without background 0 and void 255."""
    return [int(v) for v in np.unique(id_maps) if v not in (0, 255)]


@dataclass(frozen=True)
class Summary:
    """DAVIS global table: object-weighted means of the per-object statistics."""

    j: Statistics
    f: Statistics
    n_objects: int

    @property
    def jf(self) -> float:
        """J&F-Mean = (J-Mean + F-Mean) / 2."""
        return (self.j.mean + self.f.mean) / 2


def summarize(scores: Sequence[ObjectScore]) -> Summary:
    """Average every statistic over all objects of all sequences (not per sequence)."""
    if not scores:
        nan = Statistics(math.nan, math.nan, math.nan)
        return Summary(nan, nan, 0)

    def avg(stats: list[Statistics]) -> Statistics:
        return Statistics(*(float(np.mean([getattr(s, k) for s in stats]))
                            for k in ("mean", "recall", "decay")))

    return Summary(avg([s.j_stats for s in scores]), avg([s.f_stats for s in scores]), len(scores))
