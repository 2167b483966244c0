"""Build the PyInstaller bundle and start the frozen app headless (slow: minutes, ~1 GB temp)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from annotator.backends import list_backends
from annotator.backends.weights import manifests

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "packaging" / "annotator.spec"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The onedir bundle, built once for the module into a temp folder."""
    pytest.importorskip("PyInstaller")
    root = tmp_path_factory.mktemp("frozen")
    env = {k: v for k, v in os.environ.items() if k != "ANNOTATOR_BUNDLE_TORCH"}
    subprocess.run([sys.executable, "-m", "PyInstaller", str(SPEC), "--noconfirm", "--log-level",
                    "WARN", "--distpath", str(root / "dist"), "--workpath", str(root / "build")],
                   cwd=REPO, env=env, check=True, timeout=2100)
    folder = root / "dist" / "annotator"
    assert (folder / "annotator").is_file()
    return folder


def run_frozen(bundle: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the frozen binary headless, with its cache and data in temp folders."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
           "QT_QPA_PLATFORM": "offscreen", "ANNOTATOR_CACHE": str(tmp_path / "cache"),
           "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CACHE_HOME": str(tmp_path / "xcache")}
    return subprocess.run([str(bundle / "annotator"), *args], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=300)


def test_frozen_app_lists_its_backends(bundle, tmp_path):
    done = run_frozen(bundle, tmp_path, "backends")
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line for line in done.stdout.splitlines() if line.strip()}
    assert set(rows) == {entry.id for entry in list_backends()}  # entry points survive freezing
    assert " ready " in rows["classical"] + " "
    for entry in list_backends():
        if entry.spec and "torch" in entry.spec.info.requires:
            assert "needs the Python package 'torch'" in rows[entry.id]


def test_frozen_app_lists_the_packaged_model_manifests(bundle, tmp_path):
    done = run_frozen(bundle, tmp_path, "models", "list")
    assert done.returncode == 0, done.stderr
    listed = {line.split()[0] for line in done.stdout.splitlines()[1:-1]}
    assert listed == set(manifests()) and listed
    assert (bundle / "_internal" / "annotator" / "model_manifests").is_dir()


def test_frozen_app_runs_the_headless_demo_and_ships_qt(bundle, tmp_path):
    done = run_frozen(bundle, tmp_path)  # no display: the GUI falls back to the sample job
    assert done.returncode == 0, done.stderr
    assert "coco export" in done.stdout and "davis export" in done.stdout
    qt = bundle / "_internal" / "PySide6"
    assert any(qt.glob("QtWidgets*")) and (qt / "Qt" / "plugins" / "platforms").is_dir()
