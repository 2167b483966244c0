"""`annotator bench` and `annotator synth`: measure a backend's quality on DAVIS-format data."""

from __future__ import annotations

import argparse
import sys

from annotator.backends import get_spec
from annotator.eval.bench import format_table, run_bench
from annotator.eval.synthetic import write_dataset


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register the evaluation commands."""
    bench = sub.add_parser("bench", help="J, F, J&F, fps and peak RSS of a backend on a dataset")
    bench.add_argument("dataset", help="DAVIS-format folder (JPEGImages + Annotations)")
    bench.add_argument("--backend", default="classical", help="tracker backend id")
    bench.add_argument("--protocol", default="first-frame",
                       help="first-frame (ground-truth mask on the first frame) or clicks:N")
    bench.add_argument("--split", default=None, help="ImageSets/2017 split (default: val or all)")
    bench.add_argument("--results", default=None, help="also write result PNGs here")
    bench.set_defaults(func=cmd_bench)

    synth = sub.add_parser("synth", help="write synthetic DAVIS sequences with exact ground truth")
    synth.add_argument("out", help="output folder")
    synth.add_argument("--sequences", type=int, default=10)
    synth.add_argument("--level", type=int, default=1, help="difficulty: 1 easy .. 3 hard")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--frames", type=int, default=30)
    synth.add_argument("--background", default=None, help="a real video to use as background")
    synth.set_defaults(func=cmd_synth)


def cmd_bench(args: argparse.Namespace) -> int:
    """Run a tracker through the protocol on every sequence and print the table."""
    spec = get_spec(args.backend)
    result = run_bench(args.dataset, spec.create, args.protocol, split=args.split,
                       results_dir=args.results,
                       on_sequence=lambda s: print(f"{s.name}: J&F {s.summary.jf:.3f}, "
                                                   f"{s.fps:.1f} fps", file=sys.stderr))
    print(format_table(result))
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    """Write the synthetic dataset."""
    names = write_dataset(args.out, args.sequences, seed=args.seed, level=args.level,
                          n_frames=args.frames, background=args.background)
    print(f"wrote {len(names)} sequences to {args.out}")
    return 0
