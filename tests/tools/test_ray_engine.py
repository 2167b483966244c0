"""The batch on a local Ray cluster (127.0.0.1, 2 CPUs): same masks as in-process, bad videos
reported, a clear message without Ray."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from annotator.core.errors import BackendUnavailable
from annotator.store import open_project
from annotator.tools import ray_engine
from tests.tools.test_batch import add_real_clips, drain, export_doc, make_project


@pytest.fixture(scope="module")
def ray_local() -> Iterator[object]:
    ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'annotator[ray]'")
    ray.init(address="local", num_cpus=2, include_dashboard=False,
             _node_ip_address="127.0.0.1", log_to_driver=False)
    yield ray
    ray.shutdown()


def test_missing_ray_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # what an environment without Ray imports
    with pytest.raises(BackendUnavailable, match=r"pip install 'annotator\[ray\]'"):
        ray_engine.import_ray()


def test_ray_batch_matches_inline_and_skips_a_bad_video(ray_local: object, tmp_path: Path
                                                         ) -> None:
    inline, remote = tmp_path / "a.annotator", tmp_path / "b.annotator"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    make_project(inline, tmp_path / "a", count=3, bad=True)
    make_project(remote, tmp_path / "b", count=3, bad=True)
    drain(inline, engine="inline")
    results = drain(remote, engine="ray")
    assert sorted((r.name, r.error is None) for r in results) == [
        ("broken", False), ("sq0", True), ("sq1", True), ("sq2", True)]
    with open_project(inline) as a, open_project(remote) as b:
        assert export_doc(a, tmp_path / "xa") == export_doc(b, tmp_path / "xb")
    assert all(r.skipped for r in drain(remote, engine="ray") if r.name != "broken")


def _forget_cluster(port: int) -> None:
    """Remove the address file `ray start` left, if it names our (now stopped) head."""
    marker = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"
    if marker.exists() and marker.read_text().strip().endswith(f":{port}"):
        marker.unlink()


@pytest.mark.slow
def test_cli_on_a_ray_cluster_started_with_ray_start(tmp_path: Path) -> None:
    """`ray start --head` on 127.0.0.1 (token auth off on loopback), then `--ray-address`."""
    pytest.importorskip("ray", reason="Ray is not installed: pip install 'annotator[ray]'")
    ray_cli = Path(sys.executable).parent / "ray"
    if not ray_cli.exists():
        pytest.skip("the `ray` command is not next to this Python")
    project = tmp_path / "p.annotator"
    make_project(project, tmp_path, count=5)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    # --block keeps the head's processes in our new session: we stop exactly those (never
    # `ray stop`, which would end every Ray cluster on the machine).
    head = subprocess.Popen([str(ray_cli), "start", "--head", "--block", "--node-ip-address",
                             "127.0.0.1", "--port", str(port), "--num-cpus", "2",
                             "--include-dashboard", "false", "--disable-usage-stats"],
                            env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        out = subprocess.run([sys.executable, "-m", "annotator.cli.batch", str(project),
                              "--engine", "ray", "--ray-address", f"127.0.0.1:{port}"],
                             capture_output=True, text=True, env=env, timeout=300, check=False)
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait()
        _forget_cluster(port)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "total 5 videos" in out.stdout and "0 failed" in out.stdout
    with open_project(project) as store:
        assert all(store.count_masks(v.id) == v.frame_count for v in store.videos())


@pytest.mark.slow
def test_ray_batch_with_real_clips(ray_local: object, tmp_path: Path, videos_dir: Path) -> None:
    """5 synthetic videos and 2 real clips complete on Ray; a rerun skips them all."""
    project = tmp_path / "p.annotator"
    make_project(project, tmp_path, count=5, frames=40)
    real = add_real_clips(project, videos_dir)
    results = drain(project, engine="ray")
    assert len(results) == 7 and all(r.error is None for r in results), results
    with open_project(project) as store:
        for video in store.videos():
            done = {r.name: r for r in results}[video.name]
            if video.name in real:  # two runs from the middle keyframe pass every other frame
                assert done.frames == video.frame_count - 1
            else:
                assert store.count_masks(video.id) == video.frame_count
    assert all(r.skipped for r in drain(project, engine="ray"))


@pytest.mark.slow
def test_ray_workers_write_through_postgres(ray_local: object, tmp_path: Path) -> None:
    """With a database server the workers commit frame by frame themselves."""
    from tests.store.pg import postgres_server

    sqlite = tmp_path / "p.annotator"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with postgres_server() as pg:
        url = pg.new_database()
        make_project(url, tmp_path / "a", count=4)
        make_project(sqlite, tmp_path / "b", count=4)
        assert all(r.error is None for r in drain(url, engine="ray"))
        drain(sqlite, engine="inline")
        with open_project(url) as a, open_project(sqlite) as b:
            assert export_doc(a, tmp_path / "xa") == export_doc(b, tmp_path / "xb")
            assert all(run.finished for v in a.videos() for run in a.batch_runs(v.id))
