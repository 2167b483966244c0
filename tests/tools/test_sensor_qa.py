"""Rglasso solver and sensor QA: convergence, the glasso limit, planted outliers, spans."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.covariance import graphical_lasso
from sklearn.datasets import make_sparse_spd_matrix

from annotator.tools.rglasso import RglassoConfig, logdet_prox, solve_rglasso
from annotator.tools.sensor_io import SensorError, SensorStream
from annotator.tools.sensor_qa import (
    FlaggedSpan,
    QaConfig,
    detect_anomalies,
    format_spans,
    robust_threshold,
    window_bounds,
)

P = 8


def _sparse_correlation(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A correlation matrix whose inverse is sparse, and that inverse's support."""
    prec = make_sparse_spd_matrix(
        n_dim=P, alpha=0.8, smallest_coef=0.3, largest_coef=0.7, norm_diag=True, random_state=seed
    )
    cov = np.linalg.inv(prec)
    d = np.sqrt(np.diag(cov))
    return cov / np.outer(d, d), prec


def _sample_correlation(n: int = 400, seed: int = 0) -> np.ndarray:
    corr, _ = _sparse_correlation(seed)
    x = np.random.default_rng(seed).multivariate_normal(np.zeros(P), corr, size=n)
    m = np.cov(x.T, bias=True)
    d = np.sqrt(np.diag(m))
    return m / np.outer(d, d)


def test_logdet_prox_solves_its_equation() -> None:
    a = _sample_correlation() - 0.5 * np.eye(P)
    x = logdet_prox(a, 2.0)
    np.testing.assert_allclose(2.0 * x - np.linalg.inv(x), a, atol=1e-10)
    assert np.linalg.eigvalsh(x).min() > 0


def test_residuals_shrink_below_tolerance() -> None:
    m = _sample_correlation()
    cfg = RglassoConfig(rho=0.05, lam=0.2, eps_abs=1e-7, eps_rel=1e-6)
    res = solve_rglasso(m, cfg)
    assert res.converged
    eps = P * cfg.eps_abs + cfg.eps_rel * max(np.linalg.norm(m), np.linalg.norm(res.precision))
    assert res.primal_residual < eps
    np.testing.assert_allclose(res.covariance + res.outliers, m, atol=1e-4)
    assert np.linalg.eigvalsh(res.covariance).min() > 0
    assert np.all(np.diag(res.outliers) == 0)  # S off the diagonal by default
    np.testing.assert_allclose(res.outliers, res.outliers.T, atol=1e-12)
    few = solve_rglasso(m, RglassoConfig(rho=0.05, lam=0.2, max_iter=3))
    assert not few.converged
    assert few.primal_residual > res.primal_residual


def test_large_s_penalty_equals_sklearn_graphical_lasso() -> None:
    m = _sample_correlation()
    cfg = RglassoConfig(rho=0.05, lam=1e6, eps_abs=1e-10, eps_rel=1e-10, max_iter=20000)
    res = solve_rglasso(m, cfg)
    _, ref = graphical_lasso(m, alpha=0.05, tol=1e-12, enet_tol=1e-12, max_iter=2000)
    assert res.converged
    assert np.all(res.outliers == 0)
    np.testing.assert_allclose(res.precision, ref, atol=1e-6)
    np.testing.assert_allclose(res.covariance, m, atol=1e-8)


def test_warm_start_matches_cold_start_and_saves_iterations() -> None:
    m1, m2 = _sample_correlation(seed=0), _sample_correlation(n=420, seed=0)
    cfg = RglassoConfig(rho=0.05, lam=1e6, eps_abs=1e-9, eps_rel=1e-9, max_iter=20000)
    first = solve_rglasso(m1, cfg)
    cold = solve_rglasso(m2, cfg)
    warm = solve_rglasso(m2, cfg, warm=first.state)
    np.testing.assert_allclose(warm.precision, cold.precision, atol=1e-6)
    assert first.state.theta is not warm.state.theta  # the caller's state is not mutated
    assert warm.iterations <= cold.iterations


def test_planted_sparse_outliers_are_the_largest_entries_of_s() -> None:
    corr, prec = _sparse_correlation()
    planted = [(0, 5), (2, 7)]
    assert all(prec[i, j] == 0 for i, j in planted)  # not edges of the true graph
    m = corr.copy()
    for i, j in planted:
        m[i, j] += 0.35
        m[j, i] += 0.35
    res = solve_rglasso(m, RglassoConfig(rho=0.05, lam=0.1))
    assert res.converged
    upper = np.triu(np.abs(res.outliers), 1)
    top2 = {
        tuple(int(v) for v in np.unravel_index(k, upper.shape))
        for k in np.argsort(upper, None)[-2:]
    }
    assert top2 == set(planted)
    assert all(res.outliers[i, j] > 0.2 for i, j in planted)  # right sign, most of the 0.35
    clean = solve_rglasso(corr, RglassoConfig(rho=0.05, lam=0.1))
    assert np.abs(clean.outliers).sum() < 0.5 * np.abs(res.outliers).sum()


def test_permuting_channels_permutes_the_result() -> None:
    m = _sample_correlation()
    perm = np.random.default_rng(1).permutation(P)
    cfg = RglassoConfig(rho=0.05, lam=0.15, eps_abs=1e-9, eps_rel=1e-8, max_iter=20000)
    a = solve_rglasso(m, cfg)
    b = solve_rglasso(m[np.ix_(perm, perm)], cfg)
    np.testing.assert_allclose(b.outliers, a.outliers[np.ix_(perm, perm)], atol=1e-4)


@pytest.mark.parametrize(
    "bad",
    [np.ones((3, 4)), np.array([[1.0, np.nan], [np.nan, 1.0]]), np.array([[1.0, 0.5], [0.1, 1.0]])],
)
def test_solver_rejects_bad_matrices(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="M "):
        solve_rglasso(bad)


# --- sensor QA on a stream --------------------------------------------------------------------


def _stream(seconds: float = 60.0, fs: float = 50.0) -> SensorStream:
    """Correlated 6-channel stream; strong crosstalk between ch1 and ch4 at 30-36 s if present."""
    event = (30.0, 36.0) if seconds > 36.0 else (0.0, 0.0)
    rng = np.random.default_rng(3)
    n, p = int(seconds * fs), 6
    corr, _ = _sparse_correlation(seed=3)
    x = rng.multivariate_normal(np.zeros(P), corr, size=n)[:, :p]
    sl = slice(int(event[0] * fs), int(event[1] * fs))
    common = 1.5 * rng.standard_normal(sl.stop - sl.start)
    x[sl, 1] += common
    x[sl, 4] -= common
    times = 100.0 + np.arange(n) / fs
    return SensorStream(times, x, tuple(f"ch{i}" for i in range(p)))


def test_detect_anomalies_flags_the_planted_span() -> None:
    stream = _stream()
    frame_times = 100.0 + np.arange(0, 60.0, 1 / 25)  # 25 fps video, same clock
    report = detect_anomalies(stream, frame_times, QaConfig(z_threshold=4.0))
    assert report.spans, format_spans(report)
    best = max(report.spans, key=lambda s: s.score)
    assert isinstance(best, FlaggedSpan)
    assert best.start_time < 136.0  # overlaps the event at 130-136 s
    assert best.stop_time > 130.0
    assert 27 * 25 <= best.start_frame < 36 * 25 <= best.stop_frame <= 39 * 25
    assert set(best.channels[:2]) == {"ch1", "ch4"}
    flagged_seconds = sum(s.stop_time - s.start_time for s in report.spans)
    assert flagged_seconds < 15.0
    assert report.windows.converged.all()
    text = format_spans(report)
    assert "ch1" in text
    assert f"{best.start_frame}-{best.stop_frame - 1}" in text


def test_window_mode_puts_the_top_s_entry_on_the_planted_pair() -> None:
    stream = _stream()
    report = detect_anomalies(stream, stream.times, QaConfig(mode="window", stride_s=2.0))
    w = int(np.argmax(report.windows.scores))
    start, stop = report.windows.times[w]
    assert start < 136.0
    assert stop > 130.0
    pair = np.triu(report.windows.pair_scores[w], 1)
    assert np.unravel_index(np.argmax(pair), pair.shape) == (1, 4)
    assert report.windows.converged.all()
    assert report.windows.iterations[1:].mean() < report.windows.iterations[0]  # warm starts


def test_constant_channel_is_dropped_and_reported() -> None:
    s = _stream()
    values = s.values.copy()
    values[:, 2] = 7.0
    report = detect_anomalies(SensorStream(s.times, values, s.channels), s.times)
    assert report.dropped_channels == ("ch2",)
    assert "ch2" not in report.channels
    assert "dropped constant channels: ch2" in format_spans(report)


def test_too_few_samples_per_window_is_a_clear_error() -> None:
    s = _stream(seconds=10.0, fs=2.0)
    with pytest.raises(SensorError, match="shorter than the 6 channels"):
        detect_anomalies(s, s.times, QaConfig(window_s=2.0))


def test_stream_shorter_than_window_and_bad_mode() -> None:
    s = _stream(seconds=3.0)
    with pytest.raises(SensorError, match="longer than the stream"):
        detect_anomalies(s, s.times, QaConfig(window_s=10.0))
    with pytest.raises(SensorError, match="mode must be"):
        detect_anomalies(s, s.times, QaConfig(mode="bogus"))


def test_spans_outside_the_video_are_dropped() -> None:
    stream = _stream()
    frame_times = 100.0 + np.arange(0, 10.0, 1 / 25)  # video covers only the first 10 s
    report = detect_anomalies(stream, frame_times, QaConfig(z_threshold=4.0))
    assert report.flagged.any()
    assert all(s.stop_frame <= frame_times.size for s in report.spans)
    assert not any(s.start_time > 120.0 for s in report.spans)


def test_window_bounds_and_threshold() -> None:
    b = window_bounds(10, 4, 3)
    assert b.tolist() == [[0, 4], [3, 7], [6, 10]]
    assert window_bounds(11, 4, 3)[-1].tolist() == [7, 11]
    scores = np.array([0.0, 0.0, 0.0, 1.0])
    assert robust_threshold(scores, 3.0, 0.05) == 0.05  # MAD 0: the floor decides
    scores = np.array([1.0, 2.0, 3.0, 4.0, 100.0])
    assert robust_threshold(scores, 2.0, 0.0) == pytest.approx(3.0 + 2.0 * 1.4826 * 1.0)
