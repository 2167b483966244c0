"""Backends: the plugin protocol, the registry and the built-in adapters."""

from annotator.backends.protocol import BackendInfo, BackendSpec, Segmenter, Tracker
from annotator.backends.registry import DEFAULT_BACKEND, create_backend, get_spec, list_backends

__all__ = ["DEFAULT_BACKEND", "BackendInfo", "BackendSpec", "Segmenter", "Tracker",
           "create_backend", "get_spec", "list_backends"]
