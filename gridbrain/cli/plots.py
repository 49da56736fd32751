"""PNG plots of back-tests (forecasts against actuals, reliability) and of alert replays."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from gridbrain.processors.evaluation.backtest import Scored
from gridbrain.processors.evaluation.metrics import reliability
from gridbrain.processors.forecast.batch import LEVELS, P10, P50, P90

__all__ = ["plot_alert_spans", "plot_forecasts", "plot_reliability"]


def plot_forecasts(scored: Scored, step_ms: int, path: Path, windows: int = 14) -> Path:
    """The first ``windows`` test forecasts of the first series: p50, p10-p90 band, actual."""
    site = scored.sites[0]
    rows = np.flatnonzero(scored.sites == site)[:windows]
    fig, ax = plt.subplots(figsize=(12, 4))
    for n, row in enumerate(rows):
        horizon = scored.quantiles.shape[1]
        t = (scored.origins_ms[row] + step_ms * np.arange(1, horizon + 1)).astype("datetime64[ms]")
        q = scored.quantiles[row]
        label = n == 0
        ax.fill_between(
            t,
            q[:, P10],
            q[:, P90],
            color="tab:blue",
            alpha=0.25,
            label="p10-p90" if label else None,
        )
        ax.plot(t, q[:, P50], color="tab:blue", lw=1, label="p50" if label else None)
        seen = np.isfinite(scored.actual[row])
        ax.plot(
            t[seen],
            scored.actual[row][seen],
            color="black",
            lw=0.8,
            label="actual" if label else None,
        )
    ax.set_title(f"{scored.model}: day-ahead forecasts at {site}")
    ax.legend(loc="upper right")
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_reliability(results: list[Scored], path: Path) -> Path:
    """Observed frequency below each quantile against its nominal level, per model."""
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--", label="ideal")
    for scored in results:
        ax.plot(
            LEVELS,
            reliability(scored.quantiles, scored.actual),
            marker="o",
            ms=3,
            label=scored.model,
        )
    ax.set_xlabel("nominal quantile level")
    ax.set_ylabel("observed frequency")
    ax.set_title("Reliability")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_alert_spans(
    ts_ms: np.ndarray,
    values: np.ndarray,
    threshold: float,
    spans: dict[str, list[tuple[int, int | None]]],
    path: Path,
    days: int = 30,
) -> Path:
    """The measured series of the first ``days`` with the threshold and each alert's spans.

    ``spans``: a label -> (fired, resolved) list, drawn as bands below the series.
    """
    end = ts_ms[0] + days * 86_400_000
    shown = ts_ms < end
    fig, ax = plt.subplots(figsize=(14, 4.5))
    t = ts_ms[shown].astype("datetime64[ms]")
    seen = np.isfinite(values[shown])
    ax.plot(t[seen], values[shown][seen], color="black", lw=0.8, label="measured")
    ax.axhline(threshold, color="tab:red", lw=1, ls="--", label=f"threshold {threshold:g}")
    top = float(np.nanmax(values[shown])) if seen.any() else threshold
    for n, (label, rows) in enumerate(spans.items()):
        y = -(n + 1) * top * 0.06
        for i, (fired, resolved) in enumerate(rows):
            lo, hi = fired, resolved if resolved is not None else int(ts_ms[-1])
            if lo >= end:
                continue
            ax.plot(
                np.array([lo, min(hi, end)]).astype("datetime64[ms]"),
                [y, y],
                color=f"C{n}",
                lw=5,
                label=label if i == 0 else None,
            )
    ax.set_ylabel("value")
    ax.set_title("alerts over the measured series (bands: firing)")
    ax.legend(loc="upper right", fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
