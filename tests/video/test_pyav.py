"""Frame-exact PyAV reader: random access equals a plain full decode, for every frame."""

from __future__ import annotations

import logging
from pathlib import Path

import av
import numpy as np
import pytest

from annotator.core.errors import VideoError
from annotator.core.ports import VideoSource
from annotator.video import ImageFolderVideo, PyAVVideo, open_video, write_video

H, W, N = 48, 64, 60


def coded_frame(i: int) -> np.ndarray:
    """A frame whose top row of 8 black/white blocks spells i in binary (survives lossy coding)."""
    rgb = np.full((H, W, 3), 60, np.uint8)
    for bit in range(8):
        if i >> bit & 1:
            rgb[:16, bit * 8:(bit + 1) * 8] = 255
    rgb[24:, :, 1] = (i * 37) % 256  # moving content so P/B frames carry real residuals
    rgb[24:, (i * 3) % W, :] = 255
    return rgb


def read_code(rgb: np.ndarray) -> int:
    return sum(1 << bit for bit in range(8) if rgb[4:12, bit * 8 + 2:bit * 8 + 6].mean() > 160)


def reference_decode(path: Path, keep: set[int] | None = None) -> tuple[int, dict[int, np.ndarray]]:
    """Plain PyAV decode (packet by packet, skipping packets that fail): count and frames."""
    frames: dict[int, np.ndarray] = {}
    count = 0
    with av.open(str(path)) as container:
        for packet in container.demux(video=0):
            try:
                decoded = packet.decode()
            except av.FFmpegError:
                continue
            for frame in decoded:
                if keep is None or count in keep:
                    frames[count] = frame.to_ndarray(format="rgb24")
                count += 1
    return count, frames


def assert_frame_exact(path: Path, expected_count: int | None = None) -> PyAVVideo:
    count, ref = reference_decode(path)
    video = PyAVVideo(path)
    assert len(video) == count == video.info.frame_count
    if expected_count is not None:
        assert count == expected_count
    order = np.random.default_rng(0).permutation(count)
    for i in order:
        assert np.array_equal(video.frame(int(i)), ref[int(i)]), f"frame {i} differs"
    sequential = list(video.frames())
    assert len(sequential) == count
    assert all(np.array_equal(a, ref[i]) for i, a in enumerate(sequential))
    return video


@pytest.fixture(scope="module")
def mp4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("video") / "coded.mp4"
    write_video(path, (coded_frame(i) for i in range(N)), 25, gop=12, bframes=2)
    return path


@pytest.mark.parametrize(("suffix", "codec"), [
    (".mp4", "libx264"), (".mov", "libx264"), (".mkv", "libx264"), (".avi", "mpeg4"),
    (".webm", "libvpx-vp9"), (".mkv", "mpeg4"),
])
def test_random_access_equals_full_decode(tmp_path: Path, suffix: str, codec: str) -> None:
    if codec not in av.codecs_available:
        pytest.skip(f"{codec} is not in this PyAV build")
    path = tmp_path / f"coded{suffix}"
    write_video(path, (coded_frame(i) for i in range(N)), 25, codec=codec, gop=12, bframes=2)
    video = assert_frame_exact(path, expected_count=N)
    assert [read_code(video.frame(i)) for i in range(N)] == list(range(N))
    assert (video.info.width, video.info.height, video.info.fps) == (W, H, 25.0)
    assert video.index.key_pts.size >= N // 12
    video.close()


def test_avi_with_reordered_timestamps_is_indexed_by_decode(tmp_path: Path) -> None:
    """AVI stores no presentation times: with B-frames the decoder emits pts out of order."""
    path = tmp_path / "bframes.avi"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25, options={"g": "12", "bf": "2"})
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(30):
            rgb = np.zeros((48, 64, 3), np.uint8)
            rgb[:8, :8] = 255
            rgb[..., 1] = i * 8
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode(None))
    with av.open(str(path)) as container:
        decoded_pts = [f.pts for f in container.decode(video=0)]
    if decoded_pts == sorted(decoded_pts):
        pytest.skip("this x264 build emitted no reordered frames")
    video = assert_frame_exact(path, expected_count=30)
    assert video.index.from_decode


def test_sequential_reads_continue_without_seeking(
        mp4: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    video = PyAVVideo(mp4)
    seeks: list[int] = []
    original = video._seek
    monkeypatch.setattr(video, "_seek", lambda ts: (seeks.append(ts), original(ts)))
    for i in range(N):
        assert read_code(video.frame(i)) == i
    assert len(seeks) == 1  # the first read positions the decoder; then it only decodes
    video.frame(5)  # going back needs a seek
    assert len(seeks) == 2
    video.frame(7)  # forward in the same GOP continues decoding
    assert len(seeks) == 2


def test_full_index_equals_fast_index(mp4: Path) -> None:
    fast, full = PyAVVideo(mp4), PyAVVideo(mp4, full_index=True)
    assert not fast.index.from_decode
    assert full.index.from_decode
    assert np.array_equal(fast.index.pts, full.index.pts)
    assert np.array_equal(fast.index.key_pts, full.index.key_pts)


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotation_metadata_gives_upright_frames(tmp_path: Path, rotation: int) -> None:
    raw = [coded_frame(i) for i in range(6)]
    plain, turned = tmp_path / "plain.mp4", tmp_path / f"rot{rotation}.mp4"
    write_video(plain, raw, 25)
    write_video(turned, raw, 25, rotation=rotation)
    with PyAVVideo(plain) as upright, PyAVVideo(turned) as video:
        assert video.info.rotation == rotation
        expected_size = (H, W) if rotation % 180 else (W, H)
        assert (video.info.width, video.info.height) == expected_size
        for i in (0, 5, 2):
            frame = video.frame(i)
            assert frame.flags.c_contiguous
            assert (frame.shape[1], frame.shape[0]) == expected_size
            # clockwise display rotation == np.rot90 with negative quarter turns
            assert np.array_equal(frame, np.rot90(upright.frame(i), -rotation // 90))


def test_frames_are_rgb_uint8(tmp_path: Path) -> None:
    red = np.zeros((32, 32, 3), np.uint8)
    red[..., 0] = 250
    path = tmp_path / "red.mp4"
    write_video(path, [red] * 3, 10, crf=10)
    frame = PyAVVideo(path).frame(1)
    assert frame.dtype == np.uint8
    assert frame.shape == (32, 32, 3)
    assert frame[..., 0].mean() > 200
    assert frame[..., 1:].mean() < 40


def test_truncated_file_opens_with_the_frames_that_decode(
        mp4: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    long = tmp_path / "long.mp4"
    write_video(long, (coded_frame(i % 256) for i in range(150)), 25, gop=24, bframes=2)
    cut = tmp_path / "cut.mp4"
    data = long.read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.6)])
    with caplog.at_level(logging.WARNING, logger="annotator.video.pyav"):
        video = assert_frame_exact(cut)
    assert 0 < len(video) < 150
    assert video.truncated_at == len(video)
    assert "damaged or cut" in caplog.text
    assert [read_code(video.frame(i)) for i in range(0, len(video) - 2)] == \
        list(range(len(video) - 2))  # the last frames may be concealed, earlier ones exact
    assert PyAVVideo(mp4).truncated_at is None


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="not found"):
        PyAVVideo(tmp_path / "nope.mp4")
    with pytest.raises(VideoError, match="not found"):
        open_video(tmp_path / "nope.mp4")


def test_text_file_named_mp4(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video\n" * 20)
    with pytest.raises(VideoError, match=r"cannot read .* as a video"):
        PyAVVideo(path)


def test_file_without_video_stream(tmp_path: Path) -> None:
    path = tmp_path / "tone.wav"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=8000, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16",
                                           layout="mono")
        frame.sample_rate = 8000
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    with pytest.raises(VideoError, match="no video stream"):
        PyAVVideo(path)


def test_out_of_range_and_negative_index(mp4: Path) -> None:
    with PyAVVideo(mp4) as video:
        with pytest.raises(IndexError, match="out of range"):
            video.frame(N)
        assert read_code(video.frame(-1)) == N - 1
        assert [read_code(f) for f in video.frames(55, 99)] == list(range(55, N))


def test_open_video_chooses_the_reader(mp4: Path, tmp_path: Path) -> None:
    video = open_video(mp4)
    assert isinstance(video, PyAVVideo)
    assert isinstance(video, VideoSource)
    video.close()
    (tmp_path / "imgs").mkdir()
    import cv2
    cv2.imwrite(str(tmp_path / "imgs" / "0.png"), coded_frame(0))
    assert isinstance(open_video(tmp_path / "imgs"), ImageFolderVideo)


def test_real_clip_random_access(videos_dir: Path) -> None:
    path = videos_dir / "bedroom.mp4"
    picks = {0, 57, 120, 199}
    count, ref = reference_decode(path, keep=picks)
    with PyAVVideo(path) as video:
        assert (len(video), video.info.width, video.info.height) == (200, 960, 540)
        assert count == 200
        for i in (120, 57, 199, 0):
            assert np.array_equal(video.frame(i), ref[i]), f"frame {i} differs"
