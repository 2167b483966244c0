"""The Models dialog downloads from a local HTTP server in a worker, with progress and cancel."""

from __future__ import annotations

import pytest

from annotator.backends.weights import Status, get_manifest, model_state
from annotator.ui.models_dialog import ModelsDialog
from tests.backends.model_server import isolate, payload, serve, write_manifest

pytestmark = pytest.mark.gui
SIZE = 400_000


@pytest.fixture
def env(monkeypatch, tmp_path):
    manifests_dir, weights = isolate(monkeypatch, tmp_path)
    with serve() as server:
        server.files["m.bin"] = payload(SIZE)
        write_manifest(manifests_dir, "m_test", server.url("m.bin"), server.files["m.bin"])
        yield weights, server


@pytest.fixture
def dialog(qtbot, env):
    d = ModelsDialog()
    qtbot.addWidget(d)
    d.show()
    yield d
    d.cancel()
    qtbot.waitUntil(lambda: not d.busy, timeout=10000)


def status_text(d: ModelsDialog, model_id: str) -> str:
    for row in range(d.models.rowCount()):
        if d.models.item(row, 0).text() == model_id:
            return d.models.item(row, 4).text()
    raise AssertionError(model_id)


def test_lists_backends_and_models_with_status(dialog):
    backends = {dialog.backends.item(r, 0).text(): dialog.backends.item(r, 1).text()
                for r in range(dialog.backends.rowCount())}
    assert backends["classical"] == "ready"
    assert status_text(dialog, "m_test").startswith("missing")
    assert dialog.models.rowCount() >= 7  # the seed manifests and the test one
    assert not dialog.download_button.isEnabled()  # nothing selected yet


def test_download_button_fetches_and_verifies(qtbot, dialog, env):
    weights, server = env
    dialog.select("m_test")
    assert dialog.download_button.isEnabled()
    with qtbot.waitSignal(dialog.downloaded, timeout=10000) as signal:
        qtbot.mouseClick(dialog.download_button, qtbot_button())
    assert signal.args == ["m_test"]
    qtbot.waitUntil(lambda: not dialog.busy, timeout=5000)
    assert (weights / "m_test.pth").read_bytes() == server.files["m.bin"]
    assert status_text(dialog, "m_test") == "ready: verified"
    assert dialog.progress.value() == 1000


def test_cancel_keeps_the_part_and_download_resumes(qtbot, dialog, env):
    weights, server = env
    server.delay_per_chunk = 0.01  # about 1 s for the whole file
    dialog.select("m_test")
    assert dialog.download(dialog.selected_id())
    assert dialog.cancel_button.isEnabled() and not dialog.download_button.isEnabled()
    part = weights / "m_test.pth.part"
    qtbot.waitUntil(lambda: part.is_file() and part.stat().st_size > 0, timeout=5000)
    qtbot.mouseClick(dialog.cancel_button, qtbot_button())
    qtbot.waitUntil(lambda: not dialog.busy, timeout=5000)
    assert "cancelled" in dialog.message.text()
    kept = part.stat().st_size
    assert 0 < kept < SIZE and model_state(get_manifest("m_test")).status is Status.MISSING
    server.delay_per_chunk = 0.0
    with qtbot.waitSignal(dialog.downloaded, timeout=10000):
        dialog.download("m_test")
    assert server.requests[-1] == ("m.bin", f"bytes={kept}-")
    assert (weights / "m_test.pth").read_bytes() == server.files["m.bin"]


def test_server_error_is_shown_not_raised(qtbot, dialog, env):
    _, server = env
    server.status["m.bin"] = 500
    dialog.download("m_test")
    qtbot.waitUntil(lambda: not dialog.busy, timeout=5000)
    assert "HTTP 500" in dialog.message.text()
    assert status_text(dialog, "m_test").startswith("missing")


def test_add_a_hand_downloaded_file(dialog, env, tmp_path):
    weights, server = env
    mine = tmp_path / "by_hand.pth"
    mine.write_bytes(server.files["m.bin"])
    assert dialog.add("m_test", mine) == weights / "m_test.pth"
    assert mine.is_file() and status_text(dialog, "m_test") == "ready: verified"
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"nope")
    assert dialog.add("m_test", bad) is None and "not added" in dialog.message.text()


def qtbot_button():
    from PySide6.QtCore import Qt

    return Qt.MouseButton.LeftButton
