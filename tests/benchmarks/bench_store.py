"""Project store benchmark: masks written per second and the time to open a big project.

Baselines measured in the same run: raw `sqlite3` executemany of the same rows, and a raw
`sqlite3` connect + count on the same file.
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from pathlib import Path

import numpy as np

from annotator.core.masks import encode
from annotator.core.project import StoredMask
from annotator.core.types import Provenance, Source
from annotator.store import open_project

H, W = 720, 1280


def _masks(n: int) -> list[StoredMask]:
    """n distinct realistic masks (ellipses of varying size) at 720p."""
    import cv2

    rng = np.random.default_rng(0)
    out = []
    for _ in range(min(n, 200)):
        m = np.zeros((H, W), np.uint8)
        cv2.ellipse(m, (int(rng.uniform(100, 1180)), int(rng.uniform(100, 620))),
                    (int(rng.uniform(20, 200)), int(rng.uniform(20, 200))), 0, 0, 360, 1, -1)
        out.append(StoredMask(encode(m.astype(bool)), Provenance(Source.PROPAGATED, "b", "1", 0.9)))
    return [out[i % len(out)] for i in range(n)]


def bench_write(folder: Path, n: int = 10_000) -> tuple[float, float]:
    masks = _masks(n)
    store = open_project(folder / "w.annotator")
    v = store.add_video("v.mp4", "v", "h", n, 30.0, W, H)
    objs = [store.add_object(v.id).id for _ in range(10)]
    writes = [(v.id, objs[i % 10], i // 10, masks[i]) for i in range(n)]
    t = time.perf_counter()
    for lo in range(0, n, 100):  # one transaction per 100 masks (10 frames x 10 objects)
        store.write_masks(writes[lo:lo + 100])
    ours = time.perf_counter() - t
    store.close()
    raw = sqlite3.connect(folder / "raw.db")
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("CREATE TABLE m (video INT, obj INT, frame INT, h INT, w INT, rle BLOB, src TEXT,"
                " score REAL, UNIQUE(obj, frame))")
    t = time.perf_counter()
    for lo in range(0, n, 100):
        raw.executemany("INSERT INTO m VALUES (?,?,?,?,?,?,?,?)",
                        [(1, o, f, H, W, m.rle.counts, "propagated", 0.9)
                         for _, o, f, m in writes[lo:lo + 100]])
        raw.commit()
    baseline = time.perf_counter() - t
    return ours, baseline


def bench_open(folder: Path, n: int = 100_000) -> tuple[float, float]:
    path = folder / "big.annotator"
    store = open_project(path)
    v = store.add_video("v.mp4", "v", "h", n // 10, 30.0, W, H)
    objs = [store.add_object(v.id).id for _ in range(10)]
    masks = _masks(200)
    for lo in range(0, n, 5000):
        store.write_masks((v.id, objs[i % 10], i // 10, masks[i % 200])
                          for i in range(lo, lo + 5000))
    store.close()
    t = time.perf_counter()
    store = open_project(path, create=False)
    videos = store.videos()
    store.objects(videos[0].id)
    store.masks(videos[0].id, frame=0)
    ours = time.perf_counter() - t
    store.close()
    t = time.perf_counter()
    raw = sqlite3.connect(path)
    raw.execute("SELECT count(*) FROM videos").fetchone()
    baseline = time.perf_counter() - t
    return ours, baseline


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        w_ours, w_raw = bench_write(folder)
        o_ours, o_raw = bench_open(folder)
    print(f"{'measure':<44}{'ours':>12}{'baseline':>12}{'ratio':>8}")
    print(f"{'write 10,000 masks (720p RLE), s':<44}{w_ours:>12.3f}{w_raw:>12.3f}"
          f"{w_ours / w_raw:>8.2f}")
    print(f"{'  masks written per second':<44}{10_000 / w_ours:>12.0f}{10_000 / w_raw:>12.0f}")
    print(f"{'open project with 100,000 masks, s':<44}{o_ours:>12.3f}{o_raw:>12.3f}"
          f"{o_ours / max(o_raw, 1e-9):>8.1f}")
    print("targets: write 10,000 masks < 2 s; open a 100,000-mask project < 1 s")


if __name__ == "__main__":
    main()
