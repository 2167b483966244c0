"""Widgets for label suggestions: the list beside the proposal (click a name to use it) and the
review dialog of a batch run (accept per object or all)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QGroupBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from annotator.core.types import ObjectId
from annotator.ui.object_list import object_title
from annotator.ui.suggestions import LabelSuggestions, Ranked, describe
from annotator.ui.vocabulary import (
    VOCAB_LABELS,
    VOCAB_RELEASED,
    set_vocabulary_choice,
    vocabulary_choice,
)


class SuggestionsPanel(QGroupBox):
    """The shown proposal's class names, best first: click one (or press L for the first)."""

    def __init__(self, model: LabelSuggestions, parent: QWidget | None = None) -> None:
        super().__init__("Label suggestions", parent)
        self.model = model
        layout = QVBoxLayout(self)
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.list = QListWidget()
        self.list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.list.setMaximumHeight(110)
        self.list.itemClicked.connect(self._clicked)
        self.batch_button = QPushButton("Suggest for unlabelled (Shift+L)")
        self.batch_button.setToolTip("every unlabelled object, from its masks in the In/Out "
                                     "range (or all frames); review before applying")
        self.batch_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.batch_button.clicked.connect(lambda _checked=False: model.suggest_all())
        self.vocabulary = QComboBox()
        self.vocabulary.addItem("Names from: project labels", VOCAB_LABELS)
        self.vocabulary.addItem("Names from: released vocabulary", VOCAB_RELEASED)
        self.vocabulary.setToolTip(
            "project labels: suggest only the project's label names (the released vocabulary "
            "while the project has none); released: Open-Vocabulary SAM's own list (LVIS v1, "
            "1203 classes, with `annotator models get ovsam_lvis_classifier lvis_v1_names`; "
            "else COCO's 80)")
        self.vocabulary.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        ctl = model.ctl
        self.vocabulary.setCurrentIndex(self.vocabulary.findData(vocabulary_choice(ctl.settings)))
        self.vocabulary.currentIndexChanged.connect(
            lambda _i: set_vocabulary_choice(ctl.settings, self.vocabulary.currentData()))
        for widget in (self.hint, self.list, self.vocabulary, self.batch_button):
            layout.addWidget(widget)
        model.changed.connect(self._sync)
        self._sync()

    def _sync(self) -> None:
        self.list.clear()
        for name, prob in self.model.ranked:
            item = QListWidgetItem(f"{name}  {prob:.2f}")
            item.setData(Qt.ItemDataRole.UserRole, name)
            self.list.addItem(item)
        self.hint.setText(
            f"object {self.model.object_id}: {describe(self.model.ranked, 3)} (L takes the "
            "first, click another)" if self.model.ranked else
            "a recognizing backend (Open-Vocabulary SAM) names what it segments")

    def _clicked(self, item: QListWidgetItem) -> None:
        self.model.accept(item.data(Qt.ItemDataRole.UserRole))


class SuggestionReview(QDialog):
    """One row per Object: its suggestions in a box (best first) and an Accept button."""

    applied = Signal(object, str)
    """object id, label name"""

    def __init__(self, results: dict[ObjectId, Ranked], titles: dict[ObjectId, str],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Review label suggestions")
        self.table = QTableWidget(len(results), 3)
        self.table.setHorizontalHeaderLabels(["Object", "Suggested label", ""])
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        self.rows: dict[ObjectId, tuple[QComboBox, QPushButton]] = {}
        for row, (obj, ranked) in enumerate(results.items()):
            self.table.setItem(row, 0, QTableWidgetItem(titles.get(obj, f"object {obj}")))
            box = QComboBox()
            for name, prob in ranked:
                box.addItem(f"{name}  {prob:.2f}", name)
            box.setToolTip(describe(ranked))
            button = QPushButton("Accept")
            button.clicked.connect(lambda _c=False, o=obj: self.accept_one(o))
            self.table.setCellWidget(row, 1, box)
            self.table.setCellWidget(row, 2, button)
            self.rows[obj] = (box, button)
        self.table.resizeColumnsToContents()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.accept_all_button = buttons.addButton(
            "Accept all", QDialogButtonBox.ButtonRole.AcceptRole)
        self.accept_all_button.clicked.connect(self.accept_all)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Pick a label per object; nothing changes until you accept."))
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self.resize(520, 360)

    def accept_one(self, obj: ObjectId) -> None:
        """Apply the label chosen for one Object (its row is then done)."""
        box, button = self.rows[obj]
        if not button.isEnabled():
            return
        self.applied.emit(obj, box.currentData())
        box.setEnabled(False)
        button.setEnabled(False)
        button.setText("Accepted")

    def accept_all(self) -> None:
        """Apply every row not accepted yet, then close."""
        for obj in self.rows:
            self.accept_one(obj)
        self.accept()


def open_review(model: LabelSuggestions, results: dict[ObjectId, Ranked],
                parent: QWidget) -> SuggestionReview:
    """Show the review dialog of a batch run, wired to apply labels."""
    titles = {o.id: object_title(o) for o in model.ctl.objects}
    dialog = SuggestionReview(results, titles, parent)
    dialog.applied.connect(lambda obj, name: model.accept(name, obj))
    dialog.open()
    return dialog
