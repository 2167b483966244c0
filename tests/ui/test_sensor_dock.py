"""The Sensors dock in the main window: View menu, playhead both ways, flags on the timeline."""

import numpy as np
from PySide6.QtCore import Qt

from annotator.video import write_video
from tests.cli.test_sensors_cli import _csv
from tests.ui.conftest import make_window, open_video


def test_sensor_dock_follows_the_video_and_flags_the_timeline(qtbot, settings, tmp_path):
    frames = (np.full((48, 64, 3), 40 + t % 200, np.uint8) for t in range(600))
    write_video(tmp_path / "drive.mp4", frames, 10.0)
    w = make_window(qtbot, settings)
    open_video(qtbot, w, tmp_path / "drive.mp4", tmp_path / "p.annotator")
    _csv(tmp_path / "imu.csv", planted=True)
    from annotator.tools.sensor_io import read_csv

    stream = read_csv(tmp_path / "imu.csv", time_column="time_ms", time_scale=0.001)
    w.ctl.store.add_sensor_stream(w.ctl.video.id, "imu", stream.channels, stream.times,
                                  stream.values)
    toggle = w.sensors.dock.toggleViewAction()
    view = next(a.menu() for a in w.menuBar().actions() if a.text() == "&View")
    assert toggle in view.actions()
    toggle.trigger()
    assert w.sensors.dock.isVisible()
    w.ctl.set_frame(5)  # the panel loads the video's streams on the next frame change
    qtbot.waitUntil(lambda: w.sensors.panel.current_record is not None, timeout=5000)
    assert w.sensors.panel.plot.playhead.value() == (5 / 10.0)
    qtbot.mouseClick(w.sensors.panel.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(w.timeline.flags), timeout=20000)
    start, stop = w.timeline.flags[0]
    assert start < 360 and stop > 300  # the planted 30-36 s at 10 fps
    w.sensors.panel.frameRequested.emit(start)
    qtbot.waitUntil(lambda: w.ctl.frame == start, timeout=5000)
    w.ctl.close()
