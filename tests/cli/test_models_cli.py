"""`annotator models ...` against a local HTTP server and temp folders (never the internet)."""

from __future__ import annotations

import argparse
import hashlib

import pytest

from annotator.backends.weights import manifests
from annotator.cli.errors import EXIT_ERROR, run_guarded
from annotator.cli.models import add_parsers, human_size
from tests.backends.model_server import isolate, payload, serve, write_manifest


def cli(argv: list[str]) -> int:
    """Parse with the models parsers and run through the CLI's error guard, as `main` does."""
    parser = argparse.ArgumentParser(prog="annotator")
    add_parsers(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return run_guarded(lambda: args.func(args), verbose=False)


@pytest.fixture
def env(monkeypatch, tmp_path):
    manifests_dir, weights = isolate(monkeypatch, tmp_path)
    with serve() as server:
        server.files["a.bin"] = payload(30_000, seed=1)
        server.files["b.bin"] = payload(20_000, seed=2)
        write_manifest(manifests_dir, "aa_test", server.url("a.bin"), server.files["a.bin"])
        write_manifest(manifests_dir, "bb_test", server.url("b.bin"), server.files["b.bin"])
        yield manifests_dir, weights, server


def test_list_shows_every_seed_model_with_its_status(env, capsys):
    assert cli(["models", "list"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines()[1:-1]}
    assert set(rows) == set(manifests()) and len(rows) >= 6  # the seeds and the two test ones
    assert all("missing: not downloaded" in row for row in rows.values())
    assert str(env[1]) in out.splitlines()[-1]
    assert cli(["models"]) == 0 and capsys.readouterr().out == out  # list is the default


def test_get_then_list_path_and_verify(env, capsys):
    _, weights, server = env
    assert cli(["models", "get", "aa_test"]) == 0
    out = capsys.readouterr().out
    assert f"aa_test: {weights / 'aa_test.pth'} (verified" in out
    assert (weights / "aa_test.pth").read_bytes() == server.files["a.bin"]
    cli(["models", "list"])
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "ready: verified" in rows["aa_test"] and "missing" in rows["bb_test"]
    assert cli(["models", "path", "aa_test"]) == 0
    assert capsys.readouterr().out.strip() == str(weights / "aa_test.pth")
    assert cli(["models", "verify"]) == 0
    digest = hashlib.sha256(server.files["a.bin"]).hexdigest()
    assert f"aa_test: ok, sha256 {digest}" in capsys.readouterr().out


def test_get_all_downloads_what_is_missing(env, capsys, monkeypatch):
    _manifests_dir, weights, server = env
    monkeypatch.setattr("annotator.cli.models.manifests",
                        lambda: {k: v for k, v in manifests().items() if k.endswith("_test")})
    assert cli(["models", "get", "--all"]) == 0
    assert (weights / "aa_test.pth").is_file() and (weights / "bb_test.pth").is_file()
    assert len(server.requests) == 2


def test_errors_are_one_line_and_exit_2(env, capsys):
    _, _weights, server = env
    server.status["a.bin"] = 500
    assert cli(["models", "get", "aa_test"]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert err.startswith("error: aa_test: the server answered HTTP 500") and err.count("\n") == 1
    assert cli(["models", "get", "nope"]) == EXIT_ERROR
    assert "unknown model 'nope'" in capsys.readouterr().err
    assert cli(["models", "path", "bb_test"]) == EXIT_ERROR
    assert "annotator models get bb_test" in capsys.readouterr().err
    assert cli(["models", "get"]) == EXIT_ERROR


def test_verify_reports_a_corrupt_file_and_keeps_it(env, capsys):
    _, weights, _ = env
    weights.mkdir(parents=True)
    bad = weights / "bb_test.pth"
    bad.write_bytes(b"\0" * 20_000)
    assert cli(["models", "verify", "bb_test"]) == EXIT_ERROR
    assert "bb_test: BAD" in capsys.readouterr().out and bad.is_file()


def test_add_a_hand_downloaded_file(env, capsys, tmp_path):
    _, weights, server = env
    mine = tmp_path / "a_download.pth"
    mine.write_bytes(server.files["a.bin"])
    assert cli(["models", "add", "aa_test", str(mine)]) == 0
    assert "copied to" in capsys.readouterr().out
    assert mine.is_file() and (weights / "aa_test.pth").read_bytes() == mine.read_bytes()
    assert cli(["models", "add", "bb_test", str(mine)]) == EXIT_ERROR
    assert "not added" in capsys.readouterr().err
    assert server.requests == []


def test_mirror_url(env, capsys):
    _, _weights, server = env
    server.files["mirror/a.bin"] = server.files["a.bin"]
    assert cli(["models", "get", "aa_test", "--url", server.url("mirror/a.bin")]) == 0
    assert server.requests == [("mirror/a.bin", None)]


def test_human_size():
    assert [human_size(s) for s in (None, 12, 38_800_000, 2_500_000_000)] == \
        ["?", "12 B", "38.8 MB", "2.50 GB"]
