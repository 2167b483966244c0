"""Verified, resumable checkpoint downloads as a generator job (stdlib `urllib` only).

Bytes go to `NAME.part` next to the target; an interrupted or cancelled transfer keeps the part
and the next run resumes it with an HTTP Range request. The part becomes the target only after
its size and SHA-256 match the manifest (`os.replace`, atomic), so a file that verified is never
deleted or replaced by a broken one. Cancel by stopping the iteration (the part is kept).
"""

from __future__ import annotations

import http.client
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path
from typing import BinaryIO

from annotator import __version__
from annotator.backends.weights import (
    ModelError,
    ModelManifest,
    file_problem,
    record_verified,
    sha256_file,
    stamped_sha256,
    weights_dir,
)
from annotator.core.jobs import Job, Progress

CHUNK = 1 << 18
USER_AGENT = f"annotator/{__version__}"


class DownloadError(ModelError):
    """A transfer failed (network, server, size or hash); the message says what to do."""


def download(manifest: ModelManifest, dest_dir: Path | None = None, *, url: str | None = None,
             retries: int = 3, chunk: int = CHUNK, timeout: float = 30.0) -> Job[Path]:
    """Fetch a model's file into `dest_dir` (default `weights_dir()`), yielding byte progress.

    The last step's `result` is the verified path. A target that already verifies is kept as it
    is. A dropped connection is resumed up to `retries` times within one run.
    """
    folder = dest_dir or weights_dir()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / manifest.file_name
    if target.is_file() and _already_good(manifest, target):
        size = target.stat().st_size
        yield Progress(size, size, target, "already downloaded")
        return
    part = target.with_name(target.name + ".part")
    source = url or manifest.url
    if not source:
        raise DownloadError(f"{manifest.id}: its manifest has no url; download the file by hand "
                            f"and run `annotator models add {manifest.id} PATH`")
    attempts = 0
    while True:
        try:
            yield from _transfer(manifest, source, part, chunk, timeout)
            break
        except _Interrupted as exc:
            attempts += 1
            if attempts > retries:
                raise DownloadError(f"{manifest.id}: {exc} (tried {attempts} times); run the "
                                    "download again to resume") from exc
    yield _finish(manifest, part, target)


class _Interrupted(Exception):
    """The connection dropped mid-transfer (resumable)."""


def _already_good(manifest: ModelManifest, target: Path) -> bool:
    """Whether an existing target matches the manifest (hashing it if not stamped yet)."""
    digest = stamped_sha256(target)
    if digest is None and (manifest.sha256 or manifest.size_bytes is None):
        if file_problem(manifest, target, None):
            return False
        digest = sha256_file(target)
    if file_problem(manifest, target, digest):
        return False
    if digest is not None:
        record_verified(target, digest)
    return True


def _transfer(manifest: ModelManifest, url: str, part: Path, chunk: int,
              timeout: float) -> Job[Path]:
    """One HTTP request: resume `part` if it exists, append until the end of the body."""
    offset = part.stat().st_size if part.is_file() else 0
    if manifest.size_bytes is not None and offset > manifest.size_bytes:
        part.unlink()  # longer than the real file: cannot be a prefix of it (never verified)
        offset = 0
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # the part may already be complete
            return
        raise DownloadError(f"{manifest.id}: the server answered HTTP {exc.code} {exc.reason} "
                            f"for {url}") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(f"{manifest.id}: cannot reach {url} ({reason}); check the "
                            "connection, or download it by hand and run `annotator models add "
                            f"{manifest.id} PATH`") from exc
    with response:
        offset = _resume_offset(response, offset)
        length = response.headers.get("Content-Length")
        total = manifest.size_bytes or (offset + int(length) if length else 0)
        _check_space(part.parent, total - offset, manifest.id)
        with part.open("r+b" if offset else "wb") as out:
            out.truncate(offset)
            out.seek(offset)
            end = offset + int(length) if length else 0
            yield from _copy(response, out, offset, total, end, chunk)


def _resume_offset(response: http.client.HTTPResponse, offset: int) -> int:
    """Where the body starts: `offset` on a 206 that starts there, else 0 (full body)."""
    if offset and response.status == 206:
        spec = response.headers.get("Content-Range", "")
        start = spec.removeprefix("bytes ").split("-", 1)[0]
        if start.strip().isdigit() and int(start) == offset:
            return offset
    return 0


def _copy(response: http.client.HTTPResponse, out: BinaryIO, done: int, total: int, end: int,
          chunk: int) -> Job[Path]:
    """Stream the body into the part file; a body shorter than promised (`end`, 0 when the
    server gave no length) raises `_Interrupted`."""
    while True:
        try:
            block = response.read1(chunk)  # what has arrived: cancel is never far away
        except (http.client.HTTPException, OSError) as exc:
            raise _Interrupted(f"transfer interrupted at {done} bytes ({exc})") from exc
        if not block:
            break
        out.write(block)
        done += len(block)
        yield Progress(done, total, None, "downloading")
    if end and done < end:
        raise _Interrupted(f"transfer interrupted at {done} of {end} bytes")


def _check_space(folder: Path, needed: int, model_id: str) -> None:
    free = shutil.disk_usage(folder).free
    if needed > 0 and free < needed:
        raise DownloadError(f"{model_id}: needs {needed / 1e6:.0f} MB but {folder} has "
                            f"{free / 1e6:.0f} MB free")


def _finish(manifest: ModelManifest, part: Path, target: Path) -> Progress[Path]:
    """Check the part's size and hash, then move it into place atomically."""
    if not part.is_file():
        raise DownloadError(f"{manifest.id}: the server sent no data")
    digest = sha256_file(part)
    problem = file_problem(manifest, part, digest)
    if problem:
        part.unlink()  # a wrong file is not worth resuming
        raise DownloadError(f"{manifest.id}: download rejected: {problem}; the partial file was "
                            "removed, check the manifest's url or try again")
    os.replace(part, target)
    record_verified(target, digest)
    size = target.stat().st_size
    return Progress(size, size, target, "verified")


def add_file(manifest: ModelManifest, source: Path, *, link: bool = False,
             dest_dir: Path | None = None) -> Path:
    """Use a file the user downloaded by hand: check size and hash when known, then copy (or
    symlink) it into the weights folder. The user's file is never moved or deleted."""
    source = source.expanduser().resolve()
    if not source.is_file():
        raise ModelError(f"{source} is not a file")
    digest = sha256_file(source)
    problem = file_problem(manifest, source, digest)
    if problem:
        raise ModelError(f"{manifest.id}: not added: {problem}")
    folder = dest_dir or weights_dir()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / manifest.file_name
    if target.resolve() == source:
        record_verified(target, digest)
        return target
    tmp = target.with_name(target.name + ".part")
    tmp.unlink(missing_ok=True)
    if link:
        tmp.symlink_to(source)
    else:
        shutil.copyfile(source, tmp)
    os.replace(tmp, target)
    record_verified(target, digest)
    return target
