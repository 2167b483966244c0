"""DAVIS-format datasets: read sequences (JPEG frames + palette PNG id maps), write results.

Two layouts are accepted: the official `JPEGImages/480p/<seq>/00000.jpg` +
`Annotations/480p/<seq>/00000.png` + `ImageSets/2017/<split>.txt`, and a flat root holding
`JPEGImages/<seq>` and `Annotations/<seq>` directly (without an ImageSets list every sequence folder
is used). Id maps are read lazily, one sequence at a time, because a whole dataset does not fit in
memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from annotator.core.errors import AnnotatorError
from annotator.core.palette import DAVIS_PALETTE

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def read_id_map(path: str | Path) -> np.ndarray:
    """An (H, W) uint8 id map from a palette PNG (the palette indices, not the colours)."""
    with Image.open(path) as img:
        if img.mode not in ("P", "L"):
            raise AnnotatorError(f"{path} is not a palette/greyscale PNG (mode {img.mode}); "
                                 "DAVIS annotations store object ids as palette indices")
        return np.array(img, dtype=np.uint8)


def write_id_map(path: str | Path, ids: np.ndarray) -> None:
    """Write an (H, W) id map as a mode "P" PNG with the DAVIS palette."""
    ids = np.asarray(ids)
    if ids.ndim != 2 or (ids.size and (ids.min() < 0 or ids.max() > 255)):
        raise ValueError(f"an id map must be 2-D with ids in 0..255, got {ids.shape}")
    img = Image.fromarray(ids.astype(np.uint8))
    img.putpalette(DAVIS_PALETTE)  # turns the "L" image into mode "P"
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    img.save(path)


@dataclass(frozen=True)
class DavisSequence:
    """One sequence: frame image paths in order and the annotation path of each (None if absent)."""

    name: str
    frame_paths: tuple[Path, ...]
    mask_paths: tuple[Path | None, ...]

    def __len__(self) -> int:
        return len(self.frame_paths)

    @property
    def folder(self) -> Path:
        """The folder holding this sequence's frames."""
        return self.frame_paths[0].parent

    @property
    def annotated(self) -> list[int]:
        """Indices of the frames that have a ground-truth PNG."""
        return [i for i, p in enumerate(self.mask_paths) if p is not None]

    def read_frame(self, index: int) -> np.ndarray:
        """Frame `index` as RGB uint8 HxWx3."""
        with Image.open(self.frame_paths[index]) as img:
            return np.array(img.convert("RGB"))

    def read_mask(self, index: int) -> np.ndarray:
        """The (H, W) uint8 id map of frame `index`."""
        path = self.mask_paths[index]
        if path is None:
            raise AnnotatorError(f"sequence '{self.name}' has no annotation for frame {index}")
        return read_id_map(path)

    def masks(self) -> np.ndarray:
        """All id maps as one (N, H, W) uint8 array; every frame must be annotated."""
        missing = [i for i, p in enumerate(self.mask_paths) if p is None]
        if missing:
            raise AnnotatorError(f"sequence '{self.name}' lacks annotations for frames "
                                 f"{missing[:5]}{'...' if len(missing) > 5 else ''}")
        return np.stack([self.read_mask(i) for i in range(len(self))])

    def iter_masks(self) -> Iterator[np.ndarray]:
        """Id maps one frame at a time (bounded memory)."""
        for i in range(len(self)):
            yield self.read_mask(i)


class DavisDataset:
    """A DAVIS-format dataset root; sequences are listed up front and read on demand."""

    def __init__(self, root: str | Path, split: str = "val", resolution: str = "480p",
                 sequences: Iterable[str] | None = None) -> None:
        self.root = Path(root)
        if not (self.root / "JPEGImages").is_dir():
            raise AnnotatorError(f"{self.root} is not a DAVIS dataset: no JPEGImages folder")
        self.image_dir, self.mask_dir = self._layout(resolution)
        self.split = split
        self.names = list(sequences) if sequences is not None else self._list_names(split)
        if not self.names:
            raise AnnotatorError(f"{self.root}: no sequences found for split '{split}'")

    def _layout(self, resolution: str) -> tuple[Path, Path]:
        nested = self.root / "JPEGImages" / resolution
        if nested.is_dir():
            return nested, self.root / "Annotations" / resolution
        return self.root / "JPEGImages", self.root / "Annotations"

    def _list_names(self, split: str) -> list[str]:
        for listing in (self.root / "ImageSets" / "2017" / f"{split}.txt",
                        self.root / "ImageSets" / f"{split}.txt"):
            if listing.is_file():
                return [s.strip() for s in listing.read_text().splitlines() if s.strip()]
        return sorted(p.name for p in self.image_dir.iterdir() if p.is_dir())

    def __len__(self) -> int:
        return len(self.names)

    def __iter__(self) -> Iterator[DavisSequence]:
        for name in self.names:
            yield self[name]

    def __getitem__(self, name: str) -> DavisSequence:
        folder = self.image_dir / name
        frames = sorted(p for p in folder.glob("*") if p.suffix.lower() in IMAGE_SUFFIXES) \
            if folder.is_dir() else []
        if not frames:
            raise AnnotatorError(f"sequence '{name}' has no frames in {folder}")
        ann = self.mask_dir / name
        masks = tuple((ann / f"{p.stem}.png") if (ann / f"{p.stem}.png").is_file() else None
                      for p in frames)
        return DavisSequence(name, tuple(frames), masks)


def write_results(out_dir: str | Path, sequence: str, id_maps: Iterable[np.ndarray],
                  names: Iterable[str] | None = None) -> list[Path]:
    """Write a sequence's predicted id maps as `out_dir/<sequence>/<name>.png` (DAVIS results).

    Names default to 00000, 00001, ...; pass the frame stems to mirror the dataset.
    """
    folder = Path(out_dir) / sequence
    stems = iter(names) if names is not None else (f"{i:05d}" for i in range(1 << 30))
    written = []
    for ids, stem in zip(id_maps, stems, strict=False):
        path = folder / f"{stem}.png"
        write_id_map(path, ids)
        written.append(path)
    return written


def write_sequence(root: str | Path, name: str, frames: Iterable[np.ndarray],
                   id_maps: Iterable[np.ndarray], resolution: str = "480p",
                   quality: int = 95) -> None:
    """Write one sequence in the official layout: JPEG frames and palette PNG annotations."""
    root = Path(root)
    image_dir = root / "JPEGImages" / resolution / name
    image_dir.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        Image.fromarray(np.asarray(frame, dtype=np.uint8)).save(
            image_dir / f"{i:05d}.jpg", quality=quality)
    write_results(root / "Annotations" / resolution, name, id_maps)


def write_imageset(root: str | Path, names: Iterable[str], split: str = "val") -> Path:
    """Write `ImageSets/2017/<split>.txt` listing the sequences."""
    path = Path(root) / "ImageSets" / "2017" / f"{split}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{n}\n" for n in names))
    return path
