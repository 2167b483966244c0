"""Sensor streams (IMU, GPS, telemetry) from CSV or Parquet, validated and aligned to frames.

A stream is one table: a time column in seconds (or scaled to seconds) and numeric channels.
Frames are addressed by their presentation times in seconds (from the video index), never by
time x fps, so alignment works for variable frame rates.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from annotator.core.errors import AnnotatorError

TIME_COLUMNS = ("time", "t", "timestamp", "time_s", "seconds", "sec")


class SensorError(AnnotatorError):
    """A sensor file or stream is unusable; the message says what and how to fix it."""


@dataclass(frozen=True)
class SensorStream:
    """times: (T,) seconds, strictly increasing; values: (T, C) float64; one name per channel."""

    times: np.ndarray
    values: np.ndarray
    channels: tuple[str, ...]

    def __post_init__(self) -> None:
        validate_stream(self.times, self.values, self.channels)

    @property
    def sample_rate(self) -> float:
        """Median samples per second (streams may jitter)."""
        return 1.0 / float(np.median(np.diff(self.times)))


def validate_stream(times: np.ndarray, values: np.ndarray, channels: Sequence[str]) -> None:
    """Raise SensorError on shape, NaN or ordering problems, naming the first offender."""
    if times.ndim != 1 or values.ndim != 2 or values.shape[0] != times.shape[0]:
        raise SensorError(f"times {times.shape} and values {values.shape} are not (T,) and (T, C)")
    if values.shape[1] != len(channels) or values.shape[1] == 0:
        raise SensorError(f"{values.shape[1]} value columns but {len(channels)} channel names")
    if times.shape[0] < 2:
        raise SensorError("a sensor stream needs at least 2 samples")
    if not np.all(np.isfinite(times)):
        raise SensorError(f"time has {int(np.sum(~np.isfinite(times)))} missing or infinite values")
    bad = np.flatnonzero(np.diff(times) <= 0)
    if bad.size:
        i = int(bad[0])
        raise SensorError(
            f"times must be strictly increasing: sample {i + 1} ({times[i + 1]:g} s) follows "
            f"{times[i]:g} s; sort the file by time and drop duplicate rows"
        )
    finite = np.isfinite(values)
    if not finite.all():
        col = int(np.flatnonzero(~finite.all(axis=0))[0])
        count = int(np.sum(~finite[:, col]))
        raise SensorError(
            f"channel {channels[col]!r} has {count} missing or infinite values; "
            "read with nan_policy='interpolate' or clean the file"
        )


def fill_missing(times: np.ndarray, values: np.ndarray, channels: Sequence[str]) -> np.ndarray:
    """Linearly interpolate NaNs per channel over time; a channel with < 2 values is an error."""
    out = values.copy()
    for c in range(out.shape[1]):
        ok = np.isfinite(out[:, c])
        if ok.sum() < 2:
            raise SensorError(f"channel {channels[c]!r} has fewer than 2 valid values")
        if not ok.all():
            out[~ok, c] = np.interp(times[~ok], times[ok], out[ok, c])
    return out


def _parse_float(text: str) -> float:
    """'' and NA spellings are NaN; anything else must be a number."""
    text = text.strip()
    if text.lower() in ("", "nan", "na", "null", "none"):
        return math.nan
    return float(text)


def _pick_time_column(header: Sequence[str], time_column: str | None) -> int:
    """Index of the time column: the one named, else the first conventional name."""
    names = [h.strip() for h in header]
    if time_column is not None:
        if time_column not in names:
            raise SensorError(f"time column {time_column!r} not found; columns are {names}")
        return names.index(time_column)
    lowered = [n.lower() for n in names]
    for cand in TIME_COLUMNS:
        if cand in lowered:
            return lowered.index(cand)
    raise SensorError(f"no time column (looked for {', '.join(TIME_COLUMNS)}); columns are {names}")


def _columns_to_stream(
    names: list[str],
    columns: list[list[str]] | list[np.ndarray],
    time_column: str | None,
    time_scale: float,
    nan_policy: str,
) -> SensorStream:
    """Turn raw columns (strings or arrays) into a validated SensorStream."""
    if nan_policy not in ("raise", "interpolate"):
        raise SensorError(f"nan_policy must be 'raise' or 'interpolate', got {nan_policy!r}")
    ti = _pick_time_column(names, time_column)
    data = []
    for k, col in enumerate(columns):
        try:
            data.append(
                np.array([_parse_float(v) if isinstance(v, str) else float(v) for v in col])
            )
        except (TypeError, ValueError):
            bad = next(v for v in col if not _is_number(v))
            raise SensorError(
                f"column {names[k]!r} is not numeric (value {bad!r}); drop it or convert it"
            ) from None
    times = data[ti] * time_scale
    channels = tuple(n for k, n in enumerate(names) if k != ti)
    if not channels:
        raise SensorError("the file has a time column but no channels")
    values = np.stack([d for k, d in enumerate(data) if k != ti], axis=1)
    if nan_policy == "interpolate":
        values = fill_missing(times, values, channels)
    return SensorStream(times=times, values=values, channels=channels)


def _is_number(value: object) -> bool:
    """True when _parse_float accepts the value."""
    try:
        _parse_float(value) if isinstance(value, str) else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return True


def read_csv(
    path: str | Path,
    time_column: str | None = None,
    time_scale: float = 1.0,
    nan_policy: str = "raise",
) -> SensorStream:
    """Read a CSV with a header row; time_scale converts the time column to seconds."""
    path = Path(path)
    if not path.is_file():
        raise SensorError(f"sensor file {path} does not exist")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        rows = [r for r in csv.reader(fh) if r and any(cell.strip() for cell in r)]
    if len(rows) < 2:
        raise SensorError(f"{path.name} needs a header row and at least one data row")
    header, body = [h.strip() for h in rows[0]], rows[1:]
    short = next((i for i, r in enumerate(body) if len(r) != len(header)), None)
    if short is not None:
        raise SensorError(
            f"{path.name} row {short + 2} has {len(body[short])} fields, header has {len(header)}"
        )
    columns = [[r[k] for r in body] for k in range(len(header))]
    return _columns_to_stream(header, columns, time_column, time_scale, nan_policy)


def read_parquet(
    path: str | Path,
    time_column: str | None = None,
    time_scale: float = 1.0,
    nan_policy: str = "raise",
) -> SensorStream:
    """Read a Parquet file with pyarrow (optional dependency)."""
    try:
        import pyarrow.parquet as pq  # optional dependency, loaded on use
    except ImportError:
        raise SensorError("reading Parquet needs pyarrow: pip install pyarrow") from None
    path = Path(path)
    if not path.is_file():
        raise SensorError(f"sensor file {path} does not exist")
    table = pq.read_table(path)
    names = [str(n) for n in table.column_names]
    columns = [
        np.asarray(table.column(k).to_numpy(zero_copy_only=False)) for k in range(len(names))
    ]
    columns = [c.astype(np.float64) if c.dtype.kind in "iufb" else c for c in columns]
    return _columns_to_stream(names, columns, time_column, time_scale, nan_policy)


def read_sensor_file(path: str | Path, **kwargs: object) -> SensorStream:
    """Dispatch on the suffix: .csv/.txt or .parquet/.pq."""
    suffix = Path(path).suffix.lower()
    if suffix in (".csv", ".txt"):
        return read_csv(path, **kwargs)  # type: ignore[arg-type]
    if suffix in (".parquet", ".pq"):
        return read_parquet(path, **kwargs)  # type: ignore[arg-type]
    raise SensorError(f"unknown sensor file type {suffix!r}; use .csv or .parquet")


@dataclass(frozen=True)
class FrameAlignment:
    """Per frame: nearest sample, values interpolated at the frame time, and coverage."""

    sample_index: np.ndarray  # (F,) int, nearest sample in time
    values: np.ndarray  # (F, C) linear interpolation (clamped at the ends)
    inside: np.ndarray  # (F,) bool, frame time within the sensor time span


def check_frame_times(frame_times: np.ndarray) -> np.ndarray:
    """Frame presentation times in seconds: finite, 1-D, strictly increasing."""
    ft = np.asarray(frame_times, dtype=np.float64)
    if ft.ndim != 1 or ft.size == 0 or not np.all(np.isfinite(ft)):
        raise SensorError("frame times must be a non-empty 1-D array of finite seconds")
    if np.any(np.diff(ft) <= 0):
        raise SensorError("frame times must be strictly increasing (presentation order)")
    return ft


def align_to_frames(stream: SensorStream, frame_times: np.ndarray) -> FrameAlignment:
    """For each frame: the nearest sample and the channels interpolated at its time."""
    ft = check_frame_times(frame_times)
    t = stream.times
    right = np.clip(np.searchsorted(t, ft), 1, t.size - 1)
    nearer_left = (ft - t[right - 1]) <= (t[right] - ft)
    nearest = np.where(nearer_left, right - 1, right)
    values = np.stack(
        [np.interp(ft, t, stream.values[:, c]) for c in range(len(stream.channels))], 1
    )
    inside = (ft >= t[0]) & (ft <= t[-1])
    return FrameAlignment(sample_index=nearest.astype(np.int64), values=values, inside=inside)


def frame_of_samples(sample_times: np.ndarray, frame_times: np.ndarray) -> np.ndarray:
    """Frame shown at each sample time (last frame with pts <= t); -1 outside the video.

    The last frame is taken to last one median frame interval.
    """
    ft = check_frame_times(frame_times)
    st = np.asarray(sample_times, dtype=np.float64)
    idx = np.searchsorted(ft, st, side="right") - 1
    last = ft[-1] + (float(np.median(np.diff(ft))) if ft.size > 1 else 0.0)
    idx[(st < ft[0]) | (st >= last)] = -1
    if ft.size == 1:
        idx[st == ft[0]] = 0
    return idx.astype(np.int64)
