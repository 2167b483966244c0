"""Backend discovery: the built-ins in one explicit tuple, third parties through entry points.

A plugin that fails to load is listed with the reason instead of breaking the app.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib.metadata import entry_points

from annotator.backends.builtin import BUILTIN_SPECS
from annotator.backends.protocol import BackendSpec
from annotator.core.errors import BackendUnavailable

log = logging.getLogger(__name__)
GROUP = "annotator.backends"
DEFAULT_BACKEND = "classical"


@dataclass(frozen=True)
class Listing:
    """A backend as the UI and CLI list it: ready, or not with the reason and the fix."""

    id: str
    spec: BackendSpec | None
    problem: str | None
    origin: str


def _plugin_listings() -> list[Listing]:
    out = []
    for ep in entry_points(group=GROUP):
        origin = f"plugin {ep.value}"
        try:
            spec = ep.load()
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not stop the app
            out.append(Listing(ep.name, None, f"failed to load: {exc}", origin))
            continue
        if not isinstance(spec, BackendSpec):
            out.append(Listing(ep.name, None, "entry point is not a BackendSpec", origin))
            continue
        out.append(Listing(spec.info.id, spec, spec.unavailable_reason(), origin))
    return out


def list_backends() -> list[Listing]:
    """Every known backend, built-ins first; a duplicate id keeps the first and logs a warning."""
    seen: dict[str, Listing] = {}
    builtins = [Listing(s.info.id, s, s.unavailable_reason(), "built-in") for s in BUILTIN_SPECS]
    for listing in builtins + _plugin_listings():
        if listing.id in seen:
            log.warning("backend id '%s' from %s duplicates %s; keeping the first",
                        listing.id, listing.origin, seen[listing.id].origin)
            continue
        seen[listing.id] = listing
    return list(seen.values())


def get_spec(backend_id: str) -> BackendSpec:
    """The spec of a backend by id, or a clear error naming the known ids."""
    listings = {entry.id: entry for entry in list_backends()}
    entry = listings.get(backend_id)
    if entry is None:
        known = ", ".join(sorted(listings))
        raise BackendUnavailable(f"unknown backend '{backend_id}': choose one of {known} "
                                 "(see `annotator backends`)")
    if entry.spec is None:
        raise BackendUnavailable(f"backend '{backend_id}' is broken: {entry.problem}")
    return entry.spec


def create_backend(backend_id: str = DEFAULT_BACKEND, **options: object) -> object:
    """Build a backend by id; raises BackendUnavailable with the fix when it cannot run."""
    return get_spec(backend_id).create(**options)
