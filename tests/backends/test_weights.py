"""Manifests (the shipped seed models and hand-written ones) and file status without network."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from annotator.backends import weights
from annotator.backends.weights import (
    ModelError,
    Status,
    get_manifest,
    manifests,
    missing_weights,
    model_state,
    verify_file,
)
from tests.backends.model_server import isolate, payload, write_manifest

REPO_MODELS = Path(__file__).resolve().parents[2] / "models"


@pytest.fixture
def dirs(monkeypatch, tmp_path):
    return isolate(monkeypatch, tmp_path)


def test_every_seed_manifest_parses_with_the_fields_users_need():
    seeds = sorted(REPO_MODELS.glob("*.toml"))
    assert seeds, "models/*.toml ships seed manifests"
    found = {m.id: m for m in weights.read_manifests(REPO_MODELS)}
    assert len(found) == len(seeds)  # every file parsed, ids unique
    for m in found.values():
        assert m.backend and m.file_name and m.url.startswith("https://")
        assert m.license, f"{m.id} names its licence"
        assert not m.sha256 or len(m.sha256) == 64
        assert m.size_bytes is None or m.size_bytes > 0
    assert set(found) <= set(manifests())


def test_missing_fields_get_defaults_and_broken_files_are_skipped(dirs, caplog):
    folder, _ = dirs
    (folder / "bare.toml").write_text('url = "https://example.org/files/bare_v1.pt"\n'
                                      'extra_key = 3\n')
    (folder / "broken.toml").write_text("id = = nope\n")
    (folder / "nothing.toml").write_text('backend = "x"\n')
    with caplog.at_level(logging.WARNING):
        found = manifests()
    bare = found["bare"]
    assert bare.file_name == "bare_v1.pt" and bare.sha256 == "" and bare.size_bytes is None
    assert "broken" not in found and "nothing" not in found
    assert "broken.toml" in caplog.text and "nothing.toml" in caplog.text


def test_extra_manifest_folder_wins_over_shipped_ids(dirs):
    folder, _ = dirs
    shipped = next(iter(weights.read_manifests(REPO_MODELS)))
    write_manifest(folder, shipped.id, "https://mirror.example/x.pth", None)
    assert get_manifest(shipped.id).url == "https://mirror.example/x.pth"


def test_unknown_id_names_the_known_ones(dirs):
    write_manifest(dirs[0], "known_one", "https://e.org/k.pth", None)
    with pytest.raises(ModelError, match=r"unknown model 'nope'.*known_one"):
        get_manifest("nope")
    assert "no model manifest 'nope'" in missing_weights("nope")


def test_status_goes_missing_unverified_ready_bad(dirs):
    folder, cache = dirs
    data = payload(5000)
    write_manifest(folder, "m", "https://e.org/m.pth", data)
    state = model_state(get_manifest("m"))
    assert state.status is Status.MISSING and "annotator models get m" in state.detail
    assert "annotator models get m" in missing_weights("m")
    cache.mkdir(parents=True)
    path = cache / "m.pth"
    path.write_bytes(data)
    assert model_state(get_manifest("m")).status is Status.UNVERIFIED
    assert missing_weights("m") is None  # a present file is usable before it is hashed
    assert verify_file(get_manifest("m"), path) == weights.sha256_file(path)
    assert model_state(get_manifest("m")).status is Status.READY
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # same size, other bytes
    os.utime(path, ns=(1, 1))
    assert model_state(get_manifest("m")).status is Status.UNVERIFIED  # stamp no longer applies
    with pytest.raises(ModelError, match="SHA-256"):
        verify_file(get_manifest("m"), path)
    assert path.is_file()  # verification never deletes
    path.write_bytes(data[:100])
    state = model_state(get_manifest("m"))
    assert state.status is Status.BAD and "expected 5000" in state.detail
    assert "expected 5000" in missing_weights("m")


def test_hand_download_folder_is_searched_first(dirs, tmp_path, monkeypatch):
    folder, cache = dirs
    write_manifest(folder, "m", "https://e.org/m.pth", None)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "m.pth").write_bytes(b"abc")
    cache.mkdir(parents=True)
    (cache / "m.pth").write_bytes(b"abc")
    monkeypatch.setenv(weights.ENV_DIR, str(mine))
    assert weights.find_weights("m") == mine / "m.pth"
    assert model_state(get_manifest("m")).path == mine / "m.pth"


def test_cache_dir_follows_the_environment(dirs, tmp_path):
    assert weights.weights_dir() == tmp_path / "cache" / "models"
