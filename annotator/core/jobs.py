"""The long-job convention: a generator that yields `Progress` once per unit of work.

The GUI runs it in a worker and cancels at the next yield; the CLI iterates it with a bar.
Whoever consumes the generator commits results as they arrive, so a cancel keeps finished work.
"""

from __future__ import annotations

import threading
from collections.abc import Generator
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Progress(Generic[T]):
    """One step of a job: `done` of `total` units, with the unit's result (may be None)."""

    done: int
    total: int
    result: T | None = None
    message: str = ""

    @property
    def fraction(self) -> float:
        """Share of the job finished, 0..1."""
        return 1.0 if self.total <= 0 else min(1.0, self.done / self.total)


class CancelToken:
    """A thread-safe flag a job checks between yields (for consumers that are not the iterator)."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the job to stop at its next yield."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """True once `cancel` was called."""
        return self._event.is_set()


Job = Generator[Progress[T], None, None]
