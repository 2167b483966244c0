"""Render the main window on a real video with masks to PNG (docs; run under Xvfb or offscreen).

    python -m annotator.ui.screenshot OUT_DIR

Uses ../shared/videos/bedroom.mp4 when present (four objects from boxes, propagated with the
classical backend), else the built-in sample. Writes main_window.png and proposal.png, each
palette-quantised to stay small enough to commit.
"""

from __future__ import annotations

import io
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QBuffer, QIODevice, QSettings
from PySide6.QtWidgets import QApplication

from annotator.core.types import Box
from annotator.tools.sample import SAMPLE_BOX, sample_video
from annotator.ui.main_window import MainWindow

BEDROOM = Path(__file__).resolve().parents[3] / "shared" / "videos" / "bedroom.mp4"
BEDROOM_BOXES = (("girl", Box(310, 0, 515, 400)), ("boy", Box(140, 135, 295, 410)),
                 ("pillow", Box(530, 288, 682, 415)), ("cushion", Box(435, 305, 545, 400)))
SAMPLE_BOXES = (("ball", SAMPLE_BOX), ("box", Box(515, 85, 605, 155)))
BEDROOM_EXTRA = ("dresser", ((880, 420, True), (880, 360, True), (930, 300, False)))
SAMPLE_EXTRA = ("background tile", ((40, 40, True), (300, 300, False)))
MAX_BYTES = 300_000


def wait(app: QApplication, done: Callable[[], bool], timeout: float = 120.0) -> None:
    """Process events until `done()` (this is a batch script, not the interactive app)."""
    end = time.monotonic() + timeout
    while not done():
        if time.monotonic() > end:
            raise TimeoutError("timed out waiting for the window")
        app.processEvents()
        time.sleep(0.01)


def save_png(window: MainWindow, path: Path) -> int:
    """Grab the window, quantise to 256 colours (downscaling if still too big); bytes written."""
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    window.grab().toImage().save(buffer, "PNG")
    image = Image.open(io.BytesIO(bytes(buffer.data()))).convert("RGB")
    while True:
        image.quantize(256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
        size = path.stat().st_size
        if size <= MAX_BYTES or image.width < 640:
            return size
        smaller = (image.width * 4 // 5, image.height * 4 // 5)
        image = image.resize(smaller, Image.Resampling.LANCZOS)


def annotate(app: QApplication, window: MainWindow, boxes: tuple[tuple[str, Box], ...],
             out_frame: int) -> None:
    """Box each object on frame 0, accept the best candidate, propagate to `out_frame`."""
    ctl, prompting = window.ctl, window.prompting
    for label, box in boxes:
        ctl.add_object(label)
        prompting.set_box(box)
        wait(app, lambda: prompting.proposal is not None and not ctl.model_lane.busy)
        prompting.accept()
    ctl.set_frame(out_frame)
    ctl.set_out()
    ctl.set_frame(0)
    wait(app, lambda: ctl.image_index == 0)
    window.runs.propagate(reverse=False)
    wait(app, lambda: not ctl.model_lane.busy, timeout=600)


def render(out_dir: Path) -> list[Path]:
    """Write the screenshots; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    video, boxes, last, extra = ((BEDROOM, BEDROOM_BOXES, 24, BEDROOM_EXTRA) if BEDROOM.exists()
                                 else (sample_video(), SAMPLE_BOXES, 30, SAMPLE_EXTRA))
    with tempfile.TemporaryDirectory() as tmp:
        settings = QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(settings=settings)
        window.resize(1280, 760)
        window.show()
        ctl = window.ctl
        ctl.open_project(Path(tmp) / "screenshot.annotator")
        ctl.add_video(video)
        wait(app, lambda: ctl.image_index == 0)
        annotate(app, window, boxes, last)
        ctl.select_index(0)
        ctl.set_frame(last * 2 // 3)
        wait(app, lambda: ctl.image_index == ctl.frame)
        window.statusBar().showMessage(f"{ctl.store.count_masks()} masks in the project")
        app.processEvents()
        paths = [out_dir / "main_window.png"]
        save_png(window, paths[0])
        ctl.add_object(extra[0])  # a new object with a live proposal: point glyphs + candidate
        for x, y, positive in extra[1]:
            window.prompting.add_point(x, y, positive)
        wait(app, lambda: window.prompting.proposal is not None and not ctl.model_lane.busy)
        app.processEvents()
        paths.append(out_dir / "proposal.png")
        save_png(window, paths[1])
        ctl.close()
        window.deleteLater()
    return paths


def main(argv: list[str] | None = None) -> int:
    """CLI: `python -m annotator.ui.screenshot OUT_DIR`."""
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]) if args else Path("resources/screenshots")
    for path in render(out):
        sys.stdout.write(f"{path} ({path.stat().st_size // 1024} KiB)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
