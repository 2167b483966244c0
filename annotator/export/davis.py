"""DAVIS 2017 semi-supervised layout with palette PNGs the official evaluator reads.

    <out>/JPEGImages/<res>/<sequence>/00000.jpg
    <out>/Annotations/<res>/<sequence>/00000.png   mode "P", DAVIS palette, 0 = background
    <out>/ImageSets/2017/val.txt                    one sequence per line
    <out>/objects.json                              {sequence: {"1": {"object_id", "category"}}}

Object ids are contiguous 1..N per sequence and stable across frames: the project's Objects that
have a mask, in creation order. Overlap rule: a pixel claimed by several Objects takes the
highest DAVIS id (the Object created last is on top). `res` is "480p" (frames scaled to 480 px
height, masks by nearest neighbour, the DAVIS convention) or "Full-Resolution" (source size).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from annotator.core.errors import ExportError
from annotator.core.jobs import Progress
from annotator.core.palette import DAVIS_PALETTE
from annotator.core.ports import ProjectReader
from annotator.export.common import FrameReader, decode_record, frame_masks, plan, prepare_dir

RESOLUTIONS = ("480p", "Full-Resolution")


def target_size(width: int, height: int, resolution: str) -> tuple[int, int]:
    """(width, height) of exported frames for a resolution name."""
    if resolution == "Full-Resolution":
        return width, height
    if resolution != "480p":
        raise ExportError(f"unknown DAVIS resolution '{resolution}': use one of {RESOLUTIONS}")
    return round(width * 480 / height), 480


def resize_ids(ids: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """An id map at another size, by nearest neighbour (ids are labels, never blended)."""
    if (ids.shape[1], ids.shape[0]) == size:
        return ids
    return cv2.resize(ids, size, interpolation=cv2.INTER_NEAREST)


def write(store: ProjectReader, out_dir: str | Path, *, frames: FrameReader | None = None,
          video_ids: list[int] | None = None, resolution: str = "480p"
          ) -> Iterator[Progress[Path]]:
    """Write the DAVIS tree; yields once per frame."""
    out = prepare_dir(Path(out_dir))
    exports = plan(store, video_ids)
    total = sum(e.video.frame_count for e in exports)
    sidecar: dict[str, dict[str, dict[str, object]]] = {}
    done = 0
    for export in exports:
        video = export.video
        if len(export.objects) > 254:
            raise ExportError(f"{video.name} has {len(export.objects)} objects; DAVIS PNGs hold "
                              "at most 254: export fewer objects or use COCO")
        davis_id = {o.id: i + 1 for i, o in enumerate(export.objects)}
        sidecar[export.sequence] = {str(davis_id[o.id]): {"object_id": o.id, "category": o.label}
                                    for o in export.objects}
        size = target_size(video.width, video.height, resolution)
        ann_dir = out / "Annotations" / resolution / export.sequence
        img_dir = out / "JPEGImages" / resolution / export.sequence
        ann_dir.mkdir(parents=True, exist_ok=True)
        read = frames(video) if frames else None
        for frame, records in frame_masks(store, video.id):
            ids = np.zeros((video.height, video.width), np.uint8)
            for rec in sorted(records, key=lambda r: davis_id.get(r.object_id, 0)):
                if rec.object_id in davis_id:
                    ids[decode_record(rec)] = davis_id[rec.object_id]
            save_png(ann_dir / f"{frame:05d}.png", resize_ids(ids, size))
            if read is not None:
                img_dir.mkdir(parents=True, exist_ok=True)
                image = Image.fromarray(read(frame))
                if image.size != size:
                    image = image.resize(size, Image.Resampling.BICUBIC)
                image.save(img_dir / f"{frame:05d}.jpg", quality=95)
            done += 1
            yield Progress(done, total, None, f"{export.sequence} frame {frame}")
    sets = out / "ImageSets" / "2017"
    sets.mkdir(parents=True, exist_ok=True)
    (sets / "val.txt").write_text("".join(f"{e.sequence}\n" for e in exports))
    (out / "objects.json").write_text(json.dumps(sidecar, indent=1))
    yield Progress(total, total, out, f"wrote {out}")


def save_png(path: Path, ids: np.ndarray) -> None:
    """An id map as an indexed ("P") PNG with the DAVIS palette, values untouched."""
    image = Image.fromarray(ids.astype(np.uint8))
    image.putpalette(DAVIS_PALETTE)  # an "L" image becomes "P" with its values untouched
    image.save(path)


def read(root: str | Path, resolution: str = "480p") -> dict[tuple[str, int, int], np.ndarray]:
    """Masks of a DAVIS export: {(sequence, frame, project object id): bool mask}."""
    root = Path(root)
    sidecar = json.loads((root / "objects.json").read_text())
    out = {}
    for sequence, objects in sidecar.items():
        for png in sorted((root / "Annotations" / resolution / sequence).glob("*.png")):
            ids = np.asarray(Image.open(png))
            for davis_id, meta in objects.items():
                mask = ids == int(davis_id)
                if mask.any():
                    out[(sequence, int(png.stem), int(meta["object_id"]))] = mask
    return out
