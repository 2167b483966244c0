"""Sensor streams in a project: stored as raw float64 arrays next to their Video."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import Engine, delete, select

from annotator.core.project import SensorRecord
from annotator.store.schema import SensorStreamRow

if TYPE_CHECKING:
    from collections.abc import Sequence


class SensorStore:
    """The sensor part of ProjectStore (a mixin; needs `engine`)."""

    engine: Engine

    def add_sensor_stream(self, video_id: int, name: str, channels: Sequence[str],
                          times: np.ndarray, values: np.ndarray) -> SensorRecord:
        """Store a stream (times (T,), values (T, C)) for a Video, in one transaction."""
        times = np.ascontiguousarray(times, dtype="<f8")
        values = np.ascontiguousarray(values, dtype="<f8")
        if values.shape != (len(times), len(channels)):
            raise ValueError(f"values {values.shape} do not match {len(times)} times x "
                             f"{len(channels)} channels")
        with self.engine.begin() as conn:
            sid = conn.execute(SensorStreamRow.__table__.insert().values(
                video_id=video_id, name=name, channels=json.dumps(list(channels)),
                times=times.tobytes(), samples=values.tobytes(), created=time.time()
            )).inserted_primary_key[0]
        return SensorRecord(sid, video_id, name, tuple(channels), times, values)

    def sensor_streams(self, video_id: int) -> list[SensorRecord]:
        """The sensor streams of a Video, oldest first."""
        stmt = (select(SensorStreamRow).where(SensorStreamRow.video_id == video_id)
                .order_by(SensorStreamRow.id))
        with self.engine.connect() as conn:
            return [_record(row) for row in conn.execute(stmt)]

    def delete_sensor_stream(self, stream_id: int) -> None:
        """Remove one stream."""
        with self.engine.begin() as conn:
            conn.execute(delete(SensorStreamRow).where(SensorStreamRow.id == stream_id))


def _record(row: SensorStreamRow) -> SensorRecord:
    channels = tuple(json.loads(row.channels))
    times = np.frombuffer(row.times, dtype="<f8")
    values = np.frombuffer(row.samples, dtype="<f8").reshape(len(times), len(channels))
    return SensorRecord(row.id, row.video_id, row.name, channels, times, values)
