"""The front door: the GUI when there is a display, else the same job on the sample, headless."""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import sys
from pathlib import Path

from platformdirs import user_data_dir

from annotator.backends import create_backend
from annotator.cli.commands import export_project, run_with_bar
from annotator.core.types import Prompts
from annotator.store import open_project
from annotator.tools.sample import SAMPLE_BOX, sample_video
from annotator.tools.track import track
from annotator.tools.videos import add_video


def display_reason() -> str | None:
    """Why no window can be shown here, or None when one can."""
    if importlib.util.find_spec("PySide6") is None:
        return "PySide6 is not installed (pip install 'annotator[gui]')"
    if os.environ.get("QT_QPA_PLATFORM", "") in ("offscreen", "minimal"):
        return f"QT_QPA_PLATFORM={os.environ['QT_QPA_PLATFORM']}"
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY")
                                                 or os.environ.get("WAYLAND_DISPLAY")):
        return "no display (DISPLAY and WAYLAND_DISPLAY are unset)"
    if importlib.util.find_spec("annotator.ui.app") is None:
        return "this build has no desktop UI yet"
    return None


def cmd_gui(args: argparse.Namespace) -> int:
    """Reached when no window can be opened (`annotator.__main__` starts the GUI otherwise)."""
    reason = display_reason() or "the desktop UI could not start"
    print(f"cannot open a window: {reason}; running the same job headless", file=sys.stderr)
    return cmd_demo(args)


def cmd_demo(_args: argparse.Namespace) -> int:
    """Track the sample's ball from a box on frame 0 and export COCO and DAVIS."""
    folder = Path(user_data_dir("annotator")) / "sample"
    video_path = sample_video()
    project = folder / "sample.annotator"
    folder.mkdir(parents=True, exist_ok=True)
    for stale in (project, folder / "export"):
        if stale.is_dir():
            shutil.rmtree(stale)
        elif stale.exists():
            stale.unlink()
    tracker = create_backend("classical")
    with open_project(project) as store:
        video, source = add_video(store, video_path)
        obj = store.add_object(video.id, "ball")
        job = track(store, tracker, video, source, 0, Prompts(box=SAMPLE_BOX), obj,  # type: ignore[arg-type]
                    backend="classical")
        run_with_bar(job, "sample")
        source.close()
        print(f"sample video: {video_path}")
        print(f"project:      {project} ({store.count_masks()} masks)")
        for fmt in ("coco", "davis"):
            path = export_project(store, fmt, folder / "export" / fmt)
            print(f"{fmt} export:  {path}")
    return 0
