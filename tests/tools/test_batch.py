"""Batch Propagation: the plan, skipping finished work, resuming, corrections, bad videos."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from annotator.core.masks import decode, encode, mask_iou
from annotator.core.project import StoredMask
from annotator.core.types import Provenance, Source
from annotator.export import FORMATS
from annotator.store import ProjectStore, open_project
from annotator.tools.batch import (
    VideoResult,
    VideoTask,
    plan,
    plan_runs,
    run_task,
    store_sink,
)
from annotator.tools.batch_engines import propagate_batch
from annotator.tools.videos import add_video
from tests.factories import square_video

SIZES = [(96, 64), (80, 64), (112, 72), (96, 80), (64, 48)]


def make_project(target: str | Path, folder: Path, count: int = 5, frames: int = 14,
                 bad: bool = False) -> dict[str, list[np.ndarray]]:
    """`count` synthetic videos with a keyframe each (two on the first; the last one only a
    prompt), plus a broken video when `bad`. Returns the true masks by video name."""
    truth = {}
    with open_project(target) as store:
        for k in range(count):
            w, h = SIZES[k % 5]
            w = max(w, 2 * ((3 * frames + 35) // 2))  # even, and the square stays in view
            path, masks = square_video(folder, count=frames - k, size=(w, h), name=f"sq{k}.mp4")
            video, source = add_video(store, path)
            source.close()
            obj = store.add_object(video.id, "square")
            truth[video.name] = masks
            if k == count - 1 and k > 0:
                ys, xs = np.nonzero(masks[2])
                box = [float(xs.min()) - 2, float(ys.min()) - 2, float(xs.max()) + 3,
                       float(ys.max()) + 3]
                store.add_prompt(video.id, obj.id, 2, "prompts",
                                 {"points": [], "box": dict(zip(["x0", "y0", "x1", "y1"], box,
                                                                strict=True)), "text": None})
                continue
            keys = (3 + k, frames - k - 4) if k == 0 else (3 + k,)
            for f in keys:
                store.put_mask(video.id, obj.id, f,
                               StoredMask(encode(masks[f]), Provenance(Source.MANUAL)))
        if bad:
            path, _ = square_video(folder, count=8, name="broken.mp4")
            video, source = add_video(store, path)
            source.close()
            store.put_mask(video.id, store.add_object(video.id).id, 0,
                           StoredMask(encode(np.ones((64, 96), bool)), Provenance(Source.MANUAL)))
            path.write_bytes(b"not a video any more")
    return truth


def add_real_clips(target: str | Path, videos_dir: Path) -> list[str]:
    """Add two real clips, each with a box prompt mid-clip made into a keyframe (as the app's
    first click would); the batch does the propagation. Returns their names."""
    from annotator.backends import get_spec
    from annotator.core.types import Box, Prompts
    from annotator.tools.track import track

    tracker = get_spec("classical").create()
    names = []
    with open_project(target) as store:
        for name in ("bedroom.mp4", "02_hummingbird.mp4"):
            video, source = add_video(store, videos_dir / name)
            w, h, mid = video.width, video.height, video.frame_count // 2
            job = track(store, tracker, video, source, mid,
                        Prompts(box=Box(w * 0.4, h * 0.4, w * 0.6, h * 0.6)),
                        store.add_object(video.id, "thing"), backend="classical")
            next(job)  # the keyframe only
            job.close()
            source.close()
            names.append(video.name)
    return names


def drain(target: str | Path, **options: object) -> list[VideoResult]:
    """Run a batch to the end; the finished Videos' results."""
    return [s.result for s in propagate_batch(target, **options) if s.result is not None]  # type: ignore[arg-type]


def export_doc(store: ProjectStore, out: Path) -> dict[str, object]:
    """The project's COCO export as a dict (frames not written)."""
    for _ in FORMATS["coco"].write(store, out):
        pass
    return json.loads((out / "annotations.json").read_text())


def created(store: ProjectStore) -> dict[tuple[int, int], float]:
    """When each mask was written, to tell rewritten masks from kept ones."""
    return {(r.object_id, r.frame): r.mask.provenance.created
            for v in store.videos() for r in store.masks(v.id)}


def test_plan_cuts_runs_at_keyframes_and_groups_objects() -> None:
    from annotator.core.project import VideoRecord

    video = VideoRecord(1, "/x.mp4", "x", "h", 30, 25.0, 8, 8)
    rle = encode(np.eye(8, dtype=bool))
    keys = {(1, 5): rle, (1, 12): rle, (2, 5): rle, (3, 0): rle, (3, 29): rle}
    task = VideoTask("sqlite:///p", video, "classical", "1", keys, (), {})
    runs = {(r.reverse, r.start, r.stop): r.objects for r in plan_runs(task)}
    assert runs == {(True, 5, 0): (1, 2), (False, 5, 12): (1,), (False, 12, 29): (1,),
                    (False, 5, 29): (2,), (False, 0, 29): (3,)}
    assert plan_runs(task)[0].reverse  # backward runs first


def test_batch_fills_every_frame_then_skips_finished_videos(tmp_path: Path) -> None:
    project = tmp_path / "p.annotator"
    truth = make_project(project, tmp_path, count=3)
    results = drain(project, engine="inline")
    assert [r.error for r in results] == [None] * 3
    with open_project(project) as store:
        for video in store.videos():
            records = store.masks(video.id)
            assert [r.frame for r in records] == list(range(video.frame_count))
            ious = [mask_iou(decode(r.mask.rle), truth[video.name][r.frame]) for r in records]
            assert min(ious) > 0.7, (video.name, ious)
        before = created(store)
    again = drain(project, engine="inline")
    assert all(r.skipped and r.frames == 0 for r in again) and len(again) == 3
    with open_project(project) as store:
        assert created(store) == before


def test_prompt_without_keyframe_becomes_one(tmp_path: Path) -> None:
    project = tmp_path / "p.annotator"
    truth = make_project(project, tmp_path, count=2)
    drain(project, engine="inline")
    with open_project(project) as store:
        video = store.videos()[1]
        keyframe = store.masks(video.id, frame=2)[0]
        assert keyframe.mask.provenance.source == Source.MANUAL
        assert mask_iou(decode(keyframe.mask.rle), truth[video.name][2]) > 0.8
        assert store.count_masks(video.id) == video.frame_count


def test_correction_reruns_only_the_affected_range(tmp_path: Path) -> None:
    project = tmp_path / "p.annotator"
    truth = make_project(project, tmp_path, count=2)
    drain(project, engine="inline")
    with open_project(project) as store:
        video = store.videos()[1]  # keyframe on 4; correct frame 8
        obj = store.objects(video.id)[0]
        before = created(store)
        store.put_mask(video.id, obj.id, 8, StoredMask(encode(truth[video.name][8]),
                                                       Provenance(Source.MANUAL)))
    results = drain(project, engine="inline")
    by_name = {r.name: r for r in results}
    assert by_name["sq0"].skipped
    assert by_name["sq1"].frames == video.frame_count - 1 - 8
    with open_project(project) as store:
        after = created(store)
    changed = sorted(f for (o, f), t in after.items() if before.get((o, f)) != t)
    assert changed == list(range(8, video.frame_count))  # 8 is the new keyframe itself


def test_interrupted_run_resumes_at_the_last_committed_frame(tmp_path: Path) -> None:
    from annotator.backends import get_spec

    project = tmp_path / "p.annotator"
    make_project(project, tmp_path, count=1, frames=24)
    tracker = get_spec("classical").create()
    with open_project(project) as store:
        (task,), _ = plan(store, str(project), "classical", "1")
        sink, commits = store_sink(store), []

        def stop_after_five(run, writes):  # type: ignore[no-untyped-def]
            sink(run, writes)
            commits.append(run)
            if len(commits) == 5:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            run_task(task, tracker, stop_after_five)  # type: ignore[arg-type]
        reached = commits[-1]
        (task,), _ = plan(store, str(project), "classical", "1")
        resumed = [r for r in plan_runs(task) if r.fingerprint == reached.fingerprint]
        assert resumed[0].resume == reached.reached != reached.start
        result = run_task(task, tracker, store_sink(store))
        # 24 frames, keyframes 3 and 20: runs 3->0, 3->20, 20->23 pass 23 frames, write 22 masks
        assert result.error is None and (result.frames, result.masks) == (23 - 5, 22 - 5)
        assert store.count_masks() == task.video.frame_count
        assert plan(store, str(project), "classical", "1")[0] == []


def test_local_workers_match_inline_and_a_bad_video_is_skipped(tmp_path: Path) -> None:
    inline, local = tmp_path / "a.annotator", tmp_path / "b.annotator"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    make_project(inline, tmp_path / "a", count=5, bad=True)
    make_project(local, tmp_path / "b", count=5, bad=True)
    drain(inline, engine="inline")
    results = drain(local, engine="local", workers=2)
    failed = [r for r in results if r.error]
    assert [r.name for r in failed] == ["broken"]
    assert "broken" in failed[0].error or "video" in failed[0].error.lower()
    assert sum(1 for r in results if not r.error) == 5
    with open_project(inline) as a, open_project(local) as b:
        assert export_doc(a, tmp_path / "xa") == export_doc(b, tmp_path / "xb")
