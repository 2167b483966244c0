"""`annotator sensors import` and `annotator qa`: sensor logs next to videos, and their faults."""

from __future__ import annotations

import argparse
from pathlib import Path

from annotator.cli.labeling import video_of
from annotator.core.errors import AnnotatorError
from annotator.store import open_project
from annotator.tools.sensor_io import SensorStream, read_sensor_file
from annotator.tools.sensor_qa import QaConfig, detect_anomalies, format_spans
from annotator.tools.videos import open_record
from annotator.video import frame_times


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register the sensor commands."""
    sensors = sub.add_parser("sensors", help="sensor streams recorded with a video")
    ssub = sensors.add_subparsers(dest="sensors_command", required=True)
    imp = ssub.add_parser("import", help="store a CSV or Parquet sensor log with a video")
    imp.add_argument("project")
    imp.add_argument("file", help="CSV or Parquet with a time column and numeric channels")
    imp.add_argument("--video", type=int, default=None, help="video id (default: the first)")
    imp.add_argument("--time-column", default=None, help="default: 'time', 't' or the first")
    imp.add_argument("--time-scale", type=float, default=1.0,
                     help="multiply times by this to get seconds (e.g. 0.001 for ms)")
    imp.add_argument("--offset", type=float, default=0.0,
                     help="seconds to add so sensor time 0 lines up with the first frame")
    imp.add_argument("--name", default=None, help="stream name (default: the file name)")
    imp.set_defaults(func=cmd_import)

    qa = sub.add_parser("qa", help="flag frames where the sensors misbehaved (Rglasso)")
    qa.add_argument("project")
    qa.add_argument("--video", type=int, default=None, help="video id (default: every video)")
    qa.add_argument("--window", type=float, default=2.0, help="window length in seconds")
    qa.add_argument("--z", type=float, default=3.0, help="robust z-score threshold")
    qa.set_defaults(func=cmd_qa)


def cmd_import(args: argparse.Namespace) -> int:
    """Read, validate and store a sensor log."""
    stream = read_sensor_file(args.file, time_column=args.time_column,
                              time_scale=args.time_scale)
    with open_project(args.project, create=False) as store:
        video = video_of(store, args.video)
        record = store.add_sensor_stream(video.id, args.name or Path(args.file).stem,
                                         stream.channels, stream.times + args.offset,
                                         stream.values)
        print(f"stored '{record.name}' ({len(record.times)} samples, {len(record.channels)} "
              f"channels, {stream.sample_rate:.1f} Hz) with video {video.name}")
    return 0


def cmd_qa(args: argparse.Namespace) -> int:
    """Print the flagged spans of every stream."""
    config = QaConfig(window_s=args.window, z_threshold=args.z)
    with open_project(args.project, create=False) as store:
        videos = [video_of(store, args.video)] if args.video is not None else store.videos()
        found = 0
        for video in videos:
            streams = store.sensor_streams(video.id)
            if not streams:
                continue
            source = open_record(video)
            times = frame_times(source)
            source.close()
            for record in streams:
                found += 1
                stream = SensorStream(record.times, record.values, record.channels)
                report = detect_anomalies(stream, times, config)
                print(f"== {video.name} / {record.name}")
                print(format_spans(report))
        if not found:
            raise AnnotatorError(f"{args.project} has no sensor streams: add one with "
                                 "`annotator sensors import PROJECT FILE`")
    return 0
