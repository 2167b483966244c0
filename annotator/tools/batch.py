"""Batch Propagation over many Videos: plan what is stale, run one task per Video, resume.

Each Object's Keyframes cut its Video into runs: backward from its first Keyframe to frame 0,
forward from each Keyframe to the next one (or the last frame). Objects sharing a run's
(direction, start, stop) share one Tracker pass. A run is keyed by a fingerprint of the Video,
the backend id and version and its start Keyframes' masks; the store keeps how far each run got
(`batch_runs`), committed in the same transaction as its masks. So a rerun skips finished runs,
a killed batch resumes at the last committed frame, and a correction only redoes the runs that
start at the corrected Keyframe (trackers are causal: frames before a Keyframe do not depend on it).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import random
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from itertools import pairwise

from annotator.backends.protocol import BackendSpec, Tracker
from annotator.core.errors import AnnotatorError, PromptError
from annotator.core.masks import MaskRLE, decode, encode
from annotator.core.project import StoredMask, VideoRecord
from annotator.core.types import Box, FrameIndex, ObjectId, Point, Prompts, Provenance, Source
from annotator.store import MaskWrite, ProjectStore
from annotator.store.repository import BatchRun
from annotator.tools.videos import open_record

Key = tuple[ObjectId, FrameIndex]
Chunk = tuple[BatchRun | None, list[MaskWrite]]
Sink = Callable[[BatchRun | None, list[MaskWrite]], None]


@dataclass(frozen=True)
class Run:
    """One Tracker pass: `objects` keyframed on `start`, carried to `stop`, from `resume`."""

    fingerprint: str
    reverse: bool
    start: FrameIndex
    stop: FrameIndex
    objects: tuple[ObjectId, ...]
    resume: FrameIndex

    @property
    def frames(self) -> int:
        """Frames this pass still has to produce."""
        return abs(self.stop - self.resume)


@dataclass(frozen=True)
class VideoTask:
    """Everything a worker needs for one Video, as plain picklable data (no store handle)."""

    target: str
    video: VideoRecord
    backend: str
    version: str
    keyframes: dict[Key, MaskRLE]
    pending: tuple[tuple[ObjectId, FrameIndex, dict[str, object]], ...]
    progress: dict[str, BatchRun]
    resume_masks: dict[Key, MaskRLE] = field(default_factory=dict)


@dataclass(frozen=True)
class VideoResult:
    """How one Video of a batch went; `error` is the reason when it failed."""

    video_id: int
    name: str
    frames: int = 0
    masks: int = 0
    seconds: float = 0.0
    skipped: bool = False
    error: str | None = None

    @property
    def fps(self) -> float:
        """Frames per second of tracker time."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0


# --- planning ---------------------------------------------------------------------------------


def backend_version(spec: BackendSpec) -> str:
    """The backend's model version (`info.version`, else its module's VERSION) for fingerprints."""
    version = getattr(spec.info, "version", "")
    if version:
        return str(version)
    module = importlib.import_module(spec.target.partition(":")[0])
    return str(getattr(module, "VERSION", ""))


def _fingerprint(task: VideoTask, reverse: bool, start: int, seeds: list[tuple[int, MaskRLE]]
                 ) -> str:
    digest = hashlib.sha256(json.dumps(
        [task.video.content_hash, task.video.frame_count, task.backend, task.version, reverse,
         start, [(o, r.height, r.width) for o, r in seeds]]).encode())
    for _, rle in seeds:
        digest.update(rle.counts)
    return digest.hexdigest()


def plan_runs(task: VideoTask, keyframes: dict[Key, MaskRLE] | None = None) -> list[Run]:
    """The passes the Video still needs (finished ones left out), backward ones first."""
    keyframes = task.keyframes if keyframes is None else keyframes
    last = task.video.frame_count - 1
    by_object: dict[ObjectId, list[FrameIndex]] = defaultdict(list)
    for obj, frame in sorted(keyframes):
        if 0 <= frame <= last:
            by_object[obj].append(frame)
    spans: dict[tuple[bool, int, int], list[ObjectId]] = defaultdict(list)
    for obj, frames in by_object.items():
        if frames[0] > 0:
            spans[(True, frames[0], 0)].append(obj)
        for a, b in pairwise(frames):
            if b > a + 1:
                spans[(False, a, b)].append(obj)
        if frames[-1] < last:
            spans[(False, frames[-1], last)].append(obj)
    runs = []
    for (reverse, start, stop), objects in sorted(spans.items(), key=lambda s: (not s[0][0],
                                                                                  s[0][1:])):
        seeds = [(o, keyframes[(o, start)]) for o in objects]
        fp = _fingerprint(task, reverse, start, seeds)
        done = task.progress.get(fp)
        if done is not None and replace(done, stop=stop).finished:
            continue
        resume = start
        if done is not None and all((o, done.reached) in task.resume_masks for o in objects):
            inside = stop <= done.reached <= start if reverse else start <= done.reached <= stop
            resume = done.reached if inside else start
        runs.append(Run(fp, reverse, start, stop, tuple(objects), resume))
    return runs


def plan_video(store: ProjectStore, target: str, video: VideoRecord, backend: str, version: str
               ) -> VideoTask:
    """Read what one Video's pass depends on: Keyframes, prompts without one, run progress."""
    keyframes: dict[Key, MaskRLE] = {}
    by_frame: dict[Key, MaskRLE] = {}
    for rec in store.masks(video.id, source=Source.MANUAL):
        keyframes[(rec.object_id, rec.frame)] = rec.mask.rle
    latest: dict[Key, dict[str, object]] = {}
    for prompt in store.prompts(video.id):
        latest[(prompt.object_id, prompt.frame)] = prompt.payload
    pending = tuple((o, f, p) for (o, f), p in sorted(latest.items()) if (o, f) not in keyframes)
    progress = {r.fingerprint: r for r in store.batch_runs(video.id)
                if r.backend == backend and r.model_version == version}
    open_frames = sorted({r.reached for r in progress.values() if not r.finished})
    if open_frames:
        for rec in store.masks(video.id, frames=open_frames):
            if rec.mask.provenance.source != Source.MANUAL:
                by_frame[(rec.object_id, rec.frame)] = rec.mask.rle
    return VideoTask(target, video, backend, version, keyframes, pending, progress, by_frame)


def plan(store: ProjectStore, target: str, backend: str, version: str,
         videos: list[str] | None = None) -> tuple[list[VideoTask], list[VideoResult]]:
    """Tasks for the Videos with work left, and results for those skipped (already done)."""
    chosen = store.videos()
    if videos:
        wanted = set(videos)
        chosen = [v for v in chosen if wanted & {v.name, str(v.id), v.path}]
        missing = wanted - {k for v in chosen for k in (v.name, str(v.id), v.path)}
        if missing:
            raise PromptError(f"no video named {', '.join(sorted(missing))} in {target}: "
                              f"choose from {', '.join(v.name for v in store.videos())}")
    tasks, skipped = [], []
    for video in chosen:
        task = plan_video(store, target, video, backend, version)
        if not task.keyframes and not task.pending:
            if videos:
                skipped.append(VideoResult(video.id, video.name, skipped=True,
                                           error="no keyframes or prompts"))
            continue
        if task.pending or plan_runs(task):
            tasks.append(task)
        else:
            skipped.append(VideoResult(video.id, video.name, skipped=True))
    return tasks, skipped


# --- the per-video task -----------------------------------------------------------------------


def _prompts(payload: dict[str, object]) -> Prompts:
    points = tuple(Point(**p) for p in payload.get("points") or [])  # type: ignore[arg-type, union-attr]
    box = payload.get("box")
    return Prompts(points=points, box=Box(**box) if isinstance(box, dict) else None,
                   text=payload.get("text"))  # type: ignore[arg-type]


def _reproducible() -> None:
    """Seed the RNGs a backend may use (GrabCut's k-means uses OpenCV's), so every worker and
    order of tasks gives the same masks."""
    random.seed(0)
    seeders = (("numpy", lambda m: m.random.seed(0)), ("cv2", lambda m: m.setRNGSeed(0)),
               ("torch", lambda m: m.manual_seed(0)))
    for name, seed in seeders:
        if name in sys.modules:
            seed(sys.modules[name])


def _materialise(task: VideoTask, tracker: Tracker, sink: Sink) -> dict[Key, MaskRLE]:
    """Turn prompts that have no Keyframe yet into Keyframes (manual masks, as `track` does)."""
    keyframes = dict(task.keyframes)
    for obj, frame, payload in task.pending:
        tracker.reset()
        _reproducible()
        best = tracker.add_prompts(frame, obj, _prompts(payload))[0]
        rle = encode(best.mask)
        keyframes[(obj, frame)] = rle
        stored = StoredMask(rle, Provenance(Source.MANUAL, task.backend, task.version, best.score))
        sink(None, [(task.video.id, obj, frame, stored)])
    tracker.reset()
    return keyframes


def _pass(task: VideoTask, tracker: Tracker, run: Run, keyframes: dict[Key, MaskRLE],
          sink: Sink, tick: Callable[[], None]) -> tuple[int, int]:
    """One Tracker pass; commits frame by frame. Returns (frames, masks)."""
    tracker.reset()
    seeds = keyframes if run.resume == run.start else task.resume_masks
    for obj in run.objects:
        tracker.add_mask(run.resume, obj, decode(seeds[(obj, run.resume)]))
    _reproducible()
    mark = BatchRun(task.video.id, run.fingerprint, task.backend, task.version, run.reverse,
                    run.start, run.stop, run.resume)
    frames = masks = 0
    for result in tracker.propagate(run.resume, run.stop, reverse=run.reverse):
        if result.frame == run.resume:
            continue
        writes: list[MaskWrite] = [
            (task.video.id, obj, result.frame, StoredMask(encode(mask), Provenance(
                Source.PROPAGATED, task.backend, task.version, result.scores.get(obj))))
            for obj, mask in result.masks.items() if (obj, result.frame) not in keyframes]
        sink(replace(mark, reached=result.frame), writes)
        frames, masks = frames + 1, masks + len(writes)
        tick()
    if frames == 0:
        sink(replace(mark, reached=run.stop), [])
    return frames, masks


def run_task(task: VideoTask, tracker: Tracker, sink: Sink,
             tick: Callable[[], None] = lambda: None) -> VideoResult:
    """Propagate one Video; a failure is reported in the result, never raised."""
    began = time.perf_counter()
    frames = masks = 0
    source = None
    try:
        source = open_record(task.video)
        tracker.open(source)
        keyframes = _materialise(task, tracker, sink) if task.pending else task.keyframes
        for run in plan_runs(task, keyframes):
            f, m = _pass(task, tracker, run, keyframes, sink, tick)
            frames, masks = frames + f, masks + m
        error = None
    except AnnotatorError as exc:
        error = str(exc)
    except Exception as exc:  # noqa: BLE001 - a bad video must never end the batch
        error = f"{type(exc).__name__}: {exc}"
    finally:
        tracker.close()
        if source is not None:
            source.close()
    return VideoResult(task.video.id, task.video.name, frames, masks,
                       time.perf_counter() - began, error=error)


def store_sink(store: ProjectStore) -> Sink:
    """Commit each chunk at once (workers that can reach the store)."""
    def sink(run: BatchRun | None, writes: list[MaskWrite]) -> None:
        if run is None:
            store.write_masks(writes)
        else:
            store.commit_run(run, writes)
    return sink


def collect_sink(chunks: list[Chunk]) -> Sink:
    """Keep chunks to send back (workers that cannot reach the store), merged per run."""
    def sink(run: BatchRun | None, writes: list[MaskWrite]) -> None:
        last = chunks[-1][0] if chunks else None
        if run is not None and last is not None and last.fingerprint == run.fingerprint:
            chunks[-1][1].extend(writes)
            chunks[-1] = (run, chunks[-1][1])
        else:
            chunks.append((run, list(writes)))
    return sink


def apply_chunks(store: ProjectStore, chunks: list[Chunk]) -> None:
    """Commit chunks sent back by a worker, one transaction per run."""
    sink = store_sink(store)
    for run, writes in chunks:
        sink(run, writes)
