"""The Models dialog: which backends are ready, which checkpoints are here, download or add them.

Downloads run in a superqt generator worker (never on the GUI thread); Cancel stops at the next
chunk and keeps the partial file, so the next Download resumes it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QCloseEvent, QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from superqt.utils import GeneratorWorker, create_worker

from annotator.backends import list_backends
from annotator.backends.download import add_file, download
from annotator.backends.weights import ModelState, manifests, model_state, weights_dir
from annotator.core.errors import AnnotatorError
from annotator.core.jobs import Job, Progress

MODEL_COLUMNS = ("Model", "Backend", "Size", "Licence", "Status")


def _run(job: Job[Path]) -> Job[Path]:
    """The worker's generator: the download job itself, one yield per chunk."""
    yield from job


def _size(size: int | None) -> str:
    return "?" if size is None else f"{size / 1e6:.1f} MB"


def _table(headers: tuple[str, ...]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(list(headers))
    table.verticalHeader().hide()
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.horizontalHeader().setStretchLastSection(True)
    return table


class ModelsDialog(QDialog):
    """Backends with their status, model checkpoints with theirs, and the actions to fix them."""

    downloaded = Signal(str)
    """model id, after its file was verified and moved into place (refresh the backends)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Models")
        self._worker: Any = None
        self._job: Job[Path] | None = None
        self._active = ""
        self.backends = _table(("Backend", "Status"))
        self.models = _table(MODEL_COLUMNS)
        self.models.itemSelectionChanged.connect(self._sync)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.message = QLabel(f"Checkpoints go to {weights_dir()}")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.download_button = QPushButton("Download")
        self.download_button.clicked.connect(lambda: self.download(self.selected_id() or ""))
        self.cancel_button = QPushButton("Cancel download")
        self.cancel_button.clicked.connect(self.cancel)
        self.add_button = QPushButton("Add file…")
        self.add_button.setToolTip("Use a checkpoint you downloaded by hand (checked, copied)")
        self.add_button.clicked.connect(self._add_clicked)
        folder = QPushButton("Open folder")
        folder.clicked.connect(self._open_folder)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        actions = QHBoxLayout()
        for button in (self.download_button, self.cancel_button, self.add_button, folder):
            actions.addWidget(button)
        actions.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Backends"))
        layout.addWidget(self.backends, 1)
        layout.addWidget(QLabel("Model checkpoints"))
        layout.addWidget(self.models, 2)
        layout.addLayout(actions)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        layout.addWidget(close)
        self.resize(820, 560)
        self.refresh()

    @property
    def busy(self) -> bool:
        """Whether a download runs."""
        return self._worker is not None

    def states(self) -> dict[str, ModelState]:
        """Every model's status, by id, as shown."""
        return {m.id: model_state(m) for m in manifests().values()}

    def refresh(self) -> None:
        """Re-read backends and model files (cheap: no hashing)."""
        listing = list_backends()
        self.backends.setRowCount(len(listing))
        for row, entry in enumerate(listing):
            status = "ready" if entry.problem is None else f"unavailable: {entry.problem}"
            self.backends.setItem(row, 0, QTableWidgetItem(entry.id))
            self.backends.setItem(row, 1, QTableWidgetItem(status))
        keep = self.selected_id()
        states = sorted(self.states().values(), key=lambda s: (s.manifest.backend, s.manifest.id))
        self.models.setRowCount(len(states))
        for row, state in enumerate(states):
            m = state.manifest
            cells = (m.id, m.backend, _size(m.size_bytes), m.license,
                     f"{state.status.value}: {state.detail}")
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(f"{m.description}\n{m.url}\n{m.license_url}".strip())
                self.models.setItem(row, col, item)
            if m.id == keep:
                self.models.selectRow(row)
        self.models.resizeColumnsToContents()
        self._sync()

    def selected_id(self) -> str | None:
        """The id of the selected model row."""
        rows = self.models.selectionModel().selectedRows()
        if not rows:
            return None
        item = self.models.item(rows[0].row(), 0)
        return item.text() if item else None

    def select(self, model_id: str) -> None:
        """Select a model's row."""
        for row in range(self.models.rowCount()):
            item = self.models.item(row, 0)
            if item is not None and item.text() == model_id:
                self.models.selectRow(row)

    def download(self, model_id: str, url: str | None = None) -> bool:
        """Start downloading a model in the background; False if busy or unknown."""
        found = manifests()
        if self.busy or model_id not in found:
            return False
        self._job = download(found[model_id], url=url)
        worker = create_worker(_run, self._job, _start_thread=False,
                               _connect={"errored": self._on_error})  # shown, not re-raised
        worker.yielded.connect(self._on_progress)
        worker.aborted.connect(lambda: self._say(f"{model_id}: cancelled; Download resumes it"))
        worker.returned.connect(lambda _: self._on_done(model_id))
        worker.finished.connect(self._on_finished)
        self._worker, self._active = worker, model_id
        self.progress.setValue(0)
        self._say(f"downloading {model_id}…")
        self._sync()
        worker.start()
        return True

    def cancel(self) -> None:
        """Stop the running download at its next chunk (the partial file is kept)."""
        if isinstance(self._worker, GeneratorWorker):
            self._worker.quit()

    def add(self, model_id: str, path: Path) -> Path | None:
        """Check a hand-downloaded file and copy it into the weights folder."""
        found = manifests()
        if model_id not in found:
            return None
        try:
            target = add_file(found[model_id], path)
        except AnnotatorError as exc:
            self._say(str(exc), error=True)
            return None
        self._say(f"{model_id}: copied to {target} (verified)")
        self.refresh()
        self.downloaded.emit(model_id)
        return target

    def _on_progress(self, step: Progress[Path]) -> None:
        if step.total > 0:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(step.fraction * 1000))
        else:
            self.progress.setRange(0, 0)  # size unknown: busy indicator
        self.progress.setFormat(f"{self._active}: {step.done / 1e6:.1f} MB")

    def _on_done(self, model_id: str) -> None:
        self.progress.setRange(0, 1000)
        self.progress.setValue(1000)
        self._say(f"{model_id}: downloaded and verified")
        self.downloaded.emit(model_id)

    def _on_error(self, exc: Exception) -> None:
        text = str(exc) if isinstance(exc, AnnotatorError) else f"{type(exc).__name__}: {exc}"
        self._say(text, error=True)

    def _on_finished(self) -> None:
        if self._job is not None:
            self._job.close()  # close the file and the connection now, not at garbage collection
        self._worker, self._job, self._active = None, None, ""
        self.refresh()

    def _say(self, text: str, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setStyleSheet("color: #c0392b;" if error else "")

    def _sync(self) -> None:
        selected = self.selected_id() is not None
        self.download_button.setEnabled(selected and not self.busy)
        self.add_button.setEnabled(selected and not self.busy)
        self.cancel_button.setEnabled(self.busy)

    def _add_clicked(self) -> None:
        model_id = self.selected_id()
        if model_id is None:
            return
        name = manifests()[model_id].file_name
        path, _ = QFileDialog.getOpenFileName(self, f"Checkpoint file for {model_id}", "",
                                              f"{name} ({name});;All (*)")
        if path:
            self.add(model_id, Path(path))

    def _open_folder(self) -> None:
        folder = weights_dir()
        folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def closeEvent(self, event: QCloseEvent) -> None:
        """Cancel a running download on close (the partial file is kept)."""
        self.cancel()
        super().closeEvent(event)

    def reject(self) -> None:
        """Close (Esc, the Close button): cancels a running download first."""
        self.cancel()
        super().reject()
