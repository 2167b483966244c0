"""The center-of-error click simulator (RITM / SAM 2 evaluation rules)."""

from __future__ import annotations

import numpy as np
import pytest

from annotator.eval.clicks import ClickSimulator, center_click, noisy_box, uniform_click

H, W = 60, 80


def circle(cy: int, cx: int, r: int) -> np.ndarray:
    y, x = np.mgrid[0:H, 0:W]
    return (y - cy) ** 2 + (x - cx) ** 2 <= r * r


def test_first_click_is_positive_at_the_gt_centre() -> None:
    p = center_click(circle(30, 40, 10), None)
    assert p is not None
    assert (p.x, p.y, p.positive) == (40.0, 30.0, True)


def test_false_positive_ring_beats_a_small_notch() -> None:
    gt = circle(30, 40, 10)
    pred = circle(30, 40, 15)  # a false-positive ring of width 5 around the GT
    pred[29:32, 39:42] = False  # and a 3 px false-negative notch in the middle
    p = center_click(gt, pred)
    assert p is not None
    assert not p.positive
    assert pred[int(p.y), int(p.x)]
    assert not gt[int(p.y), int(p.x)]


def test_tie_gives_a_negative_click() -> None:
    gt = np.zeros((H, W), dtype=bool)
    gt[10:21, 10:21] = True
    pred = np.zeros_like(gt)
    pred[30:41, 50:61] = True  # same shape: equal deepest distances
    p = center_click(gt, pred)
    assert p is not None
    assert (p.x, p.y, p.positive) == (55.0, 35.0, False)


def test_image_border_counts_as_boundary() -> None:
    gt = np.zeros((H, W), dtype=bool)
    gt[:, :20] = True  # touches the top, bottom and left borders
    p = center_click(gt, None)
    assert p is not None
    assert 9 <= p.x <= 10  # middle of the 20 px strip, not the left border
    assert p.positive


def test_first_maximum_in_row_major_order() -> None:
    gt = np.zeros((H, W), dtype=bool)
    gt[10:12, 10:40] = True  # a 2 px strip: many pixels share the max distance
    p = center_click(gt, None)
    assert p is not None
    assert (p.x, p.y) == (10.0, 10.0)


def test_no_error_returns_none() -> None:
    gt = circle(30, 40, 10)
    assert center_click(gt, gt.copy()) is None


def test_simulator_never_clicks_the_same_pixel_twice() -> None:
    gt = circle(30, 40, 10)
    sim = ClickSimulator(gt)
    a = sim.next_click(None)
    b = sim.next_click(None)
    assert a is not None
    assert b is not None
    assert (a.x, a.y) != (b.x, b.y)
    assert b.positive
    assert sim.clicks == [a, b]


def test_ignore_pixels_are_never_clicked() -> None:
    gt = circle(30, 40, 12)
    ignore = circle(30, 40, 6)
    p = center_click(gt, None, ignore=ignore)
    assert p is not None
    assert not ignore[int(p.y), int(p.x)]
    assert gt[int(p.y), int(p.x)]


def test_uniform_click_label_matches_error_type() -> None:
    rng = np.random.default_rng(0)
    gt = circle(30, 40, 10)
    pred = circle(30, 45, 10)
    for _ in range(20):
        p = uniform_click(gt, pred, rng)
        assert p is not None
        y, x = int(p.y), int(p.x)
        assert gt[y, x] != pred[y, x]
        assert p.positive == bool(gt[y, x])
    q = uniform_click(gt, gt, rng)  # no error: a negative click on the background
    assert q is not None
    assert not q.positive
    assert not gt[int(q.y), int(q.x)]


@pytest.mark.parametrize("seed", range(5))
def test_noisy_box_stays_in_bounds(seed: int) -> None:
    gt = np.zeros((H, W), dtype=bool)
    gt[0:30, 50:80] = True  # at the image corner so jitter must be clamped
    box = noisy_box(gt, np.random.default_rng(seed))
    assert box is not None
    assert 0 <= box.x0 <= box.x1 <= W - 1
    assert 0 <= box.y0 <= box.y1 <= H - 1
    assert abs(box.x0 - 50) <= 3
    assert abs(box.y1 - 29) <= 3
