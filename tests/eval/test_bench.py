"""The benchmark harness, driven by deterministic trackers that read the ground truth."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from annotator.backends.protocol import TRACKER, BackendInfo, Tracker
from annotator.core.errors import AnnotatorError
from annotator.core.ports import VideoSource
from annotator.core.types import FrameMasks, MaskProposal, Prompts
from annotator.eval.bench import format_table, merge_masks, parse_protocol, run_bench
from annotator.eval.davis import DavisDataset, read_id_map, write_imageset, write_sequence
from annotator.eval.synthetic import write_dataset

H, W, N, SIDE = 120, 160, 8, 20  # boundary radius 2 px at 120x160


class GroundTruthTracker:
    """Returns the ground truth shifted right by `shift` px for every prompted object.

    It records its calls so the tests can check what the harness asked for.
    """

    info = BackendInfo(id="gt-shift", name="GT shift", roles=frozenset({TRACKER}))

    def __init__(self, root: Path, shift: int = 0, clicks_needed: int = 1) -> None:
        self.root, self.shift, self.clicks_needed = root, shift, clicks_needed
        self.calls: list[tuple] = []
        self.objects: set[int] = set()
        self.gt: np.ndarray | None = None

    def open(self, video: VideoSource) -> None:
        assert isinstance(video, VideoSource)
        self.gt = DavisDataset(self.root)[Path(video.info.path).name].masks()
        assert video.frame(0).shape == (*self.gt.shape[1:], 3)
        self.calls.append(("open", len(video)))

    def _mask(self, frame: int, obj: int) -> np.ndarray:
        assert self.gt is not None
        return np.roll(self.gt[frame] == obj, self.shift, axis=1)

    def add_prompts(self, frame: int, obj: int, prompts: Prompts) -> list[MaskProposal]:
        self.calls.append(("prompts", frame, obj, prompts.points))
        self.objects.add(obj)
        if len(prompts.points) >= self.clicks_needed:
            return [MaskProposal(self._mask(frame, obj), 1.0)]
        first = prompts.points[0]
        blob = np.zeros(self._mask(frame, obj).shape, dtype=bool)
        blob[int(first.y) - 2:int(first.y) + 3, int(first.x) - 2:int(first.x) + 3] = True
        return [MaskProposal(blob, 0.5)]

    def add_mask(self, frame: int, obj: int, mask: np.ndarray) -> None:
        assert self.gt is not None
        assert np.array_equal(mask, self.gt[frame] == obj)
        self.calls.append(("mask", frame, obj))
        self.objects.add(obj)

    def remove_object(self, obj: int) -> None:
        self.objects.discard(obj)

    def propagate(self, start: int, stop: int, *, reverse: bool = False) -> Iterator[FrameMasks]:
        self.calls.append(("propagate", start, stop, reverse))
        for t in range(start, stop + 1):
            yield FrameMasks(t, {o: self._mask(t, o) for o in sorted(self.objects)})

    def reset(self) -> None:
        self.objects.clear()
        self.calls.append(("reset",))

    def close(self) -> None:
        self.calls.append(("close",))


def squares_dataset(root: Path) -> Path:
    """One sequence: object 1 moves right from frame 0; object 2 appears on frame 3."""
    frames = np.full((N, H, W, 3), 90, dtype=np.uint8)
    ids = np.zeros((N, H, W), dtype=np.uint8)
    for t in range(N):
        ids[t, 20:20 + SIDE, 10 + 2 * t:10 + 2 * t + SIDE] = 1
        if t >= 3:
            ids[t, 70:70 + SIDE, 100:100 + SIDE] = 2
    frames[ids > 0] = 200
    write_sequence(root, "squares", frames, ids)
    write_imageset(root, ["squares"])
    return root


def test_tracker_fixture_satisfies_the_protocol(tmp_path: Path) -> None:
    assert isinstance(GroundTruthTracker(tmp_path), Tracker)


def test_parse_protocol() -> None:
    assert parse_protocol("first-frame").clicks == 0
    assert parse_protocol("clicks:3").clicks == 3
    assert parse_protocol("clicks:3").name == "clicks:3"
    for bad in ("clicks:0", "clicks:x", "scribbles"):
        with pytest.raises(AnnotatorError):
            parse_protocol(bad)


def test_first_frame_protocol_with_shifted_masks(tmp_path: Path) -> None:
    root = squares_dataset(tmp_path / "ds")
    tracker = GroundTruthTracker(root, shift=1)
    result = run_bench(root, lambda: tracker, "first-frame", results_dir=tmp_path / "res")
    assert ("mask", 0, 1) in tracker.calls
    assert ("mask", 3, 2) in tracker.calls  # first frame where object 2 appears
    assert ("propagate", 0, N - 1, False) in tracker.calls
    assert tracker.calls[-2:] == [("reset",), ("close",)]

    (seq,) = result.sequences
    one, two = seq.objects
    shifted = (SIDE - 1) / (SIDE + 1)  # a 1 px shift of a square
    # frames 1..N-2 are scored; object 2 is absent (both empty: J=F=1) on frames 1 and 2
    assert one.j.tolist() == pytest.approx([shifted] * (N - 2))
    assert two.j.tolist() == pytest.approx([1, 1] + [shifted] * (N - 4))
    assert one.f.tolist() == [1.0] * (N - 2)  # within tolerance
    total = result.summary
    assert total.j.mean == pytest.approx((shifted + (2 + (N - 4) * shifted) / (N - 2)) / 2)
    assert total.f.mean == 1.0
    assert total.jf == pytest.approx((total.j.mean + 1.0) / 2)
    assert seq.frames_processed == N
    assert seq.fps > 0
    assert seq.peak_rss > 0
    assert result.backend == "gt-shift"

    written = read_id_map(tmp_path / "res" / "squares" / "00004.png")
    expected = merge_masks({o: np.roll(DavisDataset(root)["squares"].read_mask(4) == o, 1, axis=1)
                            for o in (1, 2)}, (H, W))
    assert np.array_equal(written, expected)

    table = format_table(result)
    assert "squares" in table
    assert "overall (1 seq)" in table
    assert f"{total.jf:.3f}" in table


def test_oracle_gives_perfect_scores_on_synthetic_videos(tmp_path: Path) -> None:
    root = tmp_path / "synth"
    write_dataset(root, 2, seed=3, level=2, size=(96, 128), n_frames=10)
    result = run_bench(root, lambda: GroundTruthTracker(root), "first-frame")
    assert len(result.sequences) == 2
    assert result.summary.jf == 1.0
    assert result.summary.j.recall == 1.0
    assert result.summary.j.decay == 0.0


def test_click_protocol_feeds_simulated_clicks(tmp_path: Path) -> None:
    root = squares_dataset(tmp_path / "ds")
    tracker = GroundTruthTracker(root, clicks_needed=2)
    result = run_bench(root, lambda: tracker, "clicks:3")
    prompts = [c for c in tracker.calls if c[0] == "prompts"]
    obj1 = [c for c in prompts if c[2] == 1]
    # click 1 (positive, object centre) -> a small blob; click 2 -> the GT; nothing left to fix
    assert [len(c[3]) for c in obj1] == [1, 2]
    first = obj1[0][3][0]
    assert first.positive
    assert (first.x, first.y) in {(19.0, 29.0), (20.0, 29.0), (19.0, 30.0), (20.0, 30.0)}
    assert obj1[1][3][1].positive
    assert {c[1] for c in prompts if c[2] == 2} == {3}
    assert result.summary.jf == 1.0
    assert result.protocol == "clicks:3"


def test_merge_masks_lowest_id_wins() -> None:
    a = np.zeros((4, 4), dtype=bool)
    a[:2] = True
    b = np.ones((4, 4), dtype=bool)
    ids = merge_masks({2: b, 1: a}, (4, 4))
    assert ids[:2].tolist() == [[1] * 4] * 2
    assert ids[2:].tolist() == [[2] * 4] * 2
    with pytest.raises(AnnotatorError):
        merge_masks({1: np.zeros((3, 3), dtype=bool)}, (4, 4))
