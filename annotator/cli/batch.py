"""`annotator propagate PROJECT`: batch Propagation of every Video, on local workers or Ray."""

from __future__ import annotations

import argparse
import os
import sys
import time

from tqdm import tqdm

from annotator.backends import DEFAULT_BACKEND
from annotator.cli.errors import run_guarded
from annotator.tools.batch import VideoResult
from annotator.tools.batch_engines import propagate_batch


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register the `propagate` command."""
    p = sub.add_parser("propagate", help="propagate every video with keyframes or prompts "
                       "(resumable: finished videos are skipped)")
    p.add_argument("project", help="project file or database URL (postgresql://...)")
    p.add_argument("--videos", nargs="+", metavar="VIDEO", help="only these videos (name or id)")
    p.add_argument("--backend", default=DEFAULT_BACKEND, help="tracker backend id")
    p.add_argument("--engine", choices=["local", "ray", "inline"], default="local",
                   help="local: worker processes here; ray: a Ray cluster; inline: this process")
    p.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) // 2),
                   help="worker processes for --engine local (one model each)")
    p.add_argument("--ray-address", default=None,
                   help="Ray cluster address (default: start a local Ray)")
    p.set_defaults(func=cmd_propagate)


def cmd_propagate(args: argparse.Namespace) -> int:
    """Run the batch with a progress bar and per-video lines; print the summary table."""
    began = time.perf_counter()
    results: list[VideoResult] = []
    job = propagate_batch(args.project, backend=args.backend, videos=args.videos,
                          engine=args.engine, workers=args.workers, ray_address=args.ray_address)
    with tqdm(desc="propagate", unit="frame", file=sys.stderr, dynamic_ncols=True,
              disable=not sys.stderr.isatty()) as bar:
        for step in job:
            bar.total, bar.n = step.total, step.done
            bar.refresh()
            if step.result is not None:
                results.append(step.result)
                bar.write(_line(step.result, len(results)), file=sys.stderr)
    print(format_summary(results, time.perf_counter() - began))
    return 1 if any(r.error and not r.skipped for r in results) else 0


def _line(result: VideoResult, count: int) -> str:
    if result.error:
        state = f"{'skipped' if result.skipped else 'FAILED'}: {result.error}"
    elif result.skipped:
        state = "up to date, skipped"
    else:
        state = f"{result.frames} frames, {result.masks} masks, {result.fps:.1f} frames/s"
    return f"[{count}] {result.name}: {state}"


def format_summary(results: list[VideoResult], seconds: float) -> str:
    """The end-of-batch table: per Video and in total, failures with their reasons."""
    rows = [("video", "status", "frames", "masks", "frames/s")]
    for r in results:
        status = "failed" if r.error and not r.skipped else "skipped" if r.skipped else "done"
        rows.append((r.name, status, str(r.frames), str(r.masks), f"{r.fps:.1f}"))
    frames = sum(r.frames for r in results)
    failed = [r for r in results if r.error and not r.skipped]
    rows.append((f"total {len(results)} videos", f"{len(failed)} failed", str(frames),
                 str(sum(r.masks for r in results)), f"{frames / max(seconds, 1e-9):.1f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ["  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in
                       enumerate(zip(row, widths, strict=True))) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.extend(f"failed: {r.name}: {r.error}" for r in failed)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """`python -m annotator.cli.batch PROJECT ...`: the command on its own, errors as one line."""
    parser = argparse.ArgumentParser(prog="annotator")
    add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["propagate", *(sys.argv[1:] if argv is None else argv)])
    return run_guarded(lambda: args.func(args), verbose=False)


if __name__ == "__main__":
    sys.exit(main())
