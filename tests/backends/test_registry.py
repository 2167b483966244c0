import sys
import textwrap

import pytest

from annotator.backends import create_backend, get_spec, list_backends
from annotator.core.errors import BackendUnavailable


def test_classical_is_built_in_and_ready():
    (entry,) = [e for e in list_backends() if e.id == "classical"]
    assert entry.problem is None
    assert entry.origin == "built-in"
    backend = create_backend("classical")
    assert backend.info.id == "classical"


def test_unknown_backend_names_the_known_ones():
    with pytest.raises(BackendUnavailable, match=r"unknown backend .nope.*classical"):
        get_spec("nope")


def test_entry_point_plugins_are_found_and_broken_ones_listed(tmp_path, monkeypatch):
    """A real distribution on sys.path: one good plugin, one missing module, one wrong type."""
    dist = tmp_path / "fakeplug-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fakeplug\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(textwrap.dedent("""\
        [annotator.backends]
        fake = fakeplug_mod:SPEC
        gone = fakeplug_missing:SPEC
        wrong = fakeplug_mod:NOT_A_SPEC
        """))
    (tmp_path / "fakeplug_mod.py").write_text(textwrap.dedent("""\
        from annotator.backends.protocol import BackendInfo, BackendSpec
        INFO = BackendInfo(id="fake", name="Fake", roles=frozenset({"segmenter"}),
                           requires=("definitely_not_installed_pkg",),
                           install_hint="pip install definitely-not-installed")
        SPEC = BackendSpec(INFO, "fakeplug_mod:make")
        NOT_A_SPEC = 42
        """))
    monkeypatch.syspath_prepend(str(tmp_path))
    listings = {e.id: e for e in list_backends()}
    assert listings["fake"].origin.startswith("plugin")
    assert "pip install definitely-not-installed" in listings["fake"].problem
    assert "failed to load" in listings["gone"].problem
    assert "not a BackendSpec" in listings["wrong"].problem
    with pytest.raises(BackendUnavailable, match="pip install definitely-not-installed"):
        create_backend("fake")
    sys.modules.pop("fakeplug_mod", None)
