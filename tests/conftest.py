"""Shared fixtures: the ../shared folder (skipped cleanly when absent), offscreen Qt."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ANNOTATOR_SHARED", REPO.parent / "shared"))


def shared_path(*parts: str) -> Path:
    """Return a path under ../shared, skipping the test when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared is not next to the checkout)")
    return path


@pytest.fixture(scope="session")
def parity_dir() -> Path:
    """../shared/parity with detinit importable."""
    path = shared_path("parity")
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
    return path


@pytest.fixture(scope="session")
def videos_dir() -> Path:
    """../shared/videos (real clips)."""
    return shared_path("videos")
