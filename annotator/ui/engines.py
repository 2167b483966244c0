"""Backends as the UI sees them: the listed choices, which one serves each role, and the built
instances (made on first use, on the model lane's thread).

An image Segmenter need not track: propagation then uses the first ready Tracker. Proposers
(automatic instances) and TextGrounders (pseudo-labels, text prompts) are built on demand too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from annotator.backends import DEFAULT_BACKEND, list_backends
from annotator.backends.protocol import GROUNDER, PROPOSER, SEGMENTER, TRACKER
from annotator.core.errors import AnnotatorError

PREFERRED = {SEGMENTER: ("edgesam", DEFAULT_BACKEND), TRACKER: (DEFAULT_BACKEND,),
             PROPOSER: ("yolact",), GROUNDER: ("maskclip",)}
"""Default backend per role when ready, else the first ready one with the role."""
EMBEDDING_CACHES = frozenset({"edgesam"})
"""Segmenters that keep image embeddings by key: their decoder alone is cheap, so the UI may
encode neighbouring frames ahead and preview the mask under the pointer."""


@dataclass(frozen=True)
class BackendChoice:
    """A backend as the tools panel lists it; `problem` set means greyed out with the reason."""

    id: str
    name: str
    problem: str | None
    create: Callable[[], object] | None
    prompts: frozenset[str] = frozenset({"point", "box"})
    roles: frozenset[str] = field(default_factory=frozenset)
    caches_embeddings: bool = False
    """Set for segmenters whose `set_frame(frame, key)` keeps embeddings by key."""

    @property
    def ready(self) -> bool:
        """Whether it can be built here."""
        return self.problem is None and self.create is not None


def registered_backends() -> list[BackendChoice]:
    """Every backend the registry knows, ready or not."""
    out = []
    for entry in list_backends():
        spec = entry.spec
        info = spec.info if spec else None
        out.append(BackendChoice(entry.id, info.name if info else entry.id, entry.problem,
                                 spec.create if spec and entry.problem is None else None,
                                 info.prompts if info else frozenset(),
                                 info.roles if info else frozenset(),
                                 entry.id in EMBEDDING_CACHES))
    return out


def pick(choices: list[BackendChoice], role: str) -> BackendChoice | None:
    """The default ready backend for a role (see PREFERRED)."""
    ready = [c for c in choices if c.ready and role in c.roles]
    preferred = next((c for name in PREFERRED.get(role, ()) for c in ready if c.id == name), None)
    return preferred or (ready[0] if ready else None)


class Engines:
    """Built backend instances by id; thread-safe so worker threads may build them."""

    def __init__(self, choices: list[BackendChoice]) -> None:
        self.choices = choices
        self._built: dict[str, object] = {}
        self._lock = threading.Lock()

    def choice(self, backend_id: str) -> BackendChoice | None:
        """A listed backend by id."""
        return next((c for c in self.choices if c.id == backend_id), None)

    def ready(self, role: str) -> list[BackendChoice]:
        """Ready backends with a role, in listing order."""
        return [c for c in self.choices if c.ready and role in c.roles]

    def built(self, backend_id: str) -> object | None:
        """The instance if it was built already (never builds)."""
        return self._built.get(backend_id)

    def get(self, backend_id: str) -> object:
        """The instance, built on first use (slow: call it on a worker thread)."""
        with self._lock:
            if backend_id not in self._built:
                choice = self.choice(backend_id)
                if choice is None or choice.create is None:
                    raise AnnotatorError(f"backend '{backend_id}' is not ready: pick another "
                                         "one in the tools panel")
                self._built[backend_id] = choice.create()
            return self._built[backend_id]

    def drop(self, backend_id: str) -> None:
        """Forget an instance (frees its model once no job holds it)."""
        with self._lock:
            self._built.pop(backend_id, None)

    def tracker_id(self, segmenter_id: str) -> str:
        """The backend that propagates: the segmenter itself when it tracks."""
        choice = self.choice(segmenter_id)
        if choice is not None and TRACKER in choice.roles:
            return segmenter_id
        tracker = pick(self.choices, TRACKER)
        if tracker is None:
            raise AnnotatorError("no tracker is ready: the classical backend needs opencv")
        return tracker.id
