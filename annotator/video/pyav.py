"""Frame-exact video files through PyAV: frame i is the i-th decoded frame, never time x fps.

The stream is indexed once when the file opens: the timestamp of every frame in presentation
order and the timestamps of the key frames. Demuxing packets without decoding is fast, and a
short decode of the first frames checks that the demuxed timestamps predict what the decoder
outputs; where they do not (AVI with B-frames, odd muxers) the index comes from a full decode
instead. Random access seeks to the preceding key frame and decodes forward to the exact
timestamp; reading i+1 after i continues decoding without a seek.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import av
import numpy as np

from annotator.core.errors import VideoError
from annotator.core.ports import VideoInfo
from annotator.core.types import FrameIndex

log = logging.getLogger(__name__)

_HEAD_CHECK = 24
"""Frames decoded at open to check that the demuxed timestamps predict the decoder output."""

_SEEK_COST = 8
"""A seek costs about this many decoded frames (flush, refill the threaded decoder)."""

_SEEK_RETRIES = 3
"""Key frames to step back when a seek lands after its target (inexact container index)."""


class StreamIndex:
    """Ordinal -> timestamp of every decodable frame, plus the key-frame seek points.

    Only integer arrays, so memory stays a few bytes per frame.
    """

    def __init__(self, pts: np.ndarray, key_pts: np.ndarray, *, truncated_at: int | None,
                 from_decode: bool) -> None:
        self.pts = pts
        """int64, pts[i] = timestamp of frame i, in decoder output order."""
        self.key_pts = key_pts
        """int64, sorted timestamps of key-frame packets (where decoding can start)."""
        self.truncated_at = truncated_at
        """Frame count where readable data stops early (damaged or cut file), else None."""
        self.from_decode = from_decode
        """True when built by a full decode (exact by construction)."""
        self._order = np.argsort(pts, kind="stable")
        self._sorted = pts[self._order]

    def ordinal(self, ts: int | None) -> int | None:
        """Frame index of a decoded timestamp, or None when the index does not know it."""
        if ts is None:
            return None
        pos = int(np.searchsorted(self._sorted, ts))
        if pos < len(self._sorted) and self._sorted[pos] == ts:
            return int(self._order[pos])
        return None

    def seek_point(self, index: FrameIndex, back: int = 0) -> int:
        """Timestamp of the key frame to seek to for frame `index` (`back` key frames earlier)."""
        pos = int(np.searchsorted(self.key_pts, self.pts[index], side="right")) - 1 - back
        if pos < 0:
            return int(min(self.key_pts[0], self.pts.min())) if len(self.key_pts) else 0
        return int(self.key_pts[pos])


def _ts(obj: av.Packet | av.VideoFrame) -> int | None:
    """Timestamp used for indexing: pts, or dts where a muxer left pts unset."""
    return obj.pts if obj.pts is not None else obj.dts


def _open(path: Path) -> av.container.InputContainer:
    if not path.exists():
        raise VideoError(f"video not found: {path}; check the path")
    if path.is_dir():
        raise VideoError(f"{path} is a folder; open it as an image folder with open_video()")
    try:
        container = av.open(str(path), mode="r")
    except (av.FFmpegError, UnicodeDecodeError) as exc:
        raise VideoError(
            f"cannot read {path} as a video ({exc.__class__.__name__}); "
            "check that it is a complete video file, or re-encode it with ffmpeg"
        ) from exc
    if not container.streams.video:
        container.close()
        raise VideoError(f"{path} has no video stream; pick a file that contains video")
    return container


def _demux_index(container: av.container.InputContainer, stream: av.VideoStream) -> StreamIndex:
    """Index from packets alone: sort timestamps into presentation order (fast, no decode)."""
    pts: list[int] = []
    keys: list[int] = []
    seen = 0
    damaged = False
    started = False
    try:
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            seen += 1
            ts = _ts(packet)
            if packet.is_corrupt:
                damaged = True
                continue
            if packet.is_discard or ts is None:
                continue
            if packet.is_keyframe:
                started = True
                keys.append(ts)
            if started:  # decoders drop packets before the first key frame
                pts.append(ts)
    except av.FFmpegError as exc:
        log.warning("demuxing stopped early (%s)", exc)
        damaged = True
    declared = stream.frames or 0
    truncated = damaged or (declared > seen)
    return StreamIndex(
        pts=np.sort(np.asarray(pts, dtype=np.int64)),
        key_pts=np.sort(np.asarray(keys, dtype=np.int64)),
        truncated_at=len(pts) if truncated else None,
        from_decode=False,
    )


def _decode_index(container: av.container.InputContainer, stream: av.VideoStream) -> StreamIndex:
    """Index from a full decode (no colour conversion): exact for any container."""
    container.seek(0, stream=stream, backward=True)
    pts: list[int] = []
    keys: list[int] = []
    damaged = False
    for packet in _packets(container, stream):
        if packet.size and packet.is_keyframe and _ts(packet) is not None:
            keys.append(_ts(packet))  # type: ignore[arg-type]
        damaged |= bool(packet.size and packet.is_corrupt)
        try:
            frames = packet.decode()
        except av.FFmpegError:
            damaged = True
            continue
        pts.extend(ts for f in frames if (ts := _ts(f)) is not None)
    return StreamIndex(
        pts=np.asarray(pts, dtype=np.int64),
        key_pts=np.sort(np.asarray(keys, dtype=np.int64)),
        truncated_at=len(pts) if damaged else None,
        from_decode=True,
    )


def _packets(container: av.container.InputContainer, stream: av.VideoStream) -> Iterator[av.Packet]:
    """Demux packets, ending quietly (with a flush packet) where the file is damaged."""
    try:
        yield from container.demux(stream)
    except av.FFmpegError as exc:
        log.warning("demuxing stopped early (%s)", exc)
        yield av.Packet()  # flush the decoder so its buffered frames come out


def _display_turns(frame: av.VideoFrame, stream: av.VideoStream) -> int:
    """Quarter turns counter-clockwise (np.rot90's k) that make frames upright."""
    ccw = frame.rotation
    if not ccw:
        legacy = stream.metadata.get("rotate")  # older muxers: clockwise degrees
        ccw = -int(float(legacy)) if legacy else 0
    return round(ccw / 90) % 4


class PyAVVideo:
    """A video file with frame-exact random and sequential access (implements VideoSource)."""

    def __init__(self, path: str | Path, *, full_index: bool = False) -> None:
        """Open and index `path`; `full_index` decodes every frame to index (slow, exact)."""
        self._path = Path(path)
        self._container = _open(self._path)
        self._stream = self._container.streams.video[0]
        self._lock = threading.Lock()
        self._decoder: Iterator[tuple[int | None, av.VideoFrame]] | None = None
        self._next: int | None = None
        self._skip_below: int | None = None
        self._turns = 0
        try:
            self._index = self._build_index(full_index)
        except BaseException:
            self._container.close()
            raise
        if self._index.truncated_at is not None:
            log.warning("%s is damaged or cut: only %d frames decode",
                        self._path, self._index.truncated_at)
        self._info = self._make_info()

    # ------------------------------------------------------------------ index
    def _build_index(self, full: bool) -> StreamIndex:
        index = _demux_index(self._container, self._stream)
        if index.truncated_at is not None:
            # Frame threading drops frames around damaged packets; slice threading keeps them.
            log.info("%s looks damaged; indexing by a full decode", self._path)
            self._stream.thread_type = "SLICE"
            full = True
        else:
            self._stream.thread_type = "AUTO"
        head = self._decode_head(index)
        if not full and not np.array_equal(head, index.pts[: len(head)]):
            log.info("%s: timestamps do not predict decode order; indexing by decode", self._path)
            full = True
        if full:
            index = _decode_index(self._container, self._stream)
        if len(index.pts) == 0:
            raise VideoError(f"no frame of {self._path} decodes; the file is damaged, re-encode it")
        return index

    def _decode_head(self, index: StreamIndex) -> np.ndarray:
        """Timestamps of the first decoded frames; also reads size and rotation."""
        self._container.seek(0, stream=self._stream, backward=True)
        head: list[int] = []
        self._raw_size: tuple[int, int] | None = None
        for packet in _packets(self._container, self._stream):
            try:
                frames = packet.decode()
            except av.FFmpegError:
                continue
            for frame in frames:
                if self._raw_size is None:
                    self._raw_size = (frame.width, frame.height)
                    self._turns = _display_turns(frame, self._stream)
                if (ts := _ts(frame)) is not None:
                    head.append(ts)
            if len(head) >= min(_HEAD_CHECK, max(len(index.pts), 1)):
                break
        self._decoder, self._next = None, None
        return np.asarray(head[:_HEAD_CHECK], dtype=np.int64)

    def _make_info(self) -> VideoInfo:
        width, height = self._raw_size or (self._stream.width, self._stream.height)
        if self._turns % 2:
            width, height = height, width
        rate = self._stream.average_rate or self._stream.guessed_rate
        fps = float(rate) if rate else 0.0
        return VideoInfo(path=str(self._path), width=width, height=height,
                         frame_count=len(self._index.pts), fps=fps,
                         rotation=(-90 * self._turns) % 360)

    # ------------------------------------------------------------- protocol
    @property
    def info(self) -> VideoInfo:
        """Size after rotation, frame count, nominal fps; rotation is clockwise degrees."""
        return self._info

    @property
    def index(self) -> StreamIndex:
        """The per-frame timestamp index (e.g. to store pts next to masks)."""
        return self._index

    def frame_times(self) -> np.ndarray:
        """Presentation time of every frame in seconds, from the first frame (float64)."""
        pts = self._index.pts.astype(np.float64)
        return (pts - pts.min()) * float(self._stream.time_base or 0)

    @property
    def truncated_at(self) -> int | None:
        """Frame count where a damaged or cut file stops decoding, else None."""
        return self._index.truncated_at

    def __len__(self) -> int:
        return len(self._index.pts)

    def frame(self, index: FrameIndex) -> np.ndarray:
        """Frame `index` as RGB uint8 HxWx3 (upright), decoding forward from where it is cheap."""
        index = self._check(index)
        with self._lock:
            return self._to_rgb(self._locate(index))

    def decode_cost(self, index: FrameIndex) -> int:
        """About how many frames `frame(index)` must decode from where the decoder is now
        (continuing forward, or from the key frame before it after a seek)."""
        index = self._check(index)
        with self._lock:
            if self._next is not None and self._next <= index and not self._key_between(index):
                return index - self._next + 1
            key = self._index.ordinal(self._index.seek_point(index))
            return index - (key or 0) + 1 + _SEEK_COST

    def longest_gop(self) -> int:
        """The most frames between two key frames (or to the end): the worst seek's decodes."""
        keys = np.searchsorted(np.sort(self._index.pts), self._index.key_pts)
        bounds = np.unique(np.append(keys, len(self)))
        return int(np.max(np.diff(np.append(0, bounds)))) if len(bounds) else len(self)

    def frames(self, start: FrameIndex = 0, stop: FrameIndex | None = None) -> Iterator[np.ndarray]:
        """Decode frames start..stop-1 sequentially (one seek at most)."""
        stop = len(self) if stop is None else min(stop, len(self))
        for i in range(start, stop):
            yield self.frame(i)

    def close(self) -> None:
        """Release the file; further reads fail."""
        self._decoder = None
        self._next = None
        self._container.close()

    def __enter__(self) -> PyAVVideo:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PyAVVideo({str(self._path)!r}, frames={len(self)})"

    # -------------------------------------------------------------- decoding
    def _check(self, index: FrameIndex) -> int:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"frame {index} is out of range; {self._path.name} has {n} frames")
        return index % n

    def _locate(self, index: int) -> av.VideoFrame:
        """The decoded frame `index`: continue the current decode or seek to a key frame."""
        # Non-reference frames shown before the target are never needed: skip decoding them.
        self._skip_below = None if self._index.from_decode else int(self._index.pts[index])
        if self._next is not None and self._next <= index and not self._key_between(index):
            frame = self._decode_until(index)
            if frame is not None:
                return frame
        for back in range(_SEEK_RETRIES):
            self._seek(self._index.seek_point(index, back))
            frame = self._decode_until(index)
            if frame is not None:
                return frame
        raise VideoError(
            f"frame {index} of {self._path} did not decode at its timestamp; the file is damaged "
            "or oddly muxed: open it with full_index=True or re-encode it with ffmpeg"
        )

    def _key_between(self, index: int) -> bool:
        """True when a key frame well after the decoder position makes seeking cheaper."""
        assert self._next is not None
        key_ordinal = self._index.ordinal(self._index.seek_point(index))
        return key_ordinal is not None and key_ordinal > self._next + _SEEK_COST

    def _seek(self, ts: int) -> None:
        self._container.seek(ts, stream=self._stream, backward=True, any_frame=False)
        self._decoder = self._decode_stream()
        self._next = None

    def _decode_stream(self) -> Iterator[tuple[int | None, av.VideoFrame]]:
        context = self._stream.codec_context
        for packet in _packets(self._container, self._stream):
            ts = _ts(packet) if packet.size else None
            skip = "NONREF" if ts is not None and self._skip_below is not None \
                and ts < self._skip_below else "DEFAULT"
            if context.skip_frame != skip:
                context.skip_frame = skip
            try:
                frames = packet.decode()
            except av.FFmpegError as exc:
                log.debug("skipping a packet that does not decode (%s)", exc)
                continue
            for frame in frames:
                yield self._index.ordinal(_ts(frame)), frame

    def _decode_until(self, index: int) -> av.VideoFrame | None:
        """Decode forward to frame `index`; None when the decoder passes it (seek earlier)."""
        if self._decoder is None:
            return None
        for ordinal, frame in self._decoder:
            if ordinal is None:
                continue
            self._next = ordinal + 1
            if ordinal == index:
                return frame
            if ordinal > index:
                break
        self._decoder, self._next = None, None
        return None

    def _to_rgb(self, frame: av.VideoFrame) -> np.ndarray:
        rgb = frame.to_ndarray(format="rgb24")
        if self._turns:
            rgb = np.ascontiguousarray(np.rot90(rgb, self._turns))
        return rgb
