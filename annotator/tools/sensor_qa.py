"""Sensor QA: flag spans of frames where a sensor stream departs from its clean covariance.

Pipeline (research doc §1.5-1.6): robust per-channel standardisation (median/MAD), sliding
windows, Rglasso (annotator.tools.rglasso: M = F + S, F's inverse sparse, S sparse outliers),
scores, a robust threshold across windows, flagged windows merged and mapped to frames by
presentation time. Two scoring modes:

- "reference" (default): Rglasso on the whole stream's covariance gives the cleaned model F
  (robust to the sparse corruption anomalies leave in M, the paper's use of Rglasso, and the
  role MCD plays for Mahalanobis distances). Each window is scored by Stein's loss of its
  covariance under F's precision, the same divergence Rglasso minimises; pair scores are
  |M_w - F|. On the synthetic benchmark (tests/benchmarks/bench_sensor_qa.py) it has the best
  F1/AP on mixed anomaly types and trails MinCovDet and glasso-NLL on coupling-only streams;
  the same score with λ = 1e6 (S off, plain glasso) does as well, so the gain there comes
  from the Stein score, not from S.
- "window": Rglasso per window correlation matrix, warm-started from the previous overlapping
  window; pair score |S_ij|, channel score Σ_j |S_ij|, window score Σ_{i<j} |S_ij|. This is
  the literal "anomalies = S" reading, but without a reference it cannot tell a planted
  coupling from a true graph edge and scores near chance on the benchmark; kept for study.

The threshold is the larger of `min_score` and median + z·1.4826·MAD of the window scores.

Documented handling of awkward input: channels constant over the whole stream are dropped
(listed in `QaReport.dropped_channels`); a channel constant inside one window keeps the ridge
variance (a stuck channel then scores high in "reference" mode); windows need at least as
many samples as channels; spans outside the video's frame times are dropped, spans partly
outside are clipped. `FlaggedSpan.stop_frame` is exclusive.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from annotator.tools.rglasso import RglassoConfig, RglassoState, solve_rglasso
from annotator.tools.sensor_io import SensorError, SensorStream, check_frame_times, frame_of_samples

MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class QaConfig:
    """Window length/stride in seconds, Rglasso penalties and the flagging rule."""

    window_s: float = 2.0
    stride_s: float | None = None  # None: half a window
    rglasso: RglassoConfig = field(default_factory=RglassoConfig)
    difference: bool = False  # first differences remove slow motion/gravity trends
    ridge: float = 1e-3  # added to each window's variances (stuck channels stay usable)
    z_threshold: float = 3.0  # robust z-score of the window score across windows
    min_score: float = 0.05  # absolute floor on the window score
    channel_fraction: float = 0.3  # a span lists channels scoring >= this x its top channel
    warm_start: bool = True
    mode: str = "reference"  # "reference" or "window" (see the module docstring)


@dataclass(frozen=True)
class FlaggedSpan:
    """A run of flagged windows: frames [start_frame, stop_frame) and seconds, top channels."""

    start_frame: int
    stop_frame: int
    start_time: float
    stop_time: float
    score: float
    channels: tuple[str, ...]


@dataclass(frozen=True)
class WindowScores:
    """Per-window results; bounds are sample index ranges [start, stop)."""

    bounds: np.ndarray  # (W, 2) int
    times: np.ndarray  # (W, 2) seconds of first and last sample
    scores: np.ndarray  # (W,)
    channel_scores: np.ndarray  # (W, C)
    pair_scores: np.ndarray  # (W, C, C) |S|
    iterations: np.ndarray  # (W,) ADMM iterations
    converged: np.ndarray  # (W,) bool


@dataclass(frozen=True)
class QaReport:
    """What the CLI prints and the store keeps: spans plus the per-window evidence."""

    channels: tuple[str, ...]
    dropped_channels: tuple[str, ...]
    windows: WindowScores
    threshold: float
    flagged: np.ndarray  # (W,) bool
    spans: tuple[FlaggedSpan, ...]


def standardize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Robust z-scores per channel (median/MAD, std if MAD is 0); mask of non-constant channels."""
    med = np.median(values, axis=0)
    scale = MAD_TO_SIGMA * np.median(np.abs(values - med), axis=0)
    std = values.std(axis=0)
    scale = np.where(scale > 0, scale, std)
    keep = scale > 1e-12 * np.maximum(1.0, np.abs(med))
    return (values[:, keep] - med[keep]) / scale[keep], keep


def window_bounds(n: int, window: int, stride: int) -> np.ndarray:
    """Sample ranges of sliding windows; the last one is aligned to the end of the stream."""
    if window > n:
        raise SensorError(f"the window ({window} samples) is longer than the stream ({n} samples)")
    starts = list(range(0, n - window + 1, stride))
    if starts[-1] + window < n:
        starts.append(n - window)
    return np.array([(s, s + window) for s in starts], dtype=np.int64)


def window_covariance(x: np.ndarray, ridge: float) -> np.ndarray:
    """De-meaned (standardised) window -> covariance with `ridge` added to the variances."""
    x = x - x.mean(axis=0)
    return x.T @ x / x.shape[0] + ridge * np.eye(x.shape[1])


def window_correlation(x: np.ndarray, ridge: float) -> np.ndarray:
    """Ridged window covariance scaled to unit diagonal, so λ and ρ are unitless."""
    cov = window_covariance(x, ridge)
    d = np.sqrt(np.diag(cov))
    return cov / np.outer(d, d)


def score_against_reference(
    z: np.ndarray, times: np.ndarray, bounds: np.ndarray, config: QaConfig
) -> WindowScores:
    """Rglasso on the whole stream gives a clean model (F, Θ); windows are scored against it.

    Window score: Stein's loss tr(M_w Θ) - log det(M_w Θ) - p, the divergence Rglasso itself
    minimises, so variance, coupling and stuck-channel changes all count. Pair scores are the
    residuals |M_w - F|, channel scores their row sums (diagonal included).
    """
    model = solve_rglasso(window_covariance(z, config.ridge), config.rglasso)
    theta, clean = model.precision, model.covariance
    n_win, p = len(bounds), z.shape[1]
    pair = np.zeros((n_win, p, p))
    scores = np.zeros(n_win)
    for w, (start, stop) in enumerate(bounds):
        m = window_covariance(z[start:stop], config.ridge)
        mt = m @ theta
        scores[w] = np.trace(mt) - np.linalg.slogdet(mt)[1] - p
        pair[w] = np.abs(m - clean)
    wtimes = np.stack([times[bounds[:, 0]], times[bounds[:, 1] - 1]], axis=1)
    iters = np.full(n_win, model.iterations)
    conv = np.full(n_win, model.converged)
    return WindowScores(bounds, wtimes, scores, pair.sum(axis=2), pair, iters, conv)


def score_windows(
    z: np.ndarray, times: np.ndarray, bounds: np.ndarray, config: QaConfig
) -> WindowScores:
    """Solve Rglasso per window (warm-started) and collect S-based scores."""
    n_win, p = len(bounds), z.shape[1]
    pair = np.zeros((n_win, p, p))
    iters = np.zeros(n_win, dtype=np.int64)
    conv = np.zeros(n_win, dtype=bool)
    warm: RglassoState | None = None
    for w, (start, stop) in enumerate(bounds):
        m = window_correlation(z[start:stop], config.ridge)
        res = solve_rglasso(m, config.rglasso, warm if config.warm_start else None)
        warm = res.state
        pair[w] = np.abs(res.outliers)
        iters[w], conv[w] = res.iterations, res.converged
    chan = pair.sum(axis=2) - np.einsum("wii->wi", pair)
    scores = np.triu(pair, k=1).sum(axis=(1, 2))
    wtimes = np.stack([times[bounds[:, 0]], times[bounds[:, 1] - 1]], axis=1)
    return WindowScores(bounds, wtimes, scores, chan, pair, iters, conv)


def robust_threshold(scores: np.ndarray, z: float, floor: float) -> float:
    """max(floor, median + z·1.4826·MAD) of the window scores."""
    med = float(np.median(scores))
    mad = float(np.median(np.abs(scores - med)))
    return max(floor, med + z * MAD_TO_SIGMA * mad)


def _runs(flags: np.ndarray, bounds: np.ndarray) -> list[list[int]]:
    """Group flagged windows whose sample ranges overlap or touch."""
    runs: list[list[int]] = []
    for w in np.flatnonzero(flags):
        if runs and bounds[w, 0] <= bounds[runs[-1][-1], 1]:
            runs[-1].append(int(w))
        else:
            runs.append([int(w)])
    return runs


def spans_from_windows(
    windows: WindowScores,
    flags: np.ndarray,
    channels: tuple[str, ...],
    frame_times: np.ndarray,
    channel_fraction: float,
) -> tuple[FlaggedSpan, ...]:
    """Merge flagged windows into spans of frames; spans entirely outside the video are dropped."""
    ft = check_frame_times(frame_times)
    spans = []
    for run in _runs(flags, windows.bounds):
        t0, t1 = float(windows.times[run[0], 0]), float(windows.times[run[-1], 1])
        start_frame = int(frame_of_samples(np.array([t0]), ft)[0])
        stop_frame = int(frame_of_samples(np.array([t1]), ft)[0]) + 1
        if start_frame < 0:
            start_frame = int(np.searchsorted(ft, t0))
        if stop_frame <= 0:
            stop_frame = ft.size if t1 >= ft[-1] else 0
        if stop_frame <= start_frame:
            continue
        chan = windows.channel_scores[run].sum(axis=0)
        order = [
            i for i in np.argsort(-chan) if chan[i] > 0 and chan[i] >= channel_fraction * chan.max()
        ]
        score = float(windows.scores[run].max())
        spans.append(
            FlaggedSpan(start_frame, stop_frame, t0, t1, score, tuple(channels[i] for i in order))
        )
    return tuple(spans)


def detect_anomalies(
    stream: SensorStream, frame_times: np.ndarray, config: QaConfig | None = None
) -> QaReport:
    """Entry point: stream + frame presentation times (s) -> scored windows and flagged spans."""
    config = config or QaConfig()
    values, times = stream.values, stream.times
    if config.difference:
        values, times = np.diff(values, axis=0), times[1:]
    z, keep = standardize(values)
    channels = tuple(c for c, k in zip(stream.channels, keep, strict=True) if k)
    dropped = tuple(c for c, k in zip(stream.channels, keep, strict=True) if not k)
    if len(channels) < 2:
        raise SensorError(f"need at least 2 non-constant channels, got {list(channels)}")
    rate = stream.sample_rate
    window = round(config.window_s * rate)
    stride = max(1, round((config.stride_s or config.window_s / 2) * rate))
    if window < max(len(channels), 3):
        raise SensorError(
            f"a window of {window} samples is shorter than the {len(channels)} channels; "
            "use a longer window_s"
        )
    bounds = window_bounds(z.shape[0], window, stride)
    if config.mode not in ("reference", "window"):
        raise SensorError(f"mode must be 'reference' or 'window', got {config.mode!r}")
    scorer = score_against_reference if config.mode == "reference" else score_windows
    scored = scorer(z, times, bounds, config)
    thr = robust_threshold(scored.scores, config.z_threshold, config.min_score)
    flags = scored.scores > thr
    spans = spans_from_windows(scored, flags, channels, frame_times, config.channel_fraction)
    return QaReport(channels, dropped, scored, thr, flags, spans)


def format_spans(report: QaReport) -> str:
    """Plain-text table of flagged spans for the CLI."""
    lines = [
        f"{len(report.spans)} flagged span(s); threshold {report.threshold:.3f}; "
        f"{int(report.windows.converged.sum())}/{len(report.windows.converged)} windows converged"
    ]
    if report.dropped_channels:
        lines.append(f"dropped constant channels: {', '.join(report.dropped_channels)}")
    if report.spans:
        lines.append(f"{'frames':>15}  {'seconds':>19}  {'score':>7}  channels")
    for s in report.spans:
        frames = f"{s.start_frame}-{s.stop_frame - 1}"
        secs = f"{s.start_time:.2f}-{s.stop_time:.2f}"
        lines.append(f"{frames:>15}  {secs:>19}  {s.score:7.3f}  {', '.join(s.channels) or '-'}")
    return "\n".join(lines)
