"""A real HTTP server on 127.0.0.1 serving model files for download tests (never the internet).

Serves `files` by name with HTTP Range support, and can misbehave on purpose: drop the
connection part-way once, ignore Range, answer with an error status, or send slowly.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np


@dataclass
class ModelServer:
    """Files by name, behaviours, and a log of (path, Range header) per request."""

    port: int = 0
    files: dict[str, bytes] = field(default_factory=dict)
    drop_once: dict[str, int] = field(default_factory=dict)
    """name -> bytes sent before the connection is cut (first request only)."""
    ignore_range: set[str] = field(default_factory=set)
    status: dict[str, int] = field(default_factory=dict)
    delay_per_chunk: float = 0.0
    requests: list[tuple[str, str | None]] = field(default_factory=list)

    def url(self, name: str) -> str:
        """The URL of a served file."""
        return f"http://127.0.0.1:{self.port}/{name}"


def _handler(server: ModelServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:
            name = self.path.lstrip("/")
            rng = self.headers.get("Range")
            server.requests.append((name, rng))
            if name in server.status:
                self.send_error(server.status[name])
                return
            if name not in server.files:
                self.send_error(404)
                return
            body = server.files[name]
            start = 0
            if rng and name not in server.ignore_range:
                start = int(rng.removeprefix("bytes=").split("-")[0])
                if start >= len(body):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(body)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(len(body) - start))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            cut = server.drop_once.pop(name, None)
            payload = body[start:] if cut is None else body[start:start + cut]
            for i in range(0, len(payload), 4096):
                if server.delay_per_chunk:
                    time.sleep(server.delay_per_chunk)
                try:
                    self.wfile.write(payload[i:i + 4096])
                except (BrokenPipeError, ConnectionResetError):
                    return
            if cut is not None:
                self.close_connection = True

    return Handler


@contextmanager
def serve(server: ModelServer | None = None) -> Iterator[ModelServer]:
    """Run the server on a free port in a thread for the duration of the block."""
    state = server or ModelServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def payload(size: int, seed: int = 0) -> bytes:
    """Deterministic random bytes standing in for a checkpoint."""
    return np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes()


def write_manifest(folder: Path, model_id: str, url: str, data: bytes | None, *,
                   sha: bool = True, size: bool = True, file_name: str = "") -> Path:
    """A `models/*.toml` manifest for a test file (hash and size optional)."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [f'id = "{model_id}"', 'backend = "test"', f'url = "{url}"',
             f'file_name = "{file_name or model_id + ".pth"}"', 'license = "MIT"',
             'description = "a test model"']
    if data is not None and sha:
        lines.append(f'sha256 = "{hashlib.sha256(data).hexdigest()}"')
    if data is not None and size:
        lines.append(f"size_bytes = {len(data)}")
    path = folder / f"{model_id}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def isolate(monkeypatch: object, tmp_path: Path) -> tuple[Path, Path]:
    """Point manifests and the cache at temp folders and keep 127.0.0.1 off any proxy."""
    manifests, cache = tmp_path / "manifests", tmp_path / "cache"
    manifests.mkdir()
    monkeypatch.setenv("ANNOTATOR_MANIFESTS", str(manifests))  # type: ignore[attr-defined]
    monkeypatch.setenv("ANNOTATOR_CACHE", str(cache))  # type: ignore[attr-defined]
    monkeypatch.delenv("ANNOTATOR_MODELS", raising=False)  # type: ignore[attr-defined]
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(var, "127.0.0.1,localhost")  # type: ignore[attr-defined]
    return manifests, cache / "models"
