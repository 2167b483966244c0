"""Which names a Recognizer (Open-Vocabulary SAM) classifies among: the project's Labels, or
the backend's released vocabulary. The choice is kept in QSettings."""

from __future__ import annotations

from PySide6.QtCore import QSettings

from annotator.store import ProjectStore

VOCAB_KEY = "recognize/vocabulary"
VOCAB_LABELS, VOCAB_RELEASED = "labels", "released"


def vocabulary_choice(settings: QSettings) -> str:
    """VOCAB_LABELS (the default) or VOCAB_RELEASED."""
    value = str(settings.value(VOCAB_KEY, VOCAB_LABELS))
    return value if value in (VOCAB_LABELS, VOCAB_RELEASED) else VOCAB_LABELS


def set_vocabulary_choice(settings: QSettings, value: str) -> None:
    settings.setValue(VOCAB_KEY, value)


def vocabulary_names(settings: QSettings, store: ProjectStore | None) -> list[str] | None:
    """The project's Label names when chosen and there are any, else None (the backend's
    released vocabulary, e.g. LVIS for Open-Vocabulary SAM)."""
    if vocabulary_choice(settings) != VOCAB_LABELS or store is None:
        return None
    return [label.name for label in store.labels()] or None
