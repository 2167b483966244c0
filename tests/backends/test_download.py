"""Downloads against a real HTTP server on 127.0.0.1: resume, hash check, errors, cancel."""

from __future__ import annotations

import hashlib
import socket

import pytest

from annotator.backends.download import DownloadError, add_file, download
from annotator.backends.weights import ModelError, Status, get_manifest, model_state
from tests.backends.model_server import isolate, payload, serve, write_manifest

SIZE = 200_000


@pytest.fixture
def env(monkeypatch, tmp_path):
    """(manifest folder, weights folder, server) with one file `m.bin` served."""
    manifests, weights = isolate(monkeypatch, tmp_path)
    with serve() as server:
        server.files["m.bin"] = payload(SIZE)
        yield manifests, weights, server


def drain(job):
    steps = list(job)
    return steps, steps[-1].result


def test_download_verifies_and_moves_into_place(env):
    manifests, weights, server = env
    write_manifest(manifests, "m", server.url("m.bin"), server.files["m.bin"])
    steps, path = drain(download(get_manifest("m"), chunk=16_384))
    assert path == weights / "m.pth"
    assert path.read_bytes() == server.files["m.bin"]
    assert not (weights / "m.pth.part").exists()
    dones = [s.done for s in steps]
    assert dones == sorted(dones) and dones[-1] == SIZE and len(steps) > 5
    assert all(s.total == SIZE for s in steps)
    assert model_state(get_manifest("m")).status is Status.READY


def test_dropped_connection_is_resumed_with_a_range_request(env):
    manifests, _, server = env
    server.drop_once["m.bin"] = 70_000
    write_manifest(manifests, "m", server.url("m.bin"), server.files["m.bin"])
    _, path = drain(download(get_manifest("m"), chunk=8192))
    assert path.read_bytes() == server.files["m.bin"]
    assert server.requests == [("m.bin", None), ("m.bin", "bytes=70000-")]


def test_cancel_keeps_the_part_and_the_next_run_resumes(env):
    manifests, weights, server = env
    write_manifest(manifests, "m", server.url("m.bin"), server.files["m.bin"])
    job = download(get_manifest("m"), chunk=8192)
    for step in job:
        if step.done >= 50_000:
            break
    job.close()  # what the GUI's cancel and the CLI's Ctrl-C do
    part = weights / "m.pth.part"
    kept = part.stat().st_size
    assert 50_000 <= kept < SIZE and not (weights / "m.pth").exists()
    _, path = drain(download(get_manifest("m")))
    assert server.requests[-1] == ("m.bin", f"bytes={kept}-")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == \
        hashlib.sha256(server.files["m.bin"]).hexdigest()


def test_server_that_ignores_range_restarts_cleanly(env):
    manifests, weights, server = env
    server.ignore_range.add("m.bin")
    write_manifest(manifests, "m", server.url("m.bin"), server.files["m.bin"])
    weights.mkdir(parents=True)
    (weights / "m.pth.part").write_bytes(server.files["m.bin"][:1000])
    _, path = drain(download(get_manifest("m")))
    assert path.read_bytes() == server.files["m.bin"]


def test_complete_part_answered_416_is_verified(env):
    manifests, weights, server = env
    write_manifest(manifests, "m", server.url("m.bin"), server.files["m.bin"], size=False)
    weights.mkdir(parents=True)
    (weights / "m.pth.part").write_bytes(server.files["m.bin"])
    _, path = drain(download(get_manifest("m")))
    assert path.read_bytes() == server.files["m.bin"]
    assert server.requests == [("m.bin", f"bytes={SIZE}-")]


def test_wrong_hash_is_rejected_and_nothing_is_kept(env):
    manifests, weights, server = env
    write_manifest(manifests, "m", server.url("m.bin"), payload(SIZE, seed=1))
    with pytest.raises(DownloadError, match=r"rejected: .*SHA-256"):
        drain(download(get_manifest("m")))
    assert not (weights / "m.pth").exists() and not (weights / "m.pth.part").exists()


def test_wrong_size_is_rejected(env):
    manifests, _, server = env
    write_manifest(manifests, "m", server.url("m.bin"), payload(SIZE + 10), sha=False)
    with pytest.raises(DownloadError, match=f"has {SIZE} bytes, expected {SIZE + 10}"):
        drain(download(get_manifest("m")))


def test_server_error_is_reported(env):
    manifests, _, server = env
    server.status["m.bin"] = 500
    write_manifest(manifests, "m", server.url("m.bin"), server.files["m.bin"])
    with pytest.raises(DownloadError, match="HTTP 500"):
        drain(download(get_manifest("m")))


def test_unreachable_host_says_how_to_add_by_hand(env):
    manifests, _, _ = env
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    write_manifest(manifests, "m", f"http://127.0.0.1:{port}/m.bin", b"x")
    with pytest.raises(DownloadError, match=r"cannot reach .*annotator models add m PATH"):
        drain(download(get_manifest("m"), timeout=5))


def test_a_verified_file_is_never_replaced_or_deleted(env):
    manifests, _weights, server = env
    write_manifest(manifests, "m", server.url("m.bin"), server.files["m.bin"])
    drain(download(get_manifest("m")))
    server.status["m.bin"] = 500
    steps, path = drain(download(get_manifest("m")))
    assert steps[-1].message == "already downloaded"
    assert path.read_bytes() == server.files["m.bin"] and len(server.requests) == 1


def test_a_bad_file_stays_until_a_good_one_replaces_it(env):
    manifests, weights, server = env
    weights.mkdir(parents=True)
    (weights / "m.pth").write_bytes(b"truncated")
    write_manifest(manifests, "m", server.url("m.bin"), server.files["m.bin"])
    assert model_state(get_manifest("m")).status is Status.BAD
    server.status["m.bin"] = 503
    with pytest.raises(DownloadError, match="HTTP 503"):
        drain(download(get_manifest("m")))
    assert (weights / "m.pth").read_bytes() == b"truncated"
    del server.status["m.bin"]
    _, path = drain(download(get_manifest("m")))
    assert path.read_bytes() == server.files["m.bin"]


def test_unknown_hash_is_recorded_after_download(env):
    manifests, _, server = env
    write_manifest(manifests, "m", server.url("m.bin"), None)
    drain(download(get_manifest("m")))
    state = model_state(get_manifest("m"))
    assert state.status is Status.READY and state.detail == "verified"


def test_add_file_copies_or_links_and_keeps_the_users_file(env, tmp_path):
    manifests, weights, server = env
    data = server.files["m.bin"]
    write_manifest(manifests, "m", server.url("m.bin"), data)
    mine = tmp_path / "Downloads" / "m.pth"
    mine.parent.mkdir()
    mine.write_bytes(data)
    target = add_file(get_manifest("m"), mine)
    assert target == weights / "m.pth" and target.read_bytes() == data and mine.is_file()
    assert not target.is_symlink()
    linked = add_file(get_manifest("m"), mine, link=True)
    assert linked.is_symlink() and linked.resolve() == mine.resolve()
    assert model_state(get_manifest("m")).status is Status.READY
    assert server.requests == []


def test_add_file_rejects_a_wrong_file(env, tmp_path):
    manifests, weights, server = env
    write_manifest(manifests, "m", server.url("m.bin"), server.files["m.bin"])
    wrong = tmp_path / "wrong.pth"
    wrong.write_bytes(b"not it")
    with pytest.raises(ModelError, match="not added"):
        add_file(get_manifest("m"), wrong)
    assert wrong.is_file() and not (weights / "m.pth").exists()
