"""The overlay layer: one ARGB image per frame, painted from RLE runs, cached per frame."""

from __future__ import annotations

import numpy as np
import pytest

from annotator.core.masks import encode
from annotator.ui.overlay import (
    EDGE_ALPHA,
    FILL_ALPHA,
    FrameOverlays,
    OverlayMode,
    compose,
    compose_rles,
    premultiplied,
    rle_counts,
)
from tests.ui.disc_backend import disc

SHAPE = (90, 160)
COLORS = [(230, 25, 75), (60, 180, 75), (0, 130, 200)]


def _masks() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    masks = [disc(SHAPE, 30, 45, 20), disc(SHAPE, 90, 45, 25), rng.random(SHAPE) > 0.97]
    masks[2][:, 150:] = True  # touches the frame border
    for k in range(len(masks)):  # disjoint, so both composers must agree pixel for pixel
        for j in range(k):
            masks[k] &= ~masks[j]
    return masks


def test_rle_counts_rebuild_the_mask():
    rng = np.random.default_rng(1)
    for _ in range(50):
        h, w = (int(v) for v in rng.integers(1, 40, 2))
        mask = rng.random((h, w)) > rng.random()
        counts = rle_counts(encode(mask))
        flat = np.repeat(np.arange(len(counts)) % 2 == 1, counts)
        assert np.array_equal(flat.reshape(w, h).T, mask)


@pytest.mark.parametrize("mode", list(OverlayMode))
def test_rle_composer_matches_the_bitmap_composer(mode):
    masks = _masks()
    a = compose(list(zip(masks, COLORS, strict=True)), SHAPE, mode)
    b = compose_rles([(encode(m), c) for m, c in zip(masks, COLORS, strict=True)], SHAPE, mode)
    assert np.array_equal(a, b)
    if mode == OverlayMode.FILL:
        assert b[45, 30] == premultiplied(COLORS[0], FILL_ALPHA)
        assert b[45, 30 - 20] == premultiplied(COLORS[0], EDGE_ALPHA)
        assert b[5, 70] == 0
    if mode == OverlayMode.OUTLINE:
        assert b[45, 30] == 0 and b[45, 10] == premultiplied(COLORS[0], EDGE_ALPHA)
    if mode == OverlayMode.OFF:
        assert not b.any()


def test_later_objects_are_drawn_on_top():
    a, b = disc(SHAPE, 50, 45, 20), disc(SHAPE, 60, 45, 20)
    image = compose_rles([(encode(a), COLORS[0]), (encode(b), COLORS[1])], SHAPE,
                         OverlayMode.FILL)
    assert image[45, 55] == premultiplied(COLORS[1], FILL_ALPHA)


def test_frame_overlays_cache_and_invalidate():
    builds = []

    def build(frame):
        builds.append(frame)
        return [(encode(disc(SHAPE, 20 + frame, 45, 10)), COLORS[0])], SHAPE

    overlays = FrameOverlays(build, capacity=2)
    first = overlays.image(0)
    assert overlays.image(0) is first and builds == [0]
    overlays.image(1)
    overlays.image(2)  # evicts frame 0 (capacity 2)
    assert overlays.cached() == [1, 2]
    overlays.invalidate([2])
    overlays.image(2)
    assert builds == [0, 1, 2, 2]
    overlays.set_mode(OverlayMode.OFF)
    assert not overlays.image(1).any()
