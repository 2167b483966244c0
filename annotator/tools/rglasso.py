"""Robust Graphical Lasso (Rglasso) solved by ADMM: M = F + S, F's inverse sparse, S sparse.

Source: Liu, Paffenroth, Zou, Zhou, "Anomaly Detection via Graphical Lasso", arXiv:1811.04277.
Only the abstract could be verified (the paper body, its objective and its ADMM box were not
retrievable here; see /work/shared/research/algorithms.md §1). The abstract fixes the idea:
split the sample covariance M into F + S, F "the cleaned sample covariance whose inverse is
sparse and computable by Graphical Lasso", S the outliers, "by adding an additional ℓ1 penalty
to classic Graphical Lasso", solved by ADMM.

Which formulation and why. The third-party transcription

    min  -log det Θ + tr(FΘ) + ρ‖Θ‖₁ + λ‖S‖₁   s.t.  M = F + S                        (R)

is degenerate: minimising over Θ leaves log det F + p, which is concave in F and rewards a
singular F (S eats M; research doc §1.4 checked this numerically). We implement (R) plus the
term -log det F, which is constant for the Θ-problem, so the Θ-part is *exactly* classic
graphical lasso on F, while the whole objective becomes a divergence plus the two ℓ1 terms:

    min  tr(FΘ) - log det(FΘ) - p  +  ρ‖Θ‖₁,off  +  λ‖S‖₁   s.t.  M = F + S,  F ≻ 0   (Rs)

The first three terms are Stein's loss (twice the Gaussian KL divergence from N(0, F) to
N(0, Θ⁻¹)), ≥ 0, and -log det F is a barrier that keeps F positive definite: no degenerate
minimiser. Stationarity in S gives Θ - F⁻¹ ∈ λ ∂‖S‖₁: S is non-zero exactly where the sparse
precision Θ and the raw inverse F⁻¹ of the cleaned covariance disagree by λ, i.e. where
explaining an entry of M through the graph would cost more ℓ1 precision mass than λ|S_ij|.
A single corrupted covariance entry spreads into a dense rank-2 change of M⁻¹, which is what
makes the split identifiable. With λ → ∞, S = 0, F = M and the result is sklearn's
GraphicalLasso on M (off-diagonal penalty, its convention), which the tests check.

ADMM (scaled duals U for Θ = Z, V for M = F + S; penalty μ), one Gauss-Seidel sweep:
    Θ = prox of -log det Θ + tr(FΘ)           (eigen closed form, Boyd et al. 2011 §6.5)
    Z = soft(Θ + U, ρ/μ) off the diagonal
    F = prox of -log det F + tr(FΘ)           (the same closed form)
    S = soft(M - F + V, λ/μ)                  (off the diagonal unless s_diagonal)
    U += Θ - Z;  V += M - F - S
Stops when the primal and dual residuals fall below Boyd's ε_pri/ε_dual. The problem is only
biconvex in (F, Θ), so warm starts (used across overlapping windows) pick the stationary
point; the result records iterations and convergence.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class RglassoConfig:
    """Penalties and ADMM settings; defaults suit a correlation-scaled M (unit diagonal)."""

    rho: float = 0.05  # graph sparsity (ℓ1 on the off-diagonal of Θ)
    lam: float = 0.15  # outlier sparsity (ℓ1 on S)
    mu: float = 1.0  # initial ADMM penalty
    adaptive_mu: bool = True  # residual balancing, Boyd et al. §3.4.1
    eps_abs: float = 1e-5
    eps_rel: float = 1e-4
    max_iter: int = 2000
    penalize_diag: bool = False  # sklearn's convention: Θ's diagonal is not penalised
    s_diagonal: bool = False  # let S absorb variance changes (S_ii) too


@dataclass
class RglassoState:
    """All ADMM variables; pass the previous window's state to warm-start the next."""

    theta: np.ndarray
    z: np.ndarray
    f: np.ndarray
    s: np.ndarray
    u: np.ndarray
    v: np.ndarray
    mu: float

    def copy(self) -> RglassoState:
        """Deep copy so a caller's warm start is never mutated."""
        return replace(
            self, **{k: getattr(self, k).copy() for k in ("theta", "z", "f", "s", "u", "v")}
        )


@dataclass(frozen=True)
class RglassoResult:
    """precision: sparse Θ (the Z copy); covariance: cleaned F; outliers: S."""

    precision: np.ndarray
    covariance: np.ndarray
    outliers: np.ndarray
    iterations: int
    converged: bool
    primal_residual: float
    dual_residual: float
    state: RglassoState


def soft_threshold(x: np.ndarray, t: float | np.ndarray) -> np.ndarray:
    """Entry-wise prox of t‖·‖₁."""
    return np.sign(x) * np.maximum(np.abs(x) - t, 0.0)


def logdet_prox(a: np.ndarray, mu: float) -> np.ndarray:
    """argmin_X -log det X + (μ/2)‖X - A/μ‖², i.e. solve μX - X⁻¹ = A; always SPD."""
    w, q = np.linalg.eigh((a + a.T) / 2.0)
    x = (w + np.sqrt(w * w + 4.0 * mu)) / (2.0 * mu)
    return (q * x) @ q.T


def initial_state(m: np.ndarray, mu: float) -> RglassoState:
    """Cold start: S = 0, F = M (ridged if singular), Θ = Z = F⁻¹ clipped, zero duals."""
    p = m.shape[0]
    w, q = np.linalg.eigh(m)
    floor = max(1e-6, 1e-3 * float(np.mean(np.diag(m))))
    f = (q * np.maximum(w, floor)) @ q.T
    theta = (q * (1.0 / np.maximum(w, floor))) @ q.T
    zeros = np.zeros((p, p))
    return RglassoState(theta, theta.copy(), f, zeros, zeros.copy(), zeros.copy(), mu)


def _penalty_mask(p: int, diagonal: bool) -> np.ndarray:
    """1 where an ℓ1 penalty applies, 0 on an exempt diagonal."""
    mask = np.ones((p, p))
    if not diagonal:
        np.fill_diagonal(mask, 0.0)
    return mask


def _validate(m: np.ndarray, config: RglassoConfig) -> np.ndarray:
    """M must be a finite symmetric square matrix; penalties positive."""
    m = np.asarray(m, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] < 2:
        raise ValueError(f"M must be a square matrix with at least 2 rows, got shape {m.shape}")
    if not np.all(np.isfinite(m)):
        raise ValueError("M has NaN or infinite entries")
    if not np.allclose(m, m.T, atol=1e-10 * max(1.0, float(np.abs(m).max()))):
        raise ValueError("M must be symmetric")
    if config.rho < 0 or config.lam <= 0 or config.mu <= 0:
        raise ValueError("rho must be >= 0 and lam, mu > 0")
    return (m + m.T) / 2.0


def solve_rglasso(
    m: np.ndarray, config: RglassoConfig | None = None, warm: RglassoState | None = None
) -> RglassoResult:
    """Split the covariance M into F + S by ADMM on (Rs); warm-start from `warm` if given."""
    config = config or RglassoConfig()
    m = _validate(m, config)
    p = m.shape[0]
    st = warm.copy() if warm is not None else initial_state(m, config.mu)
    rho_mask = config.rho * _penalty_mask(p, config.penalize_diag)
    s_mask = _penalty_mask(p, config.s_diagonal)  # S is zero where the mask is 0
    norm_m = float(np.linalg.norm(m))
    r_norm = s_norm = np.inf
    converged = False
    it = 0
    for it in range(1, config.max_iter + 1):  # noqa: B007 (it is used after the loop)
        z_prev, s_prev = st.z, st.s
        st.theta = logdet_prox(st.mu * (st.z - st.u) - st.f, st.mu)
        st.z = soft_threshold(st.theta + st.u, rho_mask / st.mu)
        st.f = logdet_prox(st.mu * (m - st.s + st.v) - st.theta, st.mu)
        st.s = soft_threshold(m - st.f + st.v, config.lam / st.mu) * s_mask
        r1, r2 = st.theta - st.z, m - st.f - st.s
        st.u += r1
        st.v += r2
        r_norm = float(np.sqrt(np.sum(r1 * r1) + np.sum(r2 * r2)))
        s_norm = st.mu * float(np.sqrt(np.sum((st.z - z_prev) ** 2) + np.sum((st.s - s_prev) ** 2)))
        eps_pri = p * config.eps_abs + config.eps_rel * max(
            float(np.linalg.norm(st.theta)), float(np.linalg.norm(st.z)), norm_m
        )
        eps_dual = p * config.eps_abs + config.eps_rel * st.mu * float(
            np.sqrt(np.sum(st.u * st.u) + np.sum(st.v * st.v))
        )
        if r_norm <= eps_pri and s_norm <= eps_dual:
            converged = True
            break
        if config.adaptive_mu:
            _balance(st, r_norm, s_norm)
    return RglassoResult(
        precision=st.z.copy(),
        covariance=st.f.copy(),
        outliers=st.s.copy(),
        iterations=it,
        converged=converged,
        primal_residual=r_norm,
        dual_residual=s_norm,
        state=st,
    )


def _balance(st: RglassoState, r_norm: float, s_norm: float) -> None:
    """Residual balancing: raise μ when primal lags, lower it when dual lags; rescale duals."""
    factor = 2.0 if r_norm > 10.0 * s_norm else 0.5 if s_norm > 10.0 * r_norm else 1.0
    if factor != 1.0 and 1e-4 <= st.mu * factor <= 1e4:
        st.mu *= factor
        st.u /= factor
        st.v /= factor
