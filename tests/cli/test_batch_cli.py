"""`annotator propagate`: summary table, failures, and a kill half-way followed by a restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from annotator.store import open_project
from annotator.tools.batch import plan
from tests.tools.test_batch import add_real_clips, created, make_project

COMMAND = [sys.executable, "-m", "annotator.cli.batch"]


def _main(argv: list[str]) -> int:
    from annotator.cli.batch import main

    return main(argv)


def test_summary_table_then_rerun_skips(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    project = tmp_path / "p.annotator"
    make_project(project, tmp_path, count=2)
    assert _main([str(project), "--engine", "inline"]) == 0
    out = capsys.readouterr()
    assert "video" in out.out and "frames/s" in out.out
    assert "total 2 videos  0 failed" in out.out
    assert "[1] sq0:" in out.err and "[2] sq1:" in out.err
    assert _main([str(project), "--engine", "inline"]) == 0
    out = capsys.readouterr()
    assert out.err.count("up to date, skipped") == 2


def test_bad_video_is_reported_and_the_rest_finishes(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "p.annotator"
    make_project(project, tmp_path, count=2, bad=True)
    assert _main([str(project), "--engine", "inline"]) == 1
    out = capsys.readouterr().out
    assert "1 failed" in out and "failed: broken:" in out
    with open_project(project) as store:
        good = [v for v in store.videos() if v.name != "broken"]
        assert all(store.count_masks(v.id) == v.frame_count for v in good)


def test_unknown_video_is_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    project = tmp_path / "p.annotator"
    make_project(project, tmp_path, count=1)
    assert _main([str(project), "--videos", "nope", "--engine", "inline"]) == 2
    assert "no video named nope" in capsys.readouterr().err


def _remaining(project: Path) -> set[str] | None:
    try:
        with open_project(project, create=False) as store:
            tasks, _ = plan(store, str(project), "classical", "1")
            return {t.video.name for t in tasks}
    except Exception:  # noqa: BLE001 - the writer may hold the file for a moment
        return None


def _kill_half_way_then_restart(project: Path, timeout: float = 600) -> None:
    """Start the batch, SIGKILL its process group once some videos are done, restart it."""
    with open_project(project) as store:
        names = {v.name for v in store.videos()}
    proc = subprocess.Popen([*COMMAND, str(project), "--workers", "1"], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline, left = time.time() + timeout, names
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)
        left = _remaining(project) or left
        if len(names) - len(left) >= 2:
            break
    assert proc.poll() is None, "the batch ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    left = _remaining(project)
    assert left and left != names, "nothing or everything was finished at the kill"
    with open_project(project) as store:
        before = created(store)
        finished = {v.id for v in store.videos() if v.name not in left}
    out = subprocess.run([*COMMAND, str(project), "--workers", "1"], capture_output=True,
                         text=True, timeout=timeout, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.count("skipped") >= len(names) - len(left)
    with open_project(project) as store:
        after = created(store)
        for video in store.videos():  # the squares stay in view: every frame has its mask
            if video.name.startswith("sq"):
                assert store.count_masks(video.id) == video.frame_count, video.name
        kept = {k: t for k, t in before.items()
                if store.object(k[0]).video_id in finished}
    assert kept and all(after[k] == t for k, t in kept.items()), "finished videos were redone"
    assert _remaining(project) == set()


@pytest.mark.slow  # ~20 s: four interpreter starts
def test_kill_half_way_and_restart_finishes_without_redoing(tmp_path: Path) -> None:
    project = tmp_path / "p.annotator"
    make_project(project, tmp_path, count=5, frames=60)
    _kill_half_way_then_restart(project)


@pytest.mark.slow
def test_kill_and_restart_with_real_clips(tmp_path: Path, videos_dir: Path) -> None:
    """5 synthetic videos and 2 real clips (keyframed mid-clip), killed and resumed."""
    project = tmp_path / "p.annotator"
    make_project(project, tmp_path, count=5, frames=40)
    add_real_clips(project, videos_dir)
    _kill_half_way_then_restart(project, timeout=900)
