"""A process killed with SIGKILL half-way through a propagation loses no committed frame."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

from annotator.core.masks import decode
from annotator.store import open_project
from tests.factories import square_video


def _count(path) -> int:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        n = conn.execute("SELECT count(*) FROM masks").fetchone()[0]
        conn.close()
        return n
    except sqlite3.Error:
        return 0


def test_sigkill_mid_propagation_keeps_every_committed_frame(tmp_path):
    video, _ = square_video(tmp_path, count=300, size=(320, 240))
    project = tmp_path / "p.annotator"
    proc = subprocess.Popen(
        [sys.executable, "-m", "annotator", "track", str(video), "--frame", "0",
         "--box", "8,108,34,134", "--project", str(project)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen = 0
    deadline = time.time() + 120
    while time.time() < deadline and seen < 20 and proc.poll() is None:
        time.sleep(0.2)
        seen = _count(project)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert seen >= 20
    conn = sqlite3.connect(project)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    with open_project(project) as store:
        (v,) = store.videos()
        records = store.masks(v.id)
        assert len(records) >= seen
        frames = sorted(r.frame for r in records)
        assert frames == list(range(len(frames)))  # forward run: a contiguous prefix
        assert all(decode(r.mask.rle).any() for r in records)
