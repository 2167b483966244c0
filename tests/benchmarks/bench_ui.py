"""GUI benchmark: scrubbing speed with 5 objects' overlays on a 720p video, click-to-overlay
latency once the frame's embedding is cached, and with EdgeSAM (random weights, same compute):
hover preview latency and a click on a frame encoded ahead vs. a frame never seen.

Run: .venv/bin/python tests/benchmarks/bench_ui.py [VIDEO]   (offscreen unless a display is set)
Goals: scrubbing >= 30 frames displayed per second; click to overlay p95 < 50 ms for a fast
decoder (the disc test backend isolates the UI's own share; the classical GrabCut backend shows
what a user of the default backend waits).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
if not os.environ.get("DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtCore import QEventLoop, QPointF, QSettings, Qt, QTimer  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from annotator.core.masks import encode  # noqa: E402
from annotator.core.project import StoredMask  # noqa: E402
from annotator.core.types import Provenance, Source  # noqa: E402
from annotator.ui.controller import registered_backends  # noqa: E402
from annotator.ui.main_window import MainWindow  # noqa: E402
from annotator.ui.overlay import OverlayMode, compose_rles  # noqa: E402
from annotator.video import open_video, write_video  # noqa: E402
from tests.ui.disc_backend import choice, disc  # noqa: E402

SHARED = Path(os.environ.get("ANNOTATOR_SHARED", REPO.parent / "shared"))
OBJECTS = 5
FRAMES = 90


def video_720p(folder: Path) -> Path:
    """A real 720p clip from ../shared when present, else a synthetic one."""
    real = SHARED / "videos" / "02_cups.mp4"
    if real.exists():
        return real
    path = folder / "synthetic_720p.mp4"
    yy, xx = np.mgrid[0:720, 0:1280]
    frames = (np.stack([(xx + 4 * i) % 256, (yy * 2 + i) % 256,
                        ((xx // 40 + yy // 40) % 2) * 200], -1).astype(np.uint8)
              for i in range(FRAMES))
    write_video(path, frames, 30, crf=23, gop=30, bframes=2)
    return path


def wait(app: QApplication, done: Callable[[], bool], timeout: float = 60.0) -> None:
    """Run the event loop until `done()`, sleeping between events like the real loop does."""
    end = time.monotonic() + timeout
    flags = QEventLoop.ProcessEventsFlag.AllEvents | QEventLoop.ProcessEventsFlag.WaitForMoreEvents
    while not done():
        if time.monotonic() > end:
            raise TimeoutError("benchmark step timed out")
        app.processEvents(flags, 20)


def fill_masks(window: MainWindow, frames: int) -> None:
    """5 objects with a moving disc each on every frame, written straight to the store."""
    ctl = window.ctl
    store, video = ctl.store, ctl.video
    assert store is not None and video is not None
    shape = (video.height, video.width)
    writes = []
    for k in range(OBJECTS):
        obj = store.add_object(video.id, f"object {k + 1}")
        for f in range(frames):
            mask = disc(shape, 150 + 220 * k + 2 * f, 360 + 80 * np.sin(f / 9 + k), 90)
            prov = Provenance(Source.PROPAGATED, "bench")
            writes.append((video.id, obj.id, f, StoredMask(encode(mask), prov)))
    store.write_masks(writes)
    ctl.reload_objects()
    ctl.reload_marks()
    ctl.overlays.invalidate()


def scrub(app: QApplication, window: MainWindow, frames: list[int],
          first_display: bool = False) -> float:
    """Frames displayed per second when stepping through `frames`, painting each: the exact
    frame, or with `first_display` whatever comes first (a scrub-proxy frame or the exact)."""
    ctl, canvas = window.ctl, window.canvas
    shown: list[int] = []

    def on_preview(index: int, _image: object) -> None:
        shown.append(index)

    ctl.previewReady.connect(on_preview)
    start = time.perf_counter()
    for f in frames:
        ctl.set_frame(f)
        wait(app, lambda f=f: ctl.image_index == f or (first_display and f in shown))
        canvas.viewport().repaint()
    elapsed = time.perf_counter() - start
    ctl.previewReady.disconnect(on_preview)  # the window's own slot stays
    return len(frames) / elapsed


def decode_fps(path: Path, frames: int) -> float:
    """Baseline: sequential decode alone (what any player must do)."""
    video = open_video(path)
    start = time.perf_counter()
    for _ in video.frames(0, frames):
        pass
    video.close()
    return frames / (time.perf_counter() - start)


def click_latency(app: QApplication, window: MainWindow, backend: str, clicks: int
                  ) -> tuple[list[float], list[float]]:
    """Per click: ms from the mouse event to the proposal painted, and ms of predict alone."""
    ctl, canvas, prompting = window.ctl, window.canvas, window.prompting
    ctl.set_backend(backend)
    ctl.set_frame(10)
    wait(app, lambda: ctl.image_index == 10)
    rng = np.random.default_rng(0)
    ui, model = [], []
    for i in range(clicks + 1):
        prompting.drop()
        x, y = rng.uniform(200, 1000), rng.uniform(150, 550)
        pos = canvas.mapFromScene(QPointF(x, y))
        start = time.perf_counter()
        QTest.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton,
                         Qt.KeyboardModifier.NoModifier, pos)
        wait(app, lambda: prompting.proposal is not None and not ctl.model_lane.busy)
        canvas.viewport().repaint()
        elapsed = time.perf_counter() - start
        t0 = time.perf_counter()
        ctl.backend.predict(prompting.prompts)  # type: ignore[union-attr]
        if i:  # the first click encodes the frame; the rest reuse the cached embedding
            ui.append(1000 * elapsed)
            model.append(1000 * (time.perf_counter() - t0))
    prompting.drop()
    return ui, model


def edgesam_window(tmp: Path, video: Path, settings: QSettings) -> MainWindow:
    """A window whose default segmenter is EdgeSAM with random weights (same compute as the
    official checkpoint), saved where `find_weights` looks ($ANNOTATOR_MODELS)."""
    import torch

    from annotator.nn.edgesam.build import build_edge_sam

    models = tmp / "models"
    models.mkdir(exist_ok=True)
    torch.save(build_edge_sam().state_dict(), models / "edge_sam.pth")
    os.environ["ANNOTATOR_MODELS"] = str(models)
    window = MainWindow(registered_backends(), settings)
    window.resize(1280, 800)
    window.show()
    window.ctl.open_project(tmp / "edgesam.annotator")
    window.ctl.add_video(video)
    return window


def hover_and_step(app: QApplication, window: MainWindow, moves: int
                   ) -> dict[str, list[float]]:
    """ms from a resting pointer to its preview painted (debounce included), decode alone,
    and click->proposal on a frame encoded ahead vs. on a frame never seen (encoder pass)."""
    ctl, canvas, look = window.ctl, window.canvas, window.lookahead
    assert ctl.backend_id == "edgesam", "EdgeSAM is not the default segmenter"
    wait(app, lambda: ctl.image_index == 0 and not ctl.model_lane.busy, timeout=300)
    rng = np.random.default_rng(2)
    out: dict[str, list[float]] = {"hover": [], "decode": [], "ahead": [], "cold": []}
    for _ in range(moves):
        x, y = rng.uniform(200, 1000), rng.uniform(150, 550)
        look.leave()
        start = time.perf_counter()
        QTest.mouseMove(canvas.viewport(), canvas.mapFromScene(QPointF(x, y)))
        wait(app, lambda: look.preview is not None and not ctl.model_lane.busy)
        canvas.viewport().repaint()
        out["hover"].append(1000 * (time.perf_counter() - start))
        t0 = time.perf_counter()
        ctl.backend.predict(window.prompting.prompts if window.prompting.target  # type: ignore[union-attr]
                            else _point(x, y))
        out["decode"].append(1000 * (time.perf_counter() - t0))
    look.leave()
    for frame, kind in ((1, "ahead"), (2, "ahead"), (40, "cold"), (3, "ahead"), (70, "cold")):
        window.prompting.drop()
        wait(app, lambda: not ctl.model_lane.busy, timeout=300)
        ctl.set_frame(frame)
        wait(app, lambda f=frame: ctl.image_index == f)
        start = time.perf_counter()
        QTest.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton,
                         Qt.KeyboardModifier.NoModifier, canvas.mapFromScene(QPointF(600, 360)))
        wait(app, lambda: window.prompting.proposal is not None and not ctl.model_lane.occupied)
        out[kind].append(1000 * (time.perf_counter() - start))
    window.prompting.drop()
    return out


def _point(x: float, y: float) -> object:
    from annotator.core.types import Point, Prompts

    return Prompts(points=(Point(x, y),))


def p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


def main() -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["ANNOTATOR_CACHE"] = str(Path(tmp) / "cache")  # a fresh scrub proxy
        path = Path(sys.argv[1]) if len(sys.argv) > 1 else video_720p(Path(tmp))
        settings = QSettings(str(Path(tmp) / "s.ini"), QSettings.Format.IniFormat)
        window = MainWindow([choice(), *registered_backends()], settings)
        window.resize(1280, 800)
        window.show()
        waker = QTimer()  # wakes the loop now and then so `wait` re-checks its condition
        waker.start(5)
        ctl = window.ctl
        ctl.open_project(Path(tmp) / "bench.annotator")
        t0 = time.perf_counter()
        ctl.add_video(path)
        wait(app, lambda: ctl.image_index == 0)
        assert ctl.proxy is not None
        proxy_built = ctl.proxy.wait(600) and ctl.loader.preview is not None
        proxy_s = time.perf_counter() - t0
        n = min(FRAMES, ctl.frame_count)
        fill_masks(window, n)
        info = f"{ctl.video.width}x{ctl.video.height}, {n} frames, {OBJECTS} objects"
        base = decode_fps(path, n)
        shape = (ctl.video.height, ctl.video.width)
        layers = [(encode(disc(shape, 220 * k + 150, 360, 90)), (200, 40, 40))
                  for k in range(OBJECTS)]
        t0 = time.perf_counter()
        for _ in range(20):
            compose_rles(layers, shape, OverlayMode.FILL)
        compose_ms = (time.perf_counter() - t0) / 20 * 1000
        forward = scrub(app, window, list(range(1, n)))
        backward = scrub(app, window, list(range(n - 2, n - 32, -1)))
        rng = np.random.default_rng(1)
        picks = [int(f) for f in rng.integers(0, n, 20)]
        jumps = scrub(app, window, picks)
        jumps_first = scrub(app, window, [int(f) for f in rng.integers(0, n, 20)], True)
        ctl.overlays.set_mode(OverlayMode.OUTLINE)
        outline = scrub(app, window, list(range(0, n // 2)))
        rows = [("decode only (baseline)", f"{base:.1f} fps", "1.00"),
                ("scrub forward, fill", f"{forward:.1f} fps", f"{forward / base:.2f}"),
                ("scrub back 30 (cached frames)", f"{backward:.1f} fps",
                 f"{backward / base:.2f}"),
                ("random jumps (exact frame)", f"{jumps:.1f} fps", f"{jumps / base:.2f}"),
                ("random jumps (first display: proxy)", f"{jumps_first:.1f} fps",
                 f"{jumps_first / base:.2f}"),
                ("scrub proxy ready after open",
                 f"{proxy_s:.1f} s" if proxy_built else "none", "(long-GOP files only)"),
                ("scrub forward, outline", f"{outline:.1f} fps", f"{outline / base:.2f}"),
                ("compose 5 masks (numpy)", f"{compose_ms:.1f} ms", "")]
        ctl.overlays.set_mode(OverlayMode.FILL)
        for backend, clicks in (("discs", 30), ("classical", 5)):
            ui, model = click_latency(app, window, backend, clicks)
            rows.append((f"click->overlay p50, {backend}", f"{np.median(ui):.1f} ms",
                         f"{np.median(ui) / max(1e-6, np.median(model)):.2f}x predict"))
            rows.append((f"click->overlay p95, {backend}", f"{p95(ui):.1f} ms",
                         f"{p95(ui) / max(1e-6, p95(model)):.2f}x predict"))
            rows.append((f"  predict alone p95, {backend}", f"{p95(model):.1f} ms", ""))
        ctl.close()
        window.close()
        edge = edgesam_window(Path(tmp), path, settings)
        times = hover_and_step(app, edge, 15)
        rows += [("hover->preview p50, edgesam", f"{np.median(times['hover']):.1f} ms",
                  f"{np.median(times['hover']) / np.median(times['decode']):.2f}x decode"),
                 ("hover->preview p95, edgesam", f"{p95(times['hover']):.1f} ms",
                  "includes the 80 ms rest"),
                 ("  decode alone p95, edgesam", f"{p95(times['decode']):.1f} ms", ""),
                 ("click after step (encoded ahead)", f"{np.median(times['ahead']):.1f} ms",
                  f"{np.median(times['ahead']) / np.median(times['cold']):.2f}x cold"),
                 ("click on a cold frame (encoder)", f"{np.median(times['cold']):.1f} ms", "1.00")]
        edge.ctl.close()
        print(f"bench_ui: {info} ({path.name}), goal scrub >= 30 fps")
        print(f"{'measure':<36}{'value':>12}  ratio")
        for name, value, ratio in rows:
            print(f"{name:<36}{value:>12}  {ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
