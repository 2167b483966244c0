"""Sensor stream import (CSV, Parquet), validation errors and alignment to frames."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from annotator.core.errors import AnnotatorError
from annotator.tools.sensor_io import (
    SensorError,
    SensorStream,
    align_to_frames,
    frame_of_samples,
    read_csv,
    read_parquet,
    read_sensor_file,
)


def _write(tmp_path: Path, text: str, name: str = "imu.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_read_csv_roundtrip(tmp_path: Path) -> None:
    path = _write(tmp_path, "ax,timestamp,gz\n1.5,0.00,-2\n2.5,0.01,-3\n3.5,0.02,-4\n")
    s = read_sensor_file(path)
    assert s.channels == ("ax", "gz")
    np.testing.assert_allclose(s.times, [0.0, 0.01, 0.02])
    np.testing.assert_allclose(s.values, [[1.5, -2], [2.5, -3], [3.5, -4]])
    assert s.values.dtype == np.float64
    assert s.sample_rate == pytest.approx(100.0)


def test_time_column_by_name_and_scale(tmp_path: Path) -> None:
    path = _write(tmp_path, "t_ns,a\n0,1\n1000000000,2\n2000000000,3\n")
    s = read_csv(path, time_column="t_ns", time_scale=1e-9)
    np.testing.assert_allclose(s.times, [0.0, 1.0, 2.0])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,b\n1,2\n3,4\n", "no time column"),
        ("time,a,label\n0,1,x\n1,2,y\n", "column 'label' is not numeric"),
        ("time,a\n0,1\n2,2\n1,3\n", "strictly increasing"),
        ("time,a\n0,1\n1,1\n1,3\n", "strictly increasing"),
        ("time,a\n0,1\n1,\n2,3\n", "channel 'a' has 1 missing"),
        ("time,a\n0,1\n1,2,3\n", "row 3 has 3 fields"),
        ("time\n0\n1\n", "no channels"),
        ("time,a\n", "at least one data row"),
        ("time,a\nnan,1\n1,2\n", "time has 1 missing"),
    ],
)
def test_bad_csv_gives_one_line_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(SensorError, match=message) as info:
        read_csv(_write(tmp_path, text))
    assert "\n" not in str(info.value)
    assert isinstance(info.value, AnnotatorError)


def test_missing_values_can_be_interpolated(tmp_path: Path) -> None:
    path = _write(tmp_path, "time,a,b\n0,1,10\n1,NaN,11\n2,3,\n3,4,13\n")
    s = read_csv(path, nan_policy="interpolate")
    np.testing.assert_allclose(s.values, [[1, 10], [2, 11], [3, 12], [4, 13]])


def test_missing_time_column_names_the_columns(tmp_path: Path) -> None:
    with pytest.raises(SensorError, match=r"'clock' not found; columns are \['time', 'a'\]"):
        read_csv(_write(tmp_path, "time,a\n0,1\n1,2\n"), time_column="clock")


def test_missing_file_and_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(SensorError, match="does not exist"):
        read_csv(tmp_path / "nope.csv")
    with pytest.raises(SensorError, match=r"use \.csv or \.parquet"):
        read_sensor_file(tmp_path / "imu.xlsx")


def test_stream_validation_in_code() -> None:
    with pytest.raises(SensorError, match="channel names"):
        SensorStream(np.arange(3.0), np.zeros((3, 2)), ("a",))
    with pytest.raises(SensorError, match="channel 'b' has 1 missing"):
        SensorStream(np.arange(3.0), np.array([[0, 1], [0, np.nan], [0, 1.0]]), ("a", "b"))


def test_parquet(tmp_path: Path) -> None:
    if importlib.util.find_spec("pyarrow") is None:
        with pytest.raises(SensorError, match="pip install pyarrow"):
            read_parquet(tmp_path / "imu.parquet")
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "imu.parquet"
    pq.write_table(
        pa.table({"time": [0.0, 0.5, 1.0], "ax": [1, 2, 3], "gy": [0.1, 0.2, 0.3]}), path
    )
    s = read_sensor_file(path)
    assert s.channels == ("ax", "gy")
    np.testing.assert_allclose(s.values[:, 0], [1, 2, 3])


def test_align_to_frames_nearest_and_interpolated() -> None:
    times = np.array([0.0, 0.1, 0.2, 0.3])
    values = np.array([[0.0, 10.0], [1.0, 11.0], [2.0, 12.0], [3.0, 13.0]])
    stream = SensorStream(times, values, ("a", "b"))
    frames = np.array([-0.1, 0.04, 0.06, 0.25, 0.5])
    al = align_to_frames(stream, frames)
    assert al.sample_index.tolist() == [0, 0, 1, 2, 3]
    np.testing.assert_allclose(al.values[:, 0], [0.0, 0.4, 0.6, 2.5, 3.0])  # clamped at the ends
    np.testing.assert_allclose(al.values[:, 1], al.values[:, 0] + 10.0)
    assert al.inside.tolist() == [False, True, True, True, False]


def test_frame_of_samples_uses_presentation_intervals() -> None:
    frames = np.array([1.0, 1.04, 1.08, 1.12])  # 25 fps starting at 1 s
    samples = np.array([0.5, 1.0, 1.039, 1.04, 1.13, 1.159, 1.2])
    assert frame_of_samples(samples, frames).tolist() == [-1, 0, 0, 1, 3, 3, -1]


def test_frame_times_must_increase() -> None:
    stream = SensorStream(np.arange(3.0), np.zeros((3, 1)), ("a",))
    with pytest.raises(SensorError, match="frame times must be strictly increasing"):
        align_to_frames(stream, np.array([0.0, 0.2, 0.1]))
