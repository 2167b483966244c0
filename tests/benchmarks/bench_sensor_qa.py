"""Benchmark: sensor QA with Rglasso vs GraphicalLasso residuals, MinCovDet distances and RPCA.

Synthetic IMU-like streams with planted anomalies and ground truth (research doc §1.7): a
VAR(1) process whose innovation precision is sparse (sklearn make_sparse_spd_matrix), so the
clean graph is known; events of 3-10 s are planted after a clean first minute. Two scenarios:
"coupling" (A1 crosstalk only, the Rglasso target) and "mixed" (A1-A6 in equal numbers).

Every method scores the same sliding windows (2 s, stride 1 s, 100 Hz) without a clean
reference; a window is positive when >= 50 % of it overlaps an event. Thresholds: each
method's robust z-score k, and Rglasso's λ/ρ, are chosen on a validation seed by F1, then
frozen for the test seeds. AP is threshold-free. Runtime is scoring time per stream, and
time/ref its ratio to the first row. The "λ=1e6" row is the ablation: the same reference score
with S switched off, i.e. plain graphical lasso.

Run: .venv/bin/python tests/benchmarks/bench_sensor_qa.py [--seeds 5] [--duration 300]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from sklearn.covariance import GraphicalLasso, MinCovDet
from sklearn.datasets import make_sparse_spd_matrix
from sklearn.metrics import average_precision_score

from annotator.tools.rglasso import RglassoConfig, soft_threshold
from annotator.tools.sensor_qa import (
    QaConfig,
    robust_threshold,
    score_against_reference,
    score_windows,
    standardize,
    window_bounds,
    window_correlation,
)

FS = 100.0
P = 12
WINDOW, STRIDE = 200, 100
TYPES = ("A1", "A2", "A3", "A4", "A5", "A6")


@dataclass(frozen=True)
class Event:
    """A planted anomaly on samples [start, stop)."""

    kind: str
    start: int
    stop: int
    channels: tuple[int, ...]


def clean_stream(rng: np.random.Generator, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """VAR(1) x_t = 0.5 x_{t-1} + e_t, e ~ N(0, Θ0⁻¹); returns (x, Θ0)."""
    theta0 = make_sparse_spd_matrix(
        n_dim=P, alpha=0.8, smallest_coef=0.3, largest_coef=0.7, norm_diag=True, random_state=seed
    )
    chol = np.linalg.cholesky(np.linalg.inv(theta0))
    eps = rng.standard_normal((n, P)) @ chol.T
    x = np.empty_like(eps)
    x[0] = eps[0] / np.sqrt(0.75)
    for t in range(1, n):
        x[t] = 0.5 * x[t - 1] + eps[t]
    return x, theta0


def plant(x: np.ndarray, rng: np.random.Generator, kinds: list[str]) -> list[Event]:
    """Plant non-overlapping events (after the first 60 s) in place; returns the ground truth."""
    n, sd = x.shape[0], x.std(axis=0)
    events: list[Event] = []
    busy = np.zeros(n, dtype=bool)
    busy[: int(60 * FS)] = True
    for kind in kinds:
        length = int(rng.uniform(3, 10) * FS)
        for _ in range(1000):
            start = int(rng.integers(0, n - length))
            if not busy[max(0, start - 200) : start + length + 200].any():
                break
        busy[start : start + length] = True
        sl = slice(start, start + length)
        i, j = (int(c) for c in rng.choice(P, 2, replace=False))
        if kind == "A1":
            zc = np.sqrt(rng.uniform(0.3, 0.8)) * rng.standard_normal(length)
            x[sl, i] += zc * sd[i]
            x[sl, j] += zc * sd[j]
            events.append(Event(kind, start, start + length, (i, j)))
            continue
        if kind == "A2":
            x[sl, i] += rng.normal(0, np.sqrt(rng.uniform(1, 4)) * sd[i], length)
        elif kind == "A3":
            x[sl, i] = x[start, i]
        elif kind == "A4":
            hit = rng.random(length) < 0.01
            x[sl, i] += hit * rng.choice([-8.0, 8.0], length) * sd[i]
        elif kind == "A5":
            lag = int(rng.integers(20, 51))
            x[start + lag : start + length, i] = x[start : start + length - lag, i].copy()
        else:
            x[sl, i] *= rng.choice([-1.0, 2.0])
        events.append(Event(kind, start, start + length, (i,)))
    return events


def make_case(seed: int, duration: float, scenario: str) -> tuple[np.ndarray, list[Event]]:
    """One synthetic stream: 12 coupling events, or 2 of each type for 'mixed'."""
    rng = np.random.default_rng(seed)
    x, _ = clean_stream(rng, int(duration * FS), seed)
    kinds = ["A1"] * 12 if scenario == "coupling" else [k for k in TYPES for _ in range(2)]
    return x, plant(x, rng, kinds)


def window_labels(bounds: np.ndarray, events: list[Event]) -> np.ndarray:
    """1 where >= 50 % of the window overlaps an event."""
    cover = np.zeros(bounds[-1, 1], dtype=bool)
    for e in events:
        cover[e.start : e.stop] = True
    return np.array([cover[a:b].mean() >= 0.5 for a, b in bounds])


# --- scorers: (standardised x, window bounds) -> one score per window -------------------------


def rglasso_scores(cfg: QaConfig) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Our method, through the same code paths detect_anomalies uses (cfg.mode picks one)."""
    scorer = score_against_reference if cfg.mode == "reference" else score_windows

    def score(z: np.ndarray, bounds: np.ndarray) -> np.ndarray:
        return scorer(z, np.arange(z.shape[0]) / FS, bounds, cfg).scores

    return score


def glasso_residual_scores(z: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """sklearn GraphicalLasso on the whole stream; window score Σ_{i<j} |M_w - Σ_glasso|."""
    gl = GraphicalLasso(alpha=0.05).fit(z)
    d = np.sqrt(np.diag(gl.covariance_))
    ref = gl.covariance_ / np.outer(d, d)
    return np.array(
        [np.triu(np.abs(window_correlation(z[a:b], 1e-3) - ref), 1).sum() for a, b in bounds]
    )


def glasso_nll_scores(z: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Gaussian NLL of each window covariance under the whole-stream GraphicalLasso precision."""
    gl = GraphicalLasso(alpha=0.05).fit(z)
    prec = gl.precision_
    out = []
    for a, b in bounds:
        x = z[a:b] - z[a:b].mean(axis=0)
        out.append(0.5 * np.trace(x.T @ x / x.shape[0] @ prec))
    return np.array(out)


def mcd_scores(z: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """MinCovDet on (a subsample of) the whole stream; mean squared Mahalanobis per window."""
    sub = z[:: max(1, z.shape[0] // 6000)]
    mcd = MinCovDet(random_state=0).fit(sub)
    d2 = mcd.mahalanobis(z)
    return np.array([d2[a:b].mean() for a, b in bounds])


def rpca_ialm(d: np.ndarray, tol: float = 1e-7, max_iter: int = 1000) -> np.ndarray:
    """Principal Component Pursuit by inexact ALM (Lin, Chen, Ma 2010); returns sparse S."""
    lam = 1.0 / np.sqrt(max(d.shape))
    norm2 = np.linalg.norm(d, 2)
    y = d / max(norm2, np.abs(d).max() / lam)
    mu, mu_max = 1.25 / norm2, 1.25e7 / norm2
    s = np.zeros_like(d)
    norm_d = np.linalg.norm(d)
    for _ in range(max_iter):
        u, sig, vt = np.linalg.svd(d - s + y / mu, full_matrices=False)
        low = (u * np.maximum(sig - 1.0 / mu, 0.0)) @ vt
        s = soft_threshold(d - low + y / mu, lam / mu)
        resid = d - low - s
        y += mu * resid
        mu = min(1.5 * mu, mu_max)
        if np.linalg.norm(resid) / norm_d < tol:
            break
    return s


def rpca_scores(z: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """RPCA (PCP/IALM) on each window correlation matrix; score Σ_{i<j} |S|."""
    return np.array(
        [np.triu(np.abs(rpca_ialm(window_correlation(z[a:b], 1e-3))), 1).sum() for a, b in bounds]
    )


# --- evaluation --------------------------------------------------------------------------------

K_GRID = (0.0, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0)


def prf(pred: np.ndarray, label: np.ndarray) -> tuple[float, float, float]:
    """Precision, recall, F1 of boolean predictions."""
    tp = float(np.sum(pred & label))
    prec = tp / max(1.0, float(pred.sum()))
    rec = tp / max(1.0, float(label.sum()))
    return prec, rec, 2 * prec * rec / max(1e-12, prec + rec)


def run_case(seed: int, duration: float, scenario: str, scorer: Callable) -> tuple:
    """Scores, labels and scoring runtime for one stream."""
    x, events = make_case(seed, duration, scenario)
    z, _ = standardize(x)
    bounds = window_bounds(z.shape[0], WINDOW, STRIDE)
    t0 = time.perf_counter()
    scores = scorer(z, bounds)
    return scores, window_labels(bounds, events), time.perf_counter() - t0


def best_k(scores: np.ndarray, labels: np.ndarray, floor: float) -> tuple[float, float]:
    """Robust-z k with the best validation F1; returns (k, F1)."""
    f1s = [prf(scores > robust_threshold(scores, k, floor), labels)[2] for k in K_GRID]
    i = int(np.argmax(f1s))
    return K_GRID[i], f1s[i]


def evaluate(
    name: str, scorer: Callable, floor: float, args: argparse.Namespace, scen: str
) -> dict:
    """Validate k on seed 1000, then average P/R/F1/AP/runtime over the test seeds."""
    val_scores, val_labels, _ = run_case(1000, args.duration, scen, scorer)
    k, _ = best_k(val_scores, val_labels, floor)
    rows = []
    for seed in range(args.seeds):
        scores, labels, secs = run_case(seed, args.duration, scen, scorer)
        pred = scores > robust_threshold(scores, k, floor)
        rows.append((*prf(pred, labels), average_precision_score(labels, scores), secs))
    mean = np.mean(rows, axis=0)
    return {
        "method": name,
        "k": k,
        "P": mean[0],
        "R": mean[1],
        "F1": mean[2],
        "AP": mean[3],
        "s": mean[4],
    }


def choose_rglasso(args: argparse.Namespace, scen: str, mode: str) -> QaConfig:
    """Grid over λ, ρ on the validation seed by F1 (λ, ρ frozen afterwards)."""
    best, best_f1 = QaConfig(mode=mode), -1.0
    grid = (
        [(0.1, 0.05), (0.2, 0.05)] if mode == "window" else [(0.1, 0.05), (0.3, 0.05), (0.3, 0.1)]
    )
    for lam, rho in grid:
        cfg = QaConfig(mode=mode, rglasso=RglassoConfig(rho=rho, lam=lam))
        scores, labels, _ = run_case(1000, args.duration, scen, rglasso_scores(cfg))
        f1 = best_k(scores, labels, 0.0 if mode == "reference" else 1e-6)[1]
        if f1 > best_f1:
            best, best_f1 = cfg, f1
    return best


def warm_start_iterations(cfg: QaConfig, duration: float) -> tuple[float, float]:
    """Mean ADMM iterations per window in window mode, warm vs cold start (seed 0)."""
    x, _ = make_case(0, duration, "coupling")
    z, _ = standardize(x)
    bounds = window_bounds(z.shape[0], WINDOW, STRIDE)
    times = np.arange(z.shape[0]) / FS
    warm = score_windows(z, times, bounds, cfg).iterations.mean()
    cold = score_windows(z, times, bounds, replace(cfg, warm_start=False)).iterations.mean()
    return float(warm), float(cold)


def main() -> None:
    """Print one table per scenario."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=300.0)
    args = parser.parse_args()
    for scen in ("coupling", "mixed"):
        ref_cfg = choose_rglasso(args, scen, "reference")
        win_cfg = choose_rglasso(args, scen, "window")
        lam_rho = "λ={0.lam:g} ρ={0.rho:g}"
        no_s = QaConfig(rglasso=RglassoConfig(rho=ref_cfg.rglasso.rho, lam=1e6))
        methods = [
            ("Rglasso reference, " + lam_rho.format(ref_cfg.rglasso), rglasso_scores(ref_cfg), 0.0),
            ("Rglasso window S, " + lam_rho.format(win_cfg.rglasso), rglasso_scores(win_cfg), 1e-6),
            ("same, λ=1e6 (S off: plain glasso)", rglasso_scores(no_s), 0.0),
            ("GraphicalLasso residual", glasso_residual_scores, 0.0),
            ("GraphicalLasso NLL", glasso_nll_scores, 0.0),
            ("MinCovDet distance", mcd_scores, 0.0),
            ("RPCA (IALM) per window", rpca_scores, 1e-6),
        ]
        print(
            f"\nscenario: {scen}; {args.seeds} test seeds x {args.duration:.0f} s, p={P}, "
            f"window {WINDOW / FS:.0f} s stride {STRIDE / FS:.0f} s"
        )
        print(
            f"{'method':<40} {'k':>4} {'precision':>9} {'recall':>7} {'F1':>6} {'AP':>6} "
            f"{'time s':>7} {'time/ref':>8}"
        )
        ref = None
        for name, scorer, floor in methods:
            r = evaluate(name, scorer, floor, args, scen)
            if ref is None:  # the first row is the time reference
                ref = r["s"]
            print(
                f"{name:<40} {r['k']:>4g} {r['P']:>9.3f} {r['R']:>7.3f} {r['F1']:>6.3f} "
                f"{r['AP']:>6.3f} {r['s']:>7.2f} {r['s'] / ref:>8.2f}"
            )
        if scen == "coupling":
            warm, cold = warm_start_iterations(win_cfg, min(args.duration, 120.0))
            print(f"window mode ADMM iterations per window: warm start {warm:.0f}, cold {cold:.0f}")


if __name__ == "__main__":
    main()
