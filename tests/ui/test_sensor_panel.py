"""The sensor QA panel on a real project: plot, playhead, Run QA in a worker, bands and list."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtWidgets import QWidget

from annotator.store import ProjectStore, open_project
from annotator.tools.videos import add_video, open_record
from annotator.ui.sensor_panel import SensorPanel
from annotator.video import frame_times, write_video

pytestmark = pytest.mark.gui
FPS, SECONDS, RATE = 10.0, 60, 50.0
PLANTED = (30.0, 36.0)  # seconds of ch1/ch4 crosstalk


def planted_stream() -> tuple[np.ndarray, np.ndarray]:
    """6 correlated channels at 50 Hz (as in tests/cli/test_sensors_cli.py), crosstalk planted."""
    rng = np.random.default_rng(0)
    n = int(SECONDS * RATE)
    base = rng.standard_normal((n, 3))
    x = np.column_stack([base[:, 0], base[:, 1], base[:, 0] + 0.3 * base[:, 2],
                         base[:, 2], base[:, 1] * 0.5 + base[:, 2] * 0.5, base[:, 0] * 0.2])
    x += 0.3 * rng.standard_normal(x.shape)
    sl = slice(int(PLANTED[0] * RATE), int(PLANTED[1] * RATE))
    common = 2.0 * rng.standard_normal(sl.stop - sl.start)
    x[sl, 1] += common
    x[sl, 4] -= common
    return np.arange(n) / RATE, x


@pytest.fixture(scope="module")
def video_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 64x48, 60 s, 10 fps mp4 (written once for the module)."""
    path = tmp_path_factory.mktemp("sensor_video") / "drive.mp4"
    frames = (np.full((48, 64, 3), 40 + t % 200, np.uint8) for t in range(int(FPS * SECONDS)))
    write_video(path, frames, FPS)
    return path


@pytest.fixture
def store(tmp_path: Path, video_file: Path) -> Iterator[ProjectStore]:
    """A project on disk with the video and no streams yet."""
    with open_project(tmp_path / "p.annotator") as s:
        add_video(s, video_file)
        yield s


@pytest.fixture
def panel(qtbot: object) -> SensorPanel:
    p = SensorPanel()
    qtbot.addWidget(p)  # type: ignore[attr-defined]
    p.resize(640, 480)
    p.show()
    qtbot.waitExposed(p)  # type: ignore[attr-defined]
    return p


def load(panel: SensorPanel, store: ProjectStore) -> np.ndarray:
    """Load the project's video into the panel from its real source; its frame times."""
    video = store.videos()[0]
    source = open_record(video)
    panel.load(store, video, source)
    times = frame_times(source)
    source.close()
    return times


def run_qa(qtbot: object, panel: SensorPanel) -> None:
    """Click Run QA like a user and wait for the worker."""
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
    assert panel.busy
    qtbot.waitUntil(lambda: not panel.busy, timeout=10000)  # type: ignore[attr-defined]


def test_run_qa_flags_the_planted_span(qtbot, panel, store):
    times, values = planted_stream()
    video = store.videos()[0]
    store.add_sensor_stream(video.id, "imu", [f"ch{i}" for i in range(6)], times, values)
    load(panel, store)
    assert panel.pages.currentIndex() == 1 and panel.streams.count() == 1
    assert len(panel.plot.curves) == 6 and not panel.plot.bands and panel.flags == []
    with qtbot.waitSignal(panel.flagsChanged, timeout=10000) as flagged:
        run_qa(qtbot, panel)
    first, last = int(PLANTED[0] * FPS), int(PLANTED[1] * FPS)
    (start, stop), = flagged.args[0]
    assert panel.flags == [(start, stop)]
    assert start <= first + FPS and stop >= last - FPS and stop - start < 2 * (last - first)
    (band,) = panel.plot.bands
    lo, hi = band.getRegion()
    assert lo <= PLANTED[0] + 1 and hi >= PLANTED[1] - 1 and not band.movable
    assert panel.span_list.count() == 1
    item = panel.span_list.item(0)
    assert f"frames {start}-{stop - 1}" in item.text() and "ch1" in item.text()
    assert "ch4" in item.text()
    center = panel.span_list.visualItemRect(item).center()
    with qtbot.waitSignal(panel.frameRequested, timeout=2000) as asked:  # a real double click
        qtbot.mouseClick(panel.span_list.viewport(), Qt.MouseButton.LeftButton, pos=center)
        qtbot.mouseDClick(panel.span_list.viewport(), Qt.MouseButton.LeftButton, pos=center)
    assert asked.args == [start]
    panel.span_list.setCurrentItem(item)
    with qtbot.waitSignal(panel.frameRequested, timeout=2000) as asked:  # Enter activates too
        qtbot.keyClick(panel.span_list, Qt.Key.Key_Return)
    assert asked.args == [start]


def test_second_click_while_running_is_ignored(qtbot, panel, store):
    times, values = planted_stream()
    store.add_sensor_stream(store.videos()[0].id, "imu", [f"ch{i}" for i in range(6)],
                            times, values)
    load(panel, store)
    assert panel.run_qa()
    assert panel.busy and not panel.run_button.isEnabled()
    assert not panel.run_qa()
    qtbot.waitUntil(lambda: not panel.busy, timeout=10000)
    assert panel.run_button.isEnabled() and len(panel.flags) == 1


def test_playhead_follows_the_video_and_clicks_ask_for_frames(qtbot, panel, store):
    times, values = planted_stream()
    store.add_sensor_stream(store.videos()[0].id, "imu", [f"ch{i}" for i in range(6)],
                            times, values)
    ft = load(panel, store)
    with qtbot.assertNotEmitted(panel.frameRequested):
        panel.set_frame(123)
    assert panel.plot.playhead_time == pytest.approx(ft[123])
    assert ft[123] == pytest.approx(12.3, abs=0.01)
    plot = panel.plot
    box = plot.getPlotItem().getViewBox()
    box.setXRange(0, 60, padding=0)
    qtbot.waitUntil(lambda: abs(box.viewRange()[0][1] - 60) < 1e-6, timeout=2000)
    y = float(np.mean(box.viewRange()[1]))
    pos = plot.mapFromScene(box.mapViewToScene(QPointF(20.0, y)))
    with qtbot.waitSignal(panel.frameRequested, timeout=2000) as asked:
        qtbot.mouseClick(plot.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert abs(asked.args[0] - 200) <= 2  # a pixel is ~0.1 s here
    start = plot.mapFromScene(box.mapViewToScene(QPointF(ft[123], y)))
    end = plot.mapFromScene(box.mapViewToScene(QPointF(40.0, y)))
    asked_all: list[int] = []
    panel.frameRequested.connect(asked_all.append)
    drag(qtbot, plot.viewport(), start, end)
    assert abs(panel.plot.playhead_time - 40.0) < 0.3
    assert len(asked_all) > 1 and abs(asked_all[-1] - 400) <= 3  # followed the drag


def drag(qtbot: object, widget: QWidget, start: QPoint, end: QPoint) -> None:
    """A real left-button drag in steps (pyqtgraph starts a drag after a few pixels)."""
    left, none = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    qtbot.mousePress(widget, left, none, start)  # type: ignore[attr-defined]
    for f in np.linspace(0.1, 1.0, 6):
        qtbot.mouseMove(widget, start + (end - start) * f)  # type: ignore[attr-defined]
    qtbot.mouseRelease(widget, left, none, end)  # type: ignore[attr-defined]


def test_empty_state_and_errors_stay_in_the_panel(qtbot, panel, store):
    assert "Open a video" in panel.empty.text()
    load(panel, store)
    assert panel.pages.currentIndex() == 0
    assert "annotator sensors import PROJECT FILE" in panel.empty.text()
    assert not panel.run_button.isEnabled() and not panel.run_qa()
    t = np.arange(500) / RATE
    flat = np.column_stack([np.sin(t), np.ones_like(t)])  # one usable channel: QA refuses
    store.add_sensor_stream(store.videos()[0].id, "stuck", ["a", "b"], t, flat)
    load(panel, store)
    run_qa(qtbot, panel)
    text = panel.message.text()
    assert text.startswith("QA failed: need at least 2 non-constant channels") and "\n" not in text
    assert panel.flags == [] and not panel.plot.bands and panel.run_button.isEnabled()


def test_each_stream_keeps_its_own_flags(qtbot, panel, store):
    times, values = planted_stream()
    vid = store.videos()[0].id
    store.add_sensor_stream(vid, "imu", [f"ch{i}" for i in range(6)], times, values)
    store.add_sensor_stream(vid, "gps", ["lat", "lon"], times, values[:, [0, 3]])
    load(panel, store)
    assert panel.streams.count() == 2
    run_qa(qtbot, panel)
    flags = panel.flags
    assert len(flags) == 1
    with qtbot.waitSignal(panel.flagsChanged) as changed:
        panel.streams.setCurrentIndex(1)
    assert changed.args == [[]] and not panel.plot.bands and panel.span_list.count() == 0
    assert [c.name() for c in panel.plot.curves] == ["lat", "lon"]
    with qtbot.waitSignal(panel.flagsChanged) as changed:
        panel.streams.setCurrentIndex(0)
    assert changed.args == [flags] and len(panel.plot.bands) == 1


def test_bad_frame_times_are_reported_not_raised(panel, store):
    panel.load(store, store.videos()[0], np.array([0.0, 0.1, 0.1]))
    assert panel.pages.currentIndex() == 0 and "strictly increasing" in panel.empty.text()
    assert panel.flags == [] and not panel.run_qa()
