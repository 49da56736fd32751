"""PNG plots of back-tests: forecasts against actuals, and reliability diagrams."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from processors.evaluation.backtest import Scored
from processors.evaluation.metrics import reliability
from processors.forecast.batch import LEVELS, P10, P50, P90

__all__ = ["plot_forecasts", "plot_reliability"]


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
