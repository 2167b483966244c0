"""A throwaway PostgreSQL server on 127.0.0.1 for tests, from Debian's postgresql binaries.

`initdb` into a fresh folder, `pg_ctl start` on a free port (unix socket in the same folder),
trust authentication, stopped and deleted at the end. PostgreSQL refuses to run as root, so as
root the server runs as the `postgres` user (`runuser`). Skips with the reason when it cannot.
Users: `sudo apt-get install -y postgresql` gives the same binaries (see the README).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class PgServer:
    """A running server: connect as `postgres` without a password."""

    port: int
    data: Path

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL (psycopg 3 driver) of a database on this server."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """Create an empty database and return its URL."""
        from sqlalchemy import create_engine, text

        name = f"t_{uuid.uuid4().hex[:12]}"
        engine = create_engine(self.url(), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        return self.url(name)


def _binaries() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(candidates[-1]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_server_user(cmd: list[str]) -> list[str]:
    """Run as `postgres` when we are root (the server refuses root)."""
    if os.geteuid() != 0:
        return cmd
    runuser = shutil.which("runuser")
    if runuser is None:
        pytest.skip("running as root without `runuser`: cannot start PostgreSQL as non-root")
    return [runuser, "-u", "postgres", "--", *cmd]


def _prepare_dir() -> Path:
    """A folder the server user owns (pytest's tmp_path is root-only when we are root)."""
    data = Path(tempfile.mkdtemp(prefix="annotator-pg-"))
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no `postgres` user to run the server")
        os.chown(data, user.pw_uid, user.pw_gid)
    return data


@contextlib.contextmanager
def postgres_server() -> Iterator[PgServer]:
    """Start a server for the duration of the block (skip the test when impossible)."""
    pytest.importorskip("psycopg", reason="psycopg is not installed: pip install 'psycopg[binary]'")
    bindir = _binaries()
    if bindir is None:
        pytest.skip("PostgreSQL binaries not found: apt-get install -y postgresql")
    data = _prepare_dir()
    port = _free_port()
    db = data / "db"
    run = {"capture_output": True, "text": True, "timeout": 120}
    try:
        init = subprocess.run(_as_server_user([
            str(bindir / "initdb"), "-D", str(db), "-U", "postgres", "--auth=trust",
            "--no-sync", "-E", "UTF8"]), check=False, **run)  # type: ignore[call-overload]
        if init.returncode != 0:
            pytest.skip(f"initdb failed: {init.stderr.strip()[-300:]}")
        opts = f"-h 127.0.0.1 -p {port} -k {data} -F -c max_connections=60"
        start = subprocess.run(_as_server_user([
            str(bindir / "pg_ctl"), "-D", str(db), "-o", opts, "-l", str(data / "log"),
            "-w", "-t", "60", "start"]), check=False, **run)  # type: ignore[call-overload]
        if start.returncode != 0:
            log = (data / "log").read_text()[-300:] if (data / "log").exists() else ""
            pytest.skip(f"pg_ctl start failed: {start.stderr.strip()[-200:]} {log}")
        try:
            yield PgServer(port, data)
        finally:
            subprocess.run(_as_server_user([str(bindir / "pg_ctl"), "-D", str(db), "-m", "fast",
                                            "-w", "stop"]), check=False, **run)  # type: ignore[call-overload]
    finally:
        shutil.rmtree(data, ignore_errors=True)
