"""Benchmark a Tracker on a DAVIS-format dataset: J, F, J&F, frames per second and peak memory.

Protocols (semi-supervised, as SAM 2 evaluates VOS):

- ``first-frame``: each Object gets its ground-truth Mask on the first Frame where it appears
  (`Tracker.add_mask`), then one forward Propagation from the earliest such Frame.
- ``clicks:N``: instead of the Mask, N simulated clicks on that Frame (`Tracker.add_prompts`), each
  next click placed by `ClickSimulator` against the tracker's current best Proposal (SAM 2's
  `num_frames_to_correct_for_eval = 1`: 1 initial click + N-1 corrections).

Predictions are merged into one id map per Frame (on overlap the lowest ObjectId wins, as SAM 2's
`vos_inference` writes PNGs) and scored with the DAVIS 2017 semi-supervised rules (first and last
Frames dropped, object-weighted means).

One Tracker serves all sequences: `open` per sequence, `reset` after it, `close` at the end. Frames
reach it through a small private image-folder VideoSource (`_FolderVideo`), so this module does
not depend on `annotator.video`.
"""

from __future__ import annotations

import math
import resource
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import psutil

from annotator.backends.protocol import Tracker
from annotator.core.errors import AnnotatorError
from annotator.core.ports import VideoInfo
from annotator.core.types import FrameIndex, Point, Prompts
from annotator.eval.clicks import ClickSimulator
from annotator.eval.davis import DavisDataset, DavisSequence, write_results
from annotator.eval.metrics import ObjectScore, Summary, evaluate_sequence, object_ids, summarize

FIRST_FRAME = "first-frame"


@dataclass(frozen=True)
class Protocol:
    """How Objects are prompted: the GT mask, or `clicks` simulated clicks."""

    clicks: int = 0

    @property
    def name(self) -> str:
        return f"clicks:{self.clicks}" if self.clicks else FIRST_FRAME


def parse_protocol(text: str) -> Protocol:
    """Parse "first-frame" or "clicks:N" (N >= 1)."""
    if text == FIRST_FRAME:
        return Protocol()
    kind, _, count = text.partition(":")
    if kind == "clicks" and count.isdigit() and int(count) >= 1:
        return Protocol(int(count))
    raise AnnotatorError(f"unknown protocol '{text}': use 'first-frame' or 'clicks:N' with N >= 1")


class _FolderVideo:
    """A minimal VideoSource over a sequence's image files, decoded on demand (no cache)."""

    def __init__(self, seq: DavisSequence, fps: float = 24.0) -> None:
        self._paths = seq.frame_paths
        first = self.frame(0)
        self._info = VideoInfo(str(seq.folder), first.shape[1], first.shape[0], len(seq), fps)

    @property
    def info(self) -> VideoInfo:
        return self._info

    def __len__(self) -> int:
        return len(self._paths)

    def frame(self, index: FrameIndex) -> np.ndarray:
        if not 0 <= index < len(self._paths):
            raise IndexError(f"frame {index} out of range 0..{len(self._paths) - 1}")
        bgr = cv2.imread(str(self._paths[index]), cv2.IMREAD_COLOR)
        if bgr is None:
            raise AnnotatorError(f"cannot read frame image {self._paths[index]}")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def frames(self, start: FrameIndex = 0, stop: FrameIndex | None = None
               ) -> Iterator[np.ndarray]:
        for i in range(start, len(self) if stop is None else min(stop, len(self))):
            yield self.frame(i)

    def close(self) -> None:
        """Nothing is held open."""


class _PeakRss:
    """Samples this process's RSS in a background thread (every `interval` s) and on demand."""

    def __init__(self, interval: float = 0.01) -> None:
        self._proc = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.peak = 0

    def sample(self) -> None:
        self.peak = max(self.peak, self._proc.memory_info().rss)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.sample()

    def __enter__(self) -> _PeakRss:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


@dataclass(frozen=True)
class SequenceResult:
    """Scores and costs of one sequence."""

    name: str
    n_frames: int
    objects: tuple[ObjectScore, ...]
    frames_processed: int
    prompt_seconds: float
    propagate_seconds: float
    peak_rss: int

    @property
    def summary(self) -> Summary:
        return summarize(self.objects)

    @property
    def fps(self) -> float:
        """Propagated frames per second (prompting excluded)."""
        if self.propagate_seconds <= 0:
            return math.nan
        return self.frames_processed / self.propagate_seconds


@dataclass(frozen=True)
class BenchResult:
    """All sequences of one run, and the DAVIS global table over all their objects."""

    protocol: str
    backend: str
    sequences: tuple[SequenceResult, ...]
    process_peak_rss: int

    @property
    def summary(self) -> Summary:
        return summarize([o for s in self.sequences for o in s.objects])

    @property
    def fps(self) -> float:
        seconds = sum(s.propagate_seconds for s in self.sequences)
        frames = sum(s.frames_processed for s in self.sequences)
        return frames / seconds if seconds > 0 else math.nan


def _first_frames(gt: np.ndarray, objs: list[int]) -> dict[int, int]:
    """The first Frame on which each Object appears."""
    present = np.stack([(gt == o).reshape(len(gt), -1).any(axis=1) for o in objs])
    return {o: int(np.argmax(present[i])) for i, o in enumerate(objs)}


def merge_masks(masks: dict[int, np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """One uint8 id map from per-object boolean masks; on overlap the lowest id wins."""
    ids = np.zeros(shape, dtype=np.uint8)
    for obj in sorted(masks, reverse=True):
        m = np.asarray(masks[obj], dtype=bool)
        if m.shape != shape:
            raise AnnotatorError(f"tracker returned a {m.shape} mask for a {shape} video")
        ids[m] = obj
    return ids


def _prompt(tracker: Tracker, protocol: Protocol, frame: int, obj: int, gt_ids: np.ndarray
            ) -> list[Point]:
    """Prompt one Object on one Frame; returns the clicks used (none for the mask protocol)."""
    gt = gt_ids == obj
    if not protocol.clicks:
        tracker.add_mask(frame, obj, gt)
        return []
    sim = ClickSimulator(gt, ignore=gt_ids == 255)
    pred: np.ndarray | None = None
    for _ in range(protocol.clicks):
        if sim.next_click(pred) is None:
            break
        proposals = tracker.add_prompts(frame, obj, Prompts(points=tuple(sim.clicks)))
        pred = np.asarray(proposals[0].mask, dtype=bool) if proposals else None
    return list(sim.clicks)


def run_sequence(tracker: Tracker, seq: DavisSequence, protocol: Protocol,
                 results_dir: Path | None = None) -> SequenceResult:
    """Prompt every Object of one sequence, propagate forward, score and time it."""
    gt = seq.masks()
    n, shape = len(gt), gt.shape[1:]
    objs = object_ids(gt)
    pred = np.zeros_like(gt)
    frames_done = 0
    video = _FolderVideo(seq)
    with _PeakRss() as rss:
        tracker.open(video)
        try:
            t0 = time.perf_counter()
            first = _first_frames(gt, objs) if objs else {}
            for obj, frame in first.items():
                _prompt(tracker, protocol, frame, obj, gt[frame])
            t1 = time.perf_counter()
            if first:
                for fm in tracker.propagate(min(first.values()), n - 1):
                    pred[fm.frame] = merge_masks(fm.masks, shape)
                    frames_done += 1
                    rss.sample()
            t2 = time.perf_counter()
        finally:
            tracker.reset()
            video.close()
    if results_dir is not None:
        write_results(results_dir, seq.name, pred, [p.stem for p in seq.frame_paths])
    scores = evaluate_sequence(seq.name, gt, pred, objs)
    return SequenceResult(seq.name, n, tuple(scores), frames_done, t1 - t0, t2 - t1, rss.peak)


def run_bench(dataset_root: str | Path, make_tracker: Callable[[], Tracker], protocol: str,
              *, split: str = "val", sequences: list[str] | None = None,
              results_dir: str | Path | None = None,
              on_sequence: Callable[[SequenceResult], None] | None = None) -> BenchResult:
    """Run one Tracker over a DAVIS-format dataset under a protocol; see the module docstring.

    `results_dir` also writes the predicted id maps as DAVIS result PNGs; `on_sequence` is called
    after each sequence (progress output).
    """
    proto = parse_protocol(protocol)
    dataset = DavisDataset(dataset_root, split, sequences=sequences)
    out = Path(results_dir) if results_dir is not None else None
    tracker = make_tracker()
    info = getattr(tracker, "info", None)
    results = []
    try:
        for seq in dataset:
            result = run_sequence(tracker, seq, proto, out)
            results.append(result)
            if on_sequence is not None:
                on_sequence(result)
    finally:
        tracker.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    return BenchResult(proto.name, getattr(info, "id", type(tracker).__name__), tuple(results),
                       peak)


def _row(name: str, frames: int, n_obj: int, s: Summary, fps: float, peak: int) -> str:
    return (f"{name:<24.24} {frames:>6} {n_obj:>4} {s.j.mean:>6.3f} {s.f.mean:>6.3f} "
            f"{s.jf:>6.3f} {fps:>7.1f} {peak / 2**20:>8.0f}")


def format_table(result: BenchResult) -> str:
    """A plain-text table: one row per sequence, then the overall (object-weighted) row."""
    head = (f"{'sequence':<24} {'frames':>6} {'obj':>4} {'J':>6} {'F':>6} {'J&F':>6} "
            f"{'fps':>7} {'peak MB':>8}")
    lines = [f"backend {result.backend}, protocol {result.protocol}", head, "-" * len(head)]
    for s in result.sequences:
        lines.append(_row(s.name, s.n_frames, len(s.objects), s.summary, s.fps, s.peak_rss))
    total = result.summary
    lines.append("-" * len(head))
    lines.append(_row(f"overall ({len(result.sequences)} seq)",
                      sum(s.n_frames for s in result.sequences), total.n_objects, total,
                      result.fps, result.process_peak_rss))
    lines.append(f"J recall {total.j.recall:.3f} decay {total.j.decay:.3f} | "
                 f"F recall {total.f.recall:.3f} decay {total.f.decay:.3f}")
    return "\n".join(lines)
