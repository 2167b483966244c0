"""`annotator models list|get|path|verify|add`: the checkpoints a user can get, and their status."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path

from tqdm import tqdm

from annotator.backends.download import add_file, download
from annotator.backends.weights import (
    ModelError,
    ModelManifest,
    Status,
    find_weights,
    get_manifest,
    manifests,
    model_state,
    verify_file,
    weights_dir,
)
from annotator.core.jobs import Job

EXIT_INTERRUPTED = 130


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register `annotator models ...`."""
    models = sub.add_parser("models", help="list, download and verify model checkpoints")
    models.set_defaults(func=cmd_list)
    msub = models.add_subparsers(dest="models_command")

    ls = msub.add_parser("list", help="every known model with its status (the default)")
    ls.set_defaults(func=cmd_list)

    get = msub.add_parser("get", help="download checkpoints (resumable, size and hash checked)")
    get.add_argument("ids", nargs="*", metavar="ID", help="model ids (see `annotator models`)")
    get.add_argument("--all", action="store_true", help="every model that is not ready")
    get.add_argument("--url", help="download from this mirror instead (one ID only)")
    get.set_defaults(func=cmd_get)

    path = msub.add_parser("path", help="the weights folder, or the file of one model")
    path.add_argument("id", nargs="?", metavar="ID")
    path.set_defaults(func=cmd_path)

    verify = msub.add_parser("verify", help="check files against their size and SHA-256")
    verify.add_argument("ids", nargs="*", metavar="ID", help="default: every present model")
    verify.set_defaults(func=cmd_verify)

    add = msub.add_parser("add", help="use a file downloaded by hand (checked, then copied)")
    add.add_argument("id", metavar="ID")
    add.add_argument("file", metavar="PATH", help="the downloaded checkpoint (never moved)")
    add.add_argument("--link", action="store_true", help="symlink instead of copying")
    add.set_defaults(func=cmd_add)


def human_size(size: int | None) -> str:
    """Bytes for people: 38.8 MB; '?' when unknown."""
    if size is None:
        return "?"
    for unit in ("B", "kB", "MB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000  # type: ignore[assignment]
    return f"{size:.2f} GB"


def cmd_list(_args: argparse.Namespace) -> int:
    """Print one row per manifest: id, backend, size, licence, status and the fix."""
    rows = [model_state(m) for m in manifests().values()]
    print(f"{'ID':<20} {'BACKEND':<12} {'SIZE':>9}  {'LICENCE':<22} STATUS")
    for s in sorted(rows, key=lambda r: (r.manifest.backend, r.manifest.id)):
        m = s.manifest
        print(f"{m.id:<20} {m.backend:<12} {human_size(m.size_bytes):>9}  "
              f"{m.license[:22]:<22} {s.status.value}: {s.detail}")
    print(f"weights folder: {weights_dir()}")
    return 0


def drive(job: Job[Path], desc: str) -> Path | None:
    """Run a download job with a byte bar on stderr; returns the verified path."""
    result = None
    quiet = not sys.stderr.isatty()
    with tqdm(desc=desc, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr,
              dynamic_ncols=True, leave=False, disable=quiet) as bar:
        for step in job:
            bar.total = step.total or None
            bar.n = step.done
            bar.refresh()
            result = step.result or result
    return result


def _targets(ids: Iterable[str], everything: bool) -> list[ModelManifest]:
    if everything:
        return [m for m in manifests().values() if model_state(m).status is not Status.READY]
    chosen = [get_manifest(i) for i in ids]
    if not chosen:
        raise ModelError("name a model to download (see `annotator models list`) or use --all")
    return chosen


def cmd_get(args: argparse.Namespace) -> int:
    """Download each model; Ctrl-C keeps the partial file for the next run."""
    chosen = _targets(args.ids, args.all)
    if args.url and len(chosen) != 1:
        raise ModelError("--url needs exactly one model id")
    for manifest in chosen:
        job = download(manifest, url=args.url)
        try:
            path = drive(job, manifest.id)
        except KeyboardInterrupt:
            job.close()
            print(f"download of {manifest.id} paused: run `annotator models get {manifest.id}` "
                  "again to resume", file=sys.stderr)
            return EXIT_INTERRUPTED
        print(f"{manifest.id}: {path} (verified; licence {manifest.license or 'unknown'})")
    return 0


def cmd_path(args: argparse.Namespace) -> int:
    """Print the weights folder, or where one model's file is."""
    if args.id is None:
        print(weights_dir())
        return 0
    path = find_weights(args.id)
    if path is None:
        raise ModelError(f"{args.id} is not downloaded: `annotator models get {args.id}`")
    print(path)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    """Hash present files; exit 2 when any differs from its manifest (files are kept)."""
    chosen = ([get_manifest(i) for i in args.ids] if args.ids
              else [m for m in manifests().values() if find_weights(m.id) is not None])
    if not chosen:
        print("no model files present to verify")
        return 0
    failed = 0
    for manifest in chosen:
        path = find_weights(manifest.id)
        if path is None:
            print(f"{manifest.id}: missing (`annotator models get {manifest.id}`)")
            failed += 1
            continue
        try:
            digest = verify_file(manifest, path)
        except ModelError as exc:
            print(f"{manifest.id}: BAD: {exc} (file kept; `annotator models get {manifest.id}` "
                  "replaces it)")
            failed += 1
            continue
        known = "matches the manifest" if manifest.sha256 else "no published hash to compare"
        print(f"{manifest.id}: ok, sha256 {digest} ({known})")
    return 2 if failed else 0


def cmd_add(args: argparse.Namespace) -> int:
    """Check a hand-downloaded file and copy (or link) it into the weights folder."""
    manifest = get_manifest(args.id)
    target = add_file(manifest, Path(args.file), link=args.link)
    how = "linked" if args.link else "copied"
    print(f"{manifest.id}: {how} to {target} (verified; your file is untouched)")
    return 0
