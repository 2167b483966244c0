"""The entry point the launcher calls: `run(path)` shows the window on a video or the sample.

Each run is a fresh process (as for a user): `run` owns QApplication.exec, which a test
process's shared application must not enter twice.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from annotator.tools import sample

REPO = Path(__file__).resolve().parents[2]
DRIVER = """
import sys
from pathlib import Path
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication
from annotator.tools import sample
from annotator.ui import app
from annotator.ui.main_window import MainWindow

tmp = Path(sys.argv[2])
QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(tmp))
app.sample_project = lambda: tmp / "sample.annotator"
app.sample_video = lambda: sample.sample_video(tmp / "cache")
qapp = app.application()

def check():
    for w in qapp.topLevelWidgets():
        if isinstance(w, MainWindow) and w.ctl.image_index == 0:
            print("SHOWN", w.ctl.video.name, w.ctl.frame_count, w.ctl.project_path, flush=True)
            w.close()
            qapp.quit()

timer = QTimer()
timer.timeout.connect(check)
timer.start(50)
QTimer.singleShot(30000, qapp.quit)
path = None if sys.argv[1] == "-" else sys.argv[1]
sys.exit(app.run(path))
"""


def _run(path: str, tmp: Path) -> str:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", DRIVER, path, str(tmp)], env=env, cwd=tmp,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    shown = [line for line in done.stdout.splitlines() if line.startswith("SHOWN")]
    assert shown, f"the window never showed a first frame: {done.stderr[-2000:]}"
    return shown[0]


def test_run_opens_a_video_or_the_sample(square, tmp_path):
    line = _run(str(square), tmp_path)
    assert line.split()[1:3] == [square.stem, "20"]
    assert (square.parent / f"{square.stem}.annotator").exists()
    line = _run("-", tmp_path)
    assert line.split()[1:4] == ["sample", str(sample.FRAMES), str(tmp_path / "sample.annotator")]
