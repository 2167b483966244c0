"""COCO instance segmentation for video frames: compressed RLE, iscrowd=0, track ids.

One `images` entry per frame (also frames without masks, so ids never shift between exports),
`file_name` "<sequence>/<frame:05d>.jpg", plus `video_id` and `frame_index`. Each annotation
carries the Object as `track_id` and `attributes.track_id`. Unlabelled Objects get category
"object". bbox and area come from the RLE (pycocotools).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from annotator.core.jobs import Progress
from annotator.core.masks import MaskRLE, area, bbox, decode
from annotator.core.ports import ProjectReader
from annotator.export.common import FrameReader, frame_masks, plan, prepare_dir

UNLABELLED = "object"
ANNOTATIONS = "annotations.json"


def write(store: ProjectReader, out_dir: str | Path, *, frames: FrameReader | None = None,
          video_ids: list[int] | None = None) -> Iterator[Progress[Path]]:
    """Write `annotations.json` (and JPEG frames when `frames` is given); yields per frame."""
    out = prepare_dir(Path(out_dir))
    exports = plan(store, video_ids)
    names = sorted({o.label or UNLABELLED for e in exports for o in e.objects})
    categories = [{"id": i + 1, "name": n, "supercategory": ""} for i, n in enumerate(names)]
    cat_id = {c["name"]: c["id"] for c in categories}
    images, annotations = [], []
    total = sum(e.video.frame_count for e in exports)
    done = 0
    for export in exports:
        video, labels = export.video, {o.id: o.label or UNLABELLED for o in export.objects}
        read = frames(video) if frames else None
        for frame, records in frame_masks(store, video.id):
            image_id = len(images) + 1
            file_name = f"{export.sequence}/{frame:05d}.jpg"
            images.append({"id": image_id, "width": video.width, "height": video.height,
                           "file_name": file_name, "video_id": video.id,
                           "video": export.sequence, "frame_index": frame})
            if read is not None:
                _write_jpeg(out / "images" / file_name, read(frame))
            for rec in records:
                rle = rec.mask.rle
                if area(rle) == 0:
                    continue
                annotations.append(_annotation(len(annotations) + 1, image_id,
                                               cat_id[labels[rec.object_id]], rec.object_id,
                                               rle, rec.mask.provenance.source))
            done += 1
            yield Progress(done, total, None, f"{export.sequence} frame {frame}")
    doc = {"info": {"description": "Annotator export", "version": "1.0"}, "licenses": [],
           "images": images, "annotations": annotations, "categories": categories}
    target = out / ANNOTATIONS
    tmp = target.with_suffix(".json.part")
    tmp.write_text(json.dumps(doc))
    os.replace(tmp, target)
    yield Progress(total, total, target, f"wrote {target}")


def _annotation(ann_id: int, image_id: int, category: int, track: int, rle: MaskRLE,
                source: str) -> dict[str, object]:
    return {"id": ann_id, "image_id": image_id, "category_id": category,
            "segmentation": rle.to_coco(), "area": area(rle), "bbox": list(bbox(rle)),
            "iscrowd": 0, "track_id": track, "attributes": {"track_id": track, "source": source}}


def _write_jpeg(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path, quality=95)


def read(path: str | Path) -> dict[tuple[str, int, int], np.ndarray]:
    """Masks of a COCO export: {(sequence, frame, track id): bool mask}."""
    doc = json.loads(Path(path).read_text())
    images = {im["id"]: im for im in doc["images"]}
    out = {}
    for ann in doc["annotations"]:
        image = images[ann["image_id"]]
        key = (image["video"], image["frame_index"], ann["track_id"])
        out[key] = decode(MaskRLE.from_coco(ann["segmentation"]))
    return out
