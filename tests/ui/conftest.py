"""UI fixtures: an isolated QSettings file, small synthetic videos, a main window on them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

import gc

from PySide6.QtCore import QCoreApplication, QEvent, QPoint, QPointF, QSettings, Qt, QThreadPool

from annotator.ui.engines import BackendChoice, registered_backends
from annotator.ui.main_window import MainWindow
from tests.factories import square_video
from tests.ui.disc_backend import choice
from tests.ui.lab_backends import blob_video

FRAMES = 20


@pytest.fixture(autouse=True)
def _cache_in_tmp(tmp_path_factory: pytest.TempPathFactory,
                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Scrub proxies (and any download) go to a temporary cache, never the user's."""
    monkeypatch.setenv("ANNOTATOR_CACHE", str(tmp_path_factory.getbasetemp() / "ui-cache"))


@pytest.fixture(autouse=True)
def _delete_widgets_at_teardown(qapp: object) -> Iterator[None]:
    """Delete each test's widgets in its own teardown, once its worker threads are done.

    Otherwise a window is garbage-collected during a later test and Shiboken deletes it while
    that test's workers run: the main thread then holds the GIL while it waits for a Qt mutex
    a worker holds (seen as a hang in CI).
    """
    yield
    QThreadPool.globalInstance().waitForDone(20000)
    gc.collect()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    QCoreApplication.processEvents()


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    """Settings in a temp file, so tests never touch the user's recent projects."""
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def square(tmp_path: Path) -> Path:
    """A 96x64, 20-frame mp4 with a red square moving right."""
    folder = tmp_path / "videos"
    folder.mkdir()
    path, _ = square_video(folder, count=FRAMES, size=(96, 64))
    return path


def make_window(qtbot: object, settings: QSettings, delay: float = 0.0,
                extra: Sequence[BackendChoice] = (), select: str = "discs") -> MainWindow:
    """A shown main window with the disc test backend (and `extra` test backends) listed and
    `select` selected."""
    window = MainWindow([choice(delay), *extra, *registered_backends()], settings)
    qtbot.addWidget(window)  # type: ignore[attr-defined]
    window.show()
    qtbot.waitExposed(window)  # type: ignore[attr-defined]
    window.activateWindow()
    window.canvas.setFocus()
    window.ctl.set_backend(select)
    return window


@pytest.fixture
def window(qtbot: object, settings: QSettings) -> Iterator[MainWindow]:
    """A main window (disc backend) that is closed after the test, jobs finished."""
    w = make_window(qtbot, settings)
    yield w
    finish_jobs(qtbot, w)
    w.ctl.close()


def finish_jobs(qtbot: object, w: MainWindow) -> None:
    """Wait until no job runs."""
    qtbot.waitUntil(lambda: not w.ctl.model_lane.busy and not w.ctl.io_lane.busy,  # type: ignore[attr-defined]
                    timeout=20000)


def open_video(qtbot: object, w: MainWindow, path: Path, project: Path) -> None:
    """Open a video in a new project file and wait for its first frame on screen."""
    w.ctl.open_project(project)
    w.ctl.add_video(path)
    qtbot.waitUntil(lambda: w.ctl.image_index == w.ctl.frame == 0, timeout=5000)  # type: ignore[attr-defined]


def view_pos(w: MainWindow, x: float, y: float) -> QPoint:
    """Viewport position of a frame pixel."""
    return w.canvas.mapFromScene(QPointF(x, y))


def click(qtbot: object, w: MainWindow, x: float, y: float,
          button: Qt.MouseButton = Qt.MouseButton.LeftButton,
          modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    """A real mouse click on the canvas at a frame pixel."""
    qtbot.mouseClick(w.canvas.viewport(), button, modifier, view_pos(w, x, y))  # type: ignore[attr-defined]


def drag(qtbot: object, w: MainWindow, a: tuple[float, float], b: tuple[float, float]) -> None:
    """A left-button drag on the canvas between two frame pixels, through the middle."""
    vp = w.canvas.viewport()
    start, end = view_pos(w, *a), view_pos(w, *b)
    mid = (start + end) / 2
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)  # type: ignore[attr-defined]
    qtbot.mouseMove(vp, mid)  # type: ignore[attr-defined]
    qtbot.mouseMove(vp, end)  # type: ignore[attr-defined]
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)  # type: ignore[attr-defined]


def key(qtbot: object, w: MainWindow, k: Qt.Key,
        modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    """A real key press on the canvas (shortcuts fire as for a user, in the active window)."""
    if not w.isActiveWindow():  # offscreen has no window manager to re-activate after dialogs
        w.activateWindow()
        qtbot.waitUntil(w.isActiveWindow, timeout=2000)  # type: ignore[attr-defined]
    qtbot.keyClick(w.canvas, k, modifier)  # type: ignore[attr-defined]


def wait_proposal(qtbot: object, w: MainWindow) -> None:
    """Wait for the backend's candidates."""
    qtbot.waitUntil(lambda: w.prompting.proposal is not None  # type: ignore[attr-defined]
                    and not w.ctl.model_lane.occupied, timeout=10000)


def move(qtbot: object, w: MainWindow, x: float, y: float) -> None:
    """A real mouse move (no button held) over the canvas to a frame pixel."""
    qtbot.mouseMove(w.canvas.viewport(), view_pos(w, x, y))  # type: ignore[attr-defined]


@pytest.fixture
def blobs(tmp_path: Path) -> Path:
    """A 96x64, 8-frame mp4: a red square moving right, a blue one moving left, on grey."""
    folder = tmp_path / "blobs"
    folder.mkdir()
    return blob_video(folder / "blobs.mp4")
