"""Synthetic videos with exact ground truth, for measuring trackers without a downloaded dataset.

Textured objects (star polygons, ellipses, smooth blobs with noise/stripe/checker textures) move,
rotate, scale and stretch, occlude each other in a fixed z-order and leave or enter the frame,
over a procedural background (smooth noise, gradient or texture, slowly panning) or the frames of
a real background video. Every pixel of an object comes from its own warped texture and is drawn
with a hard (non anti-aliased) polygon, so the id maps are the exact ground truth of the frames.

Everything derives from one seed and a difficulty level, so a sequence is reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from statistics import NormalDist

import cv2
import numpy as np

from annotator.core.errors import AnnotatorError
from annotator.eval.davis import write_imageset, write_sequence

_SHIFT = 4  # fillPoly sub-pixel bits


@dataclass(frozen=True)
class Level:
    """A difficulty: object count, radius and speed (fractions of the short side) and motion."""

    n_objects: tuple[int, int]
    radius: tuple[float, float]
    speed: tuple[float, float]
    spin: float
    scale_amp: float
    crossings: bool
    exits: bool
    pan: float
    noise: float


LEVELS: dict[int, Level] = {
    1: Level((1, 2), (0.15, 0.25), (0.003, 0.008), 0.01, 0.05, False, False, 0.0005, 1.0),
    2: Level((2, 4), (0.07, 0.14), (0.010, 0.025), 0.04, 0.20, True, True, 0.002, 2.0),
    3: Level((3, 6), (0.05, 0.10), (0.020, 0.040), 0.08, 0.30, True, True, 0.004, 3.0),
}
"""1 = slow, large, few objects; 2 = faster, smaller, crossings, exits and an entry; 3 = harder."""


@dataclass(frozen=True)
class SyntheticObject:
    """One object: a shape and a texture in texture-pixel coordinates, and its motion."""

    obj: int
    z: int
    vertices: np.ndarray = field(compare=False)  # (K, 2) x, y in texture pixels
    texture: np.ndarray = field(compare=False)  # (T, T, 3) uint8, centre at T/2
    start: tuple[float, float] = (0.0, 0.0)
    velocity: tuple[float, float] = (0.0, 0.0)
    angle: float = 0.0
    spin: float = 0.0
    scale_amp: float = 0.0
    scale_freq: float = 0.0
    phase: float = 0.0
    bounce_box: tuple[float, float, float, float] | None = None  # x0, y0, x1, y1 for the centre

    def position(self, t: int) -> tuple[float, float]:
        """Centre at frame t: linear motion, reflected inside `bounce_box` when set."""
        x = self.start[0] + self.velocity[0] * t
        y = self.start[1] + self.velocity[1] * t
        if self.bounce_box is not None:
            x0, y0, x1, y1 = self.bounce_box
            x, y = _reflect(x, x0, x1), _reflect(y, y0, y1)
        return x, y

    def affine(self, t: int) -> np.ndarray:
        """2x3 map from texture pixels to frame pixels at frame t (rotate, stretch, translate)."""
        wave = math.sin(2 * math.pi * self.scale_freq * t + self.phase)
        scale = 1.0 + self.scale_amp * wave
        aspect = 1.0 + 0.5 * self.scale_amp * math.cos(2 * math.pi * self.scale_freq * t)
        theta = self.angle + self.spin * t
        c, s = math.cos(theta), math.sin(theta)
        lin = np.array([[c, -s], [s, c]]) @ np.diag([scale * aspect, scale / aspect])
        centre = np.array([self.texture.shape[1], self.texture.shape[0]]) / 2
        px, py = self.position(t)
        return np.hstack([lin, (np.array([px, py]) - lin @ centre)[:, None]])

    def patch(self, t: int, size: tuple[int, int]
              ) -> tuple[tuple[int, int], np.ndarray, np.ndarray] | None:
        """The object at frame t inside its bounding box: ((y0, x0), mask, texture), or None
        when it is outside the frame. Only the box is rasterised, so drawing stays cheap."""
        a = self.affine(t)
        pts = self.vertices @ a[:, :2].T + a[:, 2]
        h, w = size
        x0, y0 = max(0, math.floor(pts[:, 0].min())), max(0, math.floor(pts[:, 1].min()))
        x1, y1 = min(w, math.ceil(pts[:, 0].max()) + 1), min(h, math.ceil(pts[:, 1].max()) + 1)
        if x1 <= x0 or y1 <= y0:
            return None
        mask = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
        fixed = np.round((pts - (x0, y0)) * (1 << _SHIFT)).astype(np.int32)
        cv2.fillPoly(mask, [fixed], 1, lineType=cv2.LINE_8, shift=_SHIFT)
        local = a.copy()
        local[:, 2] -= (x0, y0)
        layer = cv2.warpAffine(self.texture, local, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REFLECT)
        return (y0, x0), mask.astype(bool), layer

    def mask(self, t: int, size: tuple[int, int]) -> np.ndarray:
        """The full (un-occluded) silhouette at frame t as bool HxW."""
        out = np.zeros(size, dtype=bool)
        found = self.patch(t, size)
        if found is not None:
            (y0, x0), m, _ = found
            out[y0:y0 + m.shape[0], x0:x0 + m.shape[1]] = m
        return out

    def layer(self, t: int, size: tuple[int, int]) -> np.ndarray:
        """The texture warped into the frame at t (HxWx3 uint8, zero outside the bounding box)."""
        out = np.zeros((*size, 3), dtype=np.uint8)
        found = self.patch(t, size)
        if found is not None:
            (y0, x0), m, tex = found
            out[y0:y0 + m.shape[0], x0:x0 + m.shape[1]] = tex
        return out


def _reflect(v: float, lo: float, hi: float) -> float:
    """Fold v into [lo, hi] as a ball bouncing between two walls."""
    span = hi - lo
    if span <= 0:
        return lo
    m = (v - lo) % (2 * span)
    return lo + (m if m <= span else 2 * span - m)


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cells: int, ch: int) -> np.ndarray:
    """Band-limited noise in [0, 1], (h, w, ch) float32: random cells upsampled bicubically."""
    ch_h, ch_w = max(2, cells * h // max(h, w)), max(2, cells * w // max(h, w))
    small = rng.random((ch_h, ch_w, ch)).astype(np.float32)
    big = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC).reshape(h, w, ch)
    lo, hi = float(big.min()), float(big.max())
    return (big - lo) / max(hi - lo, 1e-6)


def _pattern(rng: np.random.Generator, h: int, w: int, kind: str) -> np.ndarray:
    """A scalar pattern in [0, 1], (h, w, 1): smooth noise, stripes or a checkerboard."""
    if kind == "noise":
        return _smooth_noise(rng, h, w, int(rng.integers(3, 9)), 1)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    phi = rng.uniform(0, math.pi)
    period = rng.uniform(6, 18)
    if kind == "stripes":
        u = x * math.cos(phi) + y * math.sin(phi)
        return (0.5 + 0.5 * np.sin(2 * math.pi * u / period))[..., None]
    u, v = x * math.cos(phi) + y * math.sin(phi), -x * math.sin(phi) + y * math.cos(phi)
    return ((np.floor(u / period) + np.floor(v / period)) % 2)[..., None].astype(np.float32)


def _colourize(rng: np.random.Generator, pattern: np.ndarray, grain: float) -> np.ndarray:
    """Blend two random colours by the pattern and add fixed grain; uint8 (h, w, 3)."""
    c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    img = c0 + pattern * (c1 - c0)
    img += rng.normal(0, grain, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def make_texture(rng: np.random.Generator, size: int) -> np.ndarray:
    """A (size, size, 3) uint8 object texture: noise, stripes or checker."""
    kind = ("noise", "stripes", "checker")[int(rng.integers(3))]
    return _colourize(rng, _pattern(rng, size, size, kind), grain=6.0)


def make_background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A (h, w, 3) uint8 procedural background: multi-octave noise, gradient or soft texture."""
    kind = ("noise", "gradient", "texture")[int(rng.integers(3))]
    if kind == "noise":
        pat = sum(_smooth_noise(rng, h, w, c, 3) * a for c, a in ((4, 0.6), (12, 0.3), (40, 0.1)))
        return _colourize(rng, pat, grain=3.0)
    if kind == "gradient":
        phi = rng.uniform(0, 2 * math.pi)
        y, x = np.mgrid[0:h, 0:w].astype(np.float32)
        u = x * math.cos(phi) + y * math.sin(phi)
        pat = ((u - u.min()) / max(float(np.ptp(u)), 1.0))[..., None]
        pat = 0.8 * pat + 0.2 * _smooth_noise(rng, h, w, 6, 1)
        return _colourize(rng, pat, grain=3.0)
    pat = 0.5 * _pattern(rng, h, w, ("stripes", "checker")[int(rng.integers(2))]) \
        + 0.5 * _smooth_noise(rng, h, w, 5, 1)
    return _colourize(rng, pat, grain=3.0)


def _shape(rng: np.random.Generator, radius: float) -> np.ndarray:
    """Unit-ish outline scaled to `radius`: a star polygon, an ellipse or a smooth blob; (K, 2)."""
    kind = int(rng.integers(3))
    if kind == 0:
        k = int(rng.integers(5, 11))
        ang = np.sort(rng.uniform(0, 2 * math.pi, k))
        rad = rng.uniform(0.55, 1.0, k)
    else:
        ang = np.linspace(0, 2 * math.pi, 64, endpoint=False)
        if kind == 1:
            a, b = 1.0, rng.uniform(0.45, 0.9)
            rad = a * b / np.sqrt((b * np.cos(ang)) ** 2 + (a * np.sin(ang)) ** 2)
        else:
            rad = 0.8 + sum(rng.uniform(-0.12, 0.12) * np.cos(f * ang + rng.uniform(0, 6.3))
                            for f in (2, 3, 5))
    return np.stack([np.cos(ang), np.sin(ang)], axis=1) * rad[:, None] * radius


def _make_object(rng: np.random.Generator, obj: int, z: int, lv: Level, size: tuple[int, int],
                 n_frames: int, role: str) -> SyntheticObject:
    """Draw one object; `role` is "free" (bounces inside the frame), "exit" (leaves it) or
    "enter" (comes in from outside)."""
    h, w = size
    short = min(h, w)
    r = rng.uniform(*lv.radius) * short
    extent = r * (1 + lv.scale_amp) * 1.5  # a conservative half-size of the drawn shape
    tex = math.ceil(2.2 * r) + 2
    verts = _shape(rng, r) + tex / 2
    texture = make_texture(rng, tex)
    speed = rng.uniform(*lv.speed) * short
    heading = rng.uniform(0, 2 * math.pi)
    start = (rng.uniform(extent, max(extent + 1, w - extent)),
             rng.uniform(extent, max(extent + 1, h - extent)))
    if role == "enter":
        side = int(rng.integers(4))
        target = (rng.uniform(0.3, 0.7) * w, rng.uniform(0.3, 0.7) * h)
        start = ((-extent, target[1]), (w + extent, target[1]),
                 (target[0], -extent), (target[0], h + extent))[side]
        heading = math.atan2(target[1] - start[1], target[0] - start[0])
        speed = max(speed, math.dist(start, target) / (0.6 * n_frames))
    elif role == "exit":
        gaps = (start[0], w - start[0], start[1], h - start[1])
        side = int(np.argmin(gaps))
        heading = (math.pi, 0.0, -math.pi / 2, math.pi / 2)[side]
        speed = max(speed, (gaps[side] + extent) / (0.8 * n_frames))
    box = (extent, extent, max(extent, w - extent), max(extent, h - extent)) \
        if role == "free" else None
    return SyntheticObject(
        obj=obj, z=z, vertices=verts, texture=texture, start=start,
        velocity=(speed * math.cos(heading), speed * math.sin(heading)),
        angle=rng.uniform(0, 2 * math.pi), spin=rng.uniform(-lv.spin, lv.spin),
        scale_amp=lv.scale_amp, scale_freq=rng.uniform(0.5, 1.5) / max(n_frames, 1),
        phase=rng.uniform(0, 2 * math.pi), bounce_box=box)


def _aim_at(obj: SyntheticObject, other: SyntheticObject, n_frames: int) -> SyntheticObject:
    """Re-aim `obj` so that it crosses `other` mid-video (an occlusion one way or the other)."""
    t = n_frames / 2
    tx, ty = other.position(int(t))
    vx, vy = (tx - obj.start[0]) / t, (ty - obj.start[1]) / t
    return replace(obj, velocity=(vx, vy))


def _add_grain(frame: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Add Gaussian-like sensor noise fast: random bytes through a 256-entry quantile table."""
    quantiles = [NormalDist(0.0, sigma).inv_cdf((i + 0.5) / 256) for i in range(256)]
    table = np.round(quantiles).astype(np.int16)
    pos = np.clip(table, 0, 255).astype(np.uint8)
    neg = np.clip(-table, 0, 255).astype(np.uint8)
    draw = np.frombuffer(rng.bytes(frame.size), dtype=np.uint8).reshape(frame.shape)
    return cv2.subtract(cv2.add(frame, pos[draw]), neg[draw])


@dataclass
class SyntheticScene:
    """Objects over a background; `render(t)` gives frame t and its exact id map."""

    size: tuple[int, int]
    n_frames: int
    objects: list[SyntheticObject]
    background: Callable[[int], np.ndarray]
    noise: float = 0.0
    seed: int = 0

    def object_masks(self, t: int) -> dict[int, np.ndarray]:
        """Full silhouettes at frame t per object id (before occlusion)."""
        return {o.obj: o.mask(t, self.size) for o in self.objects}

    def render(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """(frame HxWx3 uint8, ids HxW uint8) at t; objects painted back to front."""
        frame = self.background(t).copy()
        ids = np.zeros(self.size, dtype=np.uint8)
        for o in sorted(self.objects, key=lambda o: o.z):
            found = o.patch(t, self.size)
            if found is None:
                continue
            (y0, x0), m, tex = found
            box = (slice(y0, y0 + m.shape[0]), slice(x0, x0 + m.shape[1]))
            frame[box][m] = tex[m]
            ids[box][m] = o.obj
        if self.noise > 0:
            frame = _add_grain(frame, self.noise, np.random.default_rng((self.seed, t)))
        return frame, ids

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for t in range(self.n_frames):
            yield self.render(t)


def _procedural_background(rng: np.random.Generator, size: tuple[int, int], n_frames: int,
                           pan: float) -> Callable[[int], np.ndarray]:
    """A panning crop of a larger procedural canvas."""
    h, w = size
    step = rng.uniform(-pan, pan, 2) * min(h, w)
    margin = math.ceil(abs(step).max() * n_frames) + 1
    canvas = make_background(rng, h + 2 * margin, w + 2 * margin)

    def at(t: int) -> np.ndarray:
        x0 = margin + round(step[0] * t)
        y0 = margin + round(step[1] * t)
        return canvas[y0:y0 + h, x0:x0 + w]

    return at


def _fit(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Centre-crop a frame to the target aspect ratio, then resize it to (H, W)."""
    h, w = frame.shape[:2]
    th, tw = size
    cw, ch = min(w, round(h * tw / th)), min(h, round(w * th / tw))
    x0, y0 = (w - cw) // 2, (h - ch) // 2
    crop = np.ascontiguousarray(frame[y0:y0 + ch, x0:x0 + cw])
    return cv2.resize(crop, (tw, th), interpolation=cv2.INTER_AREA)


def _video_background(path: str | Path, size: tuple[int, int], n_frames: int
                      ) -> Callable[[int], np.ndarray]:
    """Frames of a real video (looped), resized; read once through `annotator.video`."""
    try:
        from annotator.video import open_video  # lazy: optional dependency on the video layer
    except ImportError as exc:
        raise AnnotatorError(f"cannot read background video {path}: {exc}") from exc
    video = open_video(path)
    try:
        frames = [_fit(f, size) for f in video.frames(0, min(n_frames, len(video)))]
    finally:
        video.close()
    if not frames:
        raise AnnotatorError(f"background video {path} has no frames")
    return lambda t: frames[t % len(frames)]


def make_scene(seed: int, level: int = 1, *, size: tuple[int, int] = (240, 320),
               n_frames: int = 30, background: str | Path | None = None) -> SyntheticScene:
    """Build a reproducible scene; `background` is an optional path to a real video."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {sorted(LEVELS)}, got {level}")
    lv = LEVELS[level]
    rng = np.random.default_rng(seed)
    n = int(rng.integers(lv.n_objects[0], lv.n_objects[1] + 1))
    z_order = rng.permutation(n)
    roles = ["free"] * n
    if lv.exits:
        roles[0] = "exit"
        if n >= 3:
            roles[-1] = "enter"
    objects = [_make_object(rng, i + 1, int(z_order[i]), lv, size, n_frames, roles[i])
               for i in range(n)]
    if lv.crossings:
        for i in range(1, n):
            if roles[i] == "free":
                objects[i] = _aim_at(objects[i], objects[i - 1], n_frames)
    bg = (_video_background(background, size, n_frames) if background is not None
          else _procedural_background(rng, size, n_frames, lv.pan))
    return SyntheticScene(size, n_frames, objects, bg, lv.noise, seed)


@dataclass(frozen=True)
class SyntheticVideo:
    """A rendered sequence in memory: frames (N, H, W, 3) and exact id maps (N, H, W)."""

    name: str
    frames: np.ndarray = field(compare=False)
    masks: np.ndarray = field(compare=False)


def generate(seed: int, level: int = 1, *, size: tuple[int, int] = (240, 320),
             n_frames: int = 30, background: str | Path | None = None) -> SyntheticVideo:
    """Render a whole scene in memory (no files)."""
    scene = make_scene(seed, level, size=size, n_frames=n_frames, background=background)
    frames, masks = zip(*scene, strict=True)
    return SyntheticVideo(f"synth-l{level}-s{seed}", np.stack(frames), np.stack(masks))


def write_dataset(root: str | Path, n_sequences: int = 3, *, seed: int = 0, level: int = 1,
                  size: tuple[int, int] = (240, 320), n_frames: int = 30,
                  background: str | Path | None = None, split: str = "val") -> list[str]:
    """Write `n_sequences` scenes (seeds seed, seed+1, ...) as a DAVIS dataset; returns names."""
    names = []
    for k in range(n_sequences):
        scene = make_scene(seed + k, level, size=size, n_frames=n_frames, background=background)
        name = f"synth-l{level}-s{seed + k}"
        rendered = list(scene)
        write_sequence(root, name, (f for f, _ in rendered), (m for _, m in rendered))
        names.append(name)
    write_imageset(root, names, split)
    return names
