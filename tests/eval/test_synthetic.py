"""Synthetic videos: reproducible, exact ground truth, DAVIS round trip."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from annotator.eval.davis import DavisDataset, write_sequence
from annotator.eval.synthetic import generate, make_scene, write_dataset

SIZE = (72, 96)


def test_same_seed_same_video_other_seed_differs() -> None:
    a = generate(3, 2, size=SIZE, n_frames=8)
    b = generate(3, 2, size=SIZE, n_frames=8)
    c = generate(4, 2, size=SIZE, n_frames=8)
    assert np.array_equal(a.frames, b.frames)
    assert np.array_equal(a.masks, b.masks)
    assert not np.array_equal(a.frames, c.frames)
    assert a.frames.shape == (8, *SIZE, 3)
    assert a.masks.shape == (8, *SIZE)
    assert a.frames.dtype == np.uint8
    assert a.masks.dtype == np.uint8


@pytest.mark.parametrize("level", [1, 2, 3])
def test_masks_are_exactly_the_drawn_objects(level: int) -> None:
    scene = make_scene(11, level, size=SIZE, n_frames=10)
    scene.noise = 0.0  # so frame pixels can be compared exactly with their sources
    for t in range(0, 10, 3):
        frame, ids = scene.render(t)
        expected = np.zeros(SIZE, dtype=np.uint8)
        for o in sorted(scene.objects, key=lambda o: o.z):  # back to front
            full = o.mask(t, SIZE)
            expected[full] = o.obj
            visible = ids == o.obj
            assert np.array_equal(frame[visible], o.layer(t, SIZE)[visible])
            # the silhouette is the transformed polygon: same area up to its perimeter
            a = o.affine(t)
            pts = (o.vertices @ a[:, :2].T + a[:, 2]).astype(np.float32)
            area = cv2.contourArea(pts)
            inside = area > 0 and pts.min() > 0 and (pts.max(0) < [SIZE[1] - 1, SIZE[0] - 1]).all()
            if inside:
                perimeter = cv2.arcLength(pts, closed=True)
                assert abs(int(full.sum()) - area) <= perimeter
        assert np.array_equal(ids, expected)
        bg = ids == 0
        assert np.array_equal(frame[bg], scene.background(t)[bg])


def test_level_two_objects_leave_and_enter() -> None:
    left = entered = 0
    for seed in range(6):
        v = generate(seed, 2, size=SIZE, n_frames=20)
        first, last = set(np.unique(v.masks[0])), set(np.unique(v.masks[-1]))
        left += bool(first - last)
        entered += any(o not in first for o in np.unique(v.masks) if o)
    assert left >= 4
    assert entered >= 1


def test_objects_move() -> None:
    v = generate(5, 1, size=SIZE, n_frames=10)
    assert not np.array_equal(v.masks[0], v.masks[-1])
    assert set(np.unique(v.masks[0])) - {0}


def test_davis_round_trip(tmp_path: Path) -> None:
    names = write_dataset(tmp_path, 2, seed=7, level=2, size=SIZE, n_frames=6)
    ds = DavisDataset(tmp_path)  # reads ImageSets/2017/val.txt
    assert ds.names == names
    for k, name in enumerate(names):
        ref = generate(7 + k, 2, size=SIZE, n_frames=6)
        seq = ds[name]
        assert len(seq) == 6
        assert np.array_equal(seq.masks(), ref.masks)
        frames = np.stack([seq.read_frame(i) for i in range(6)])
        assert np.abs(frames.astype(int) - ref.frames).mean() < 4  # JPEG
    png = tmp_path / "Annotations" / "480p" / names[0] / "00000.png"
    with Image.open(png) as img:
        assert img.mode == "P"
        assert img.getpalette()[3:6] == [128, 0, 0]


def test_flat_layout_without_imagesets(tmp_path: Path) -> None:
    v = generate(1, 1, size=SIZE, n_frames=4)
    write_sequence(tmp_path, "only", v.frames, v.masks, resolution="")
    assert (tmp_path / "JPEGImages" / "only" / "00000.jpg").is_file()
    ds = DavisDataset(tmp_path)
    assert ds.names == ["only"]
    assert np.array_equal(ds["only"].masks(), v.masks)


def test_real_background_video(videos_dir: Path) -> None:
    video = pytest.importorskip("annotator.video")
    if not hasattr(video, "open_video"):
        pytest.skip("annotator.video.open_video is not there yet")
    clips = sorted(p for p in videos_dir.iterdir() if p.suffix.lower() in (".mp4", ".mov", ".mkv"))
    if not clips:
        pytest.skip("no video clip in ../shared/videos")
    v = generate(2, 1, size=SIZE, n_frames=3, background=clips[0])
    assert v.frames.shape == (3, *SIZE, 3)
    assert set(np.unique(v.masks[0])) - {0}
