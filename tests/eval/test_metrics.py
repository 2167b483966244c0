"""DAVIS J/F metrics and statistics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

from annotator.eval.metrics import (
    bound_pixels,
    db_statistics,
    disk,
    evaluate_sequence,
    f_measure,
    f_measure_bipartite,
    jaccard,
    seg2bmap,
    summarize,
)

H, W = 120, 160  # diagonal 200 -> boundary radius ceil(1.6) = 2 px


def square(y: int, x: int, side: int = 20, shape: tuple[int, int] = (H, W)) -> np.ndarray:
    m = np.zeros(shape, dtype=bool)
    m[y:y + side, x:x + side] = True
    return m


def test_disk_matches_skimage_definition() -> None:
    assert disk(1).tolist() == [[0, 1, 0], [1, 1, 1], [0, 1, 0]]
    assert disk(2).tolist() == [[0, 0, 1, 0, 0], [0, 1, 1, 1, 0], [1, 1, 1, 1, 1],
                                [0, 1, 1, 1, 0], [0, 0, 1, 0, 0]]
    assert disk(8).shape == (17, 17)
    assert disk(8).dtype == np.uint8


def test_bound_pixels() -> None:
    assert bound_pixels((480, 854)) == 8
    assert bound_pixels((H, W)) == 2
    assert bound_pixels((H, W), 3) == 3


def test_seg2bmap_hand_case() -> None:
    seg = np.zeros((4, 4), dtype=bool)
    seg[1:3, 1:3] = True
    expected = [[1, 1, 1, 0], [1, 0, 1, 0], [1, 1, 1, 0], [0, 0, 0, 0]]
    assert seg2bmap(seg).astype(int).tolist() == expected


def test_identical_masks() -> None:
    m = square(30, 40)
    assert jaccard(m, m) == 1.0
    assert f_measure(m, m) == 1.0


def test_disjoint_masks() -> None:
    a, b = square(10, 10), square(70, 100)
    assert jaccard(a, b) == 0.0
    assert f_measure(a, b) == 0.0


def test_one_pixel_shift() -> None:
    gt, pred = square(30, 40), square(30, 41)
    assert jaccard(gt, pred) == pytest.approx(20 * 19 / (20 * 21))  # 19/21
    assert f_measure(gt, pred) == 1.0  # within the 2 px tolerance


def test_shift_beyond_tolerance_lowers_f() -> None:
    gt, pred = square(30, 40), square(30, 44)  # r + 2
    assert 0.0 < f_measure(gt, pred) < 1.0


def test_both_empty() -> None:
    e = np.zeros((H, W), dtype=bool)
    assert jaccard(e, e) == 1.0
    assert f_measure(e, e) == 1.0


def test_one_empty() -> None:
    e, m = np.zeros((H, W), dtype=bool), square(30, 40)
    assert jaccard(m, e) == 0.0
    assert jaccard(e, m) == 0.0
    assert f_measure(m, e) == 0.0
    assert f_measure(e, m) == 0.0


def test_void_is_excluded() -> None:
    gt, pred = square(30, 40), square(30, 41)
    void = np.zeros((H, W), dtype=bool)
    void[:, 40] = True  # the only column in gt but not pred
    void[:, 60] = True  # the only column in pred but not gt
    assert jaccard(gt, pred, void) == 1.0


def _random_blob(rng: np.random.Generator) -> np.ndarray:
    small = rng.random((6, 8))
    big = ndimage.zoom(small, (H / 6, W / 8), order=1)
    return big > rng.uniform(0.4, 0.7)


def _f_by_distance(gt: np.ndarray, pred: np.ndarray) -> float:
    """Independent route: a boundary pixel matches if the EDT to the other boundary is <= r."""
    r = bound_pixels(gt.shape)
    bp, bg = seg2bmap(pred), seg2bmap(gt)
    d_to_g = ndimage.distance_transform_edt(~bg)
    d_to_p = ndimage.distance_transform_edt(~bp)
    p = (d_to_g[bp] <= r).mean()
    rc = (d_to_p[bg] <= r).mean()
    return 0.0 if p + rc == 0 else 2 * p * rc / (p + rc)


def test_f_equals_distance_definition_on_random_blobs() -> None:
    rng = np.random.default_rng(0)
    for _ in range(10):
        gt, pred = _random_blob(rng), _random_blob(rng)
        assert f_measure(gt, pred) == pytest.approx(_f_by_distance(gt, pred), abs=1e-12)


def test_bipartite_f() -> None:
    rng = np.random.default_rng(1)
    gt = square(30, 40)
    assert f_measure_bipartite(gt, gt) == 1.0
    assert f_measure_bipartite(gt, square(30, 41)) == 1.0
    e = np.zeros_like(gt)
    assert f_measure_bipartite(e, e) == 1.0
    assert f_measure_bipartite(gt, e) == 0.0
    for _ in range(3):
        a, b = _random_blob(rng), _random_blob(rng)
        assert f_measure_bipartite(a, b) <= f_measure(a, b) + 1e-12


def test_db_statistics_ten_frames() -> None:
    s = db_statistics(np.arange(10) / 10)
    assert s.mean == pytest.approx(0.45)
    assert s.recall == pytest.approx(0.4)  # 0.6..0.9; 0.5 is not > 0.5
    # bins [0:3] and [7:10]
    assert s.decay == pytest.approx(0.1 - 0.8)


def test_db_statistics_nan_frames() -> None:
    v = np.array([1.0, math.nan, 1.0, 0.0])
    s = db_statistics(v)
    assert s.mean == pytest.approx(2 / 3)
    assert s.recall == pytest.approx(2 / 4)  # a NaN frame counts as a miss, like the reference


def test_db_statistics_long_sequence_has_no_uint8_overflow() -> None:
    v = np.r_[np.ones(225), np.zeros(75)]
    # ids = [0, 75, 150, 224, 299]: the last bin v[224:300] holds one 1 and 75 zeros
    assert db_statistics(v).decay == pytest.approx(1 - 1 / 76)


def test_evaluate_sequence_drops_ends_and_weights_objects() -> None:
    gt = np.zeros((5, H, W), dtype=np.uint8)
    pred = np.zeros_like(gt)
    for t in range(5):
        gt[t][square(30, 40)] = 1
        gt[t][square(70, 100)] = 2
        pred[t][square(30, 40)] = 1
    pred[0] = 0  # dropped first frame: must not count
    pred[4] = 0  # dropped last frame
    scores = evaluate_sequence("seq", gt, pred)
    assert [s.key for s in scores] == ["seq_1", "seq_2"]
    assert scores[0].j.tolist() == [1.0, 1.0, 1.0]
    assert scores[1].j.tolist() == [0.0, 0.0, 0.0]
    total = summarize(scores)
    assert total.j.mean == pytest.approx(0.5)
    assert total.jf == pytest.approx(0.5)
    assert total.n_objects == 2
