"""Sensor logs through the project: import a CSV next to a video, then `annotator qa`."""

import numpy as np
import pytest

from annotator.cli.main import main
from annotator.store import open_project
from annotator.tools.videos import add_video
from annotator.video import write_video

FPS, SECONDS, RATE = 10.0, 60, 50.0


@pytest.fixture
def project(tmp_path):
    frames = (np.full((48, 64, 3), 40 + t % 200, np.uint8) for t in range(int(FPS * SECONDS)))
    write_video(tmp_path / "drive.mp4", frames, FPS)
    path = tmp_path / "p.annotator"
    with open_project(path) as store:
        add_video(store, tmp_path / "drive.mp4")
    return path


def _csv(path, planted: bool) -> None:
    """6 correlated channels at 50 Hz, times in ms; ch1/ch4 crosstalk at 30-36 s if planted."""
    rng = np.random.default_rng(0)
    n = int(SECONDS * RATE)
    base = rng.standard_normal((n, 3))
    x = np.column_stack([base[:, 0], base[:, 1], base[:, 0] + 0.3 * base[:, 2],
                         base[:, 2], base[:, 1] * 0.5 + base[:, 2] * 0.5, base[:, 0] * 0.2])
    x += 0.3 * rng.standard_normal(x.shape)
    if planted:
        sl = slice(int(30 * RATE), int(36 * RATE))
        common = 2.0 * rng.standard_normal(sl.stop - sl.start)
        x[sl, 1] += common
        x[sl, 4] -= common
    times = np.arange(n) / RATE * 1000.0
    header = "time_ms," + ",".join(f"ch{i}" for i in range(6))
    np.savetxt(path, np.column_stack([times, x]), delimiter=",", header=header, comments="",
               fmt="%.6f")


def test_import_then_qa_flags_the_planted_span(project, tmp_path, capsys):
    _csv(tmp_path / "imu.csv", planted=True)
    assert main(["sensors", "import", str(project), str(tmp_path / "imu.csv"), "--time-column",
                 "time_ms", "--time-scale", "0.001"]) == 0
    out, _ = capsys.readouterr()
    assert "3000 samples, 6 channels, 50.0 Hz" in out
    with open_project(project) as store:
        (stream,) = store.sensor_streams(store.videos()[0].id)
        assert stream.channels == tuple(f"ch{i}" for i in range(6))
        assert stream.times[-1] == pytest.approx((SECONDS * RATE - 1) / RATE)
    assert main(["qa", str(project), "--z", "4"]) == 0
    out, _ = capsys.readouterr()
    assert "== drive / imu" in out
    flagged = [line for line in out.splitlines() if "ch1" in line and "ch4" in line]
    assert flagged, out
    first, last = (int(v) for v in flagged[0].split()[0].split("-"))
    assert first < 36 * FPS and last > 30 * FPS  # frames of the planted 30-36 s


def test_qa_without_streams_and_bad_files_say_what_to_do(project, tmp_path, capsys):
    assert main(["qa", str(project)]) == 2
    assert "no sensor streams" in capsys.readouterr().err
    (tmp_path / "bad.csv").write_text("time,a\n0,1\n1,x\n")
    assert main(["sensors", "import", str(project), str(tmp_path / "bad.csv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
