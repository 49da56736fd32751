"""Serving forecasts in the stream: choose a model per window, one batched call per model.

A promoted (trained) model answers the windows of its quantity and site group that are
complete enough; the built-in AR-X, seasonal naive and persistence models answer the
rest, and answer instead of a trained model that fails. Every forecast records the model
that produced it and, for a fallback, why.
"""

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from gridbrain.errors import ModelError
from gridbrain.processors.forecast.adaptive_band import BandTracker
from gridbrain.processors.forecast.arx import Arx
from gridbrain.processors.forecast.base import QuantileModel, physical_bounds, sort_levels
from gridbrain.processors.forecast.baselines import Persistence, SeasonalNaive
from gridbrain.processors.forecast.batch import (
    P10,
    P50,
    P90,
    WindowBatch,
    sun_down,
    window_scale,
)
from gridbrain.processors.forecast.history import Window
from gridbrain.processors.forecast.local_calendar import LocalCalendar

__all__ = [
    "BUILTIN_VERSION",
    "Forecast",
    "ForecastConfig",
    "LatencyBudget",
    "ServingModel",
    "choose_builtin",
    "forecast_batch",
]

BUILTIN_VERSION = "builtin-1"
_DAY_MS = 86_400_000


@dataclass(frozen=True)
class ForecastConfig:
    """Parameters of the forecasting stage.

    Attributes:
        step_ms: step of the series.
        horizon_steps: steps ahead to forecast.
        device: torch device name.
        min_days_arx: observed days needed before AR-X is used.
        min_completeness: below this window completeness the fallback model answers.
        max_fill_steps: gaps up to this many steps are interpolated in AR-X inputs.
        latency_budget_s: one model call should take at most this long.
    """

    step_ms: int
    horizon_steps: int
    device: str = "cpu"
    min_days_arx: float = 2.0
    min_completeness: float = 0.8
    max_fill_steps: int = 4
    latency_budget_s: float = 0.5


@dataclass(frozen=True)
class ServingModel:
    """A registered model loaded for serving.

    Attributes:
        model: the model.
        version: what forecasts record, e.g. ``load-linear:3``.
        sites: the site group it serves (None: every site of its quantity).
    """

    model: QuantileModel
    version: str
    sites: frozenset[str] | None = None


@dataclass(frozen=True)
class Forecast:
    """Quantile forecasts of one series at one issue time.

    ``target_ts_ms[h]`` is the start of the step ``h + 1`` steps after the last observed.
    """

    site_id: str
    quantity: str
    issued_at_ms: int
    target_ts_ms: np.ndarray
    p10: np.ndarray
    p50: np.ndarray
    p90: np.ndarray
    model: str
    completeness: float = 1.0
    fallback: str | None = None
    model_version: str = BUILTIN_VERSION


@dataclass
class LatencyBudget:
    """Sizes model calls so that one takes about ``budget_s`` (per model, learnt online).

    >>> budget = LatencyBudget(0.5)
    >>> budget.observe("arx", 64, 1.0)
    >>> budget.size("arx")
    32
    """

    budget_s: float
    initial: int = 64
    maximum: int = 4096
    _per_window_s: dict[str, float] = field(default_factory=dict)

    def size(self, model: str) -> int:
        """Windows per call for ``model``."""
        cost = self._per_window_s.get(model)
        if cost is None:
            return self.initial
        return int(min(self.maximum, max(1, self.budget_s / cost)))

    def observe(self, model: str, windows: int, seconds: float) -> None:
        """Record a call (moving average of the cost per window)."""
        cost = seconds / max(windows, 1)
        old = self._per_window_s.get(model)
        self._per_window_s[model] = cost if old is None else 0.7 * old + 0.3 * cost

    def chunks(self, model: str, items: list[Window]) -> Iterator[list[Window]]:
        """``items`` in calls of the current size."""
        start = 0
        while start < len(items):
            size = self.size(model)
            yield items[start : start + size]
            start += size


def _builtins(config: ForecastConfig) -> dict[str, QuantileModel]:
    return {
        "arx": Arx(max_fill_steps=config.max_fill_steps, device=config.device),
        "seasonal_naive": SeasonalNaive(1),
        "persistence": Persistence(),
    }


def choose_builtin(window: Window, config: ForecastConfig) -> tuple[str | None, str | None]:
    """The built-in model a window supports (None: too little history), and why.

    The reason is set when the model is a fallback for incomplete input.
    """
    per_day = _DAY_MS // config.step_ms
    if window.observed_steps >= config.min_days_arx * per_day:
        if window.completeness >= config.min_completeness:
            return "arx", None
        reason = f"completeness {window.completeness:.2f} < {config.min_completeness:.2f}"
        return ("seasonal_naive" if _has_yesterday(window, per_day) else "persistence"), reason
    if window.observed_steps >= per_day + 4:
        return "seasonal_naive", None
    if window.observed_steps >= 4 and np.isfinite(window.y[-1]):
        return "persistence", None
    return None, None


def _has_yesterday(window: Window, per_day: int) -> bool:
    """Whether the last day of the window is observed enough for the seasonal naive."""
    return bool(np.isfinite(window.y[-per_day:]).mean() >= 0.5)


def _trained_for(window: Window, served: dict[str, list[ServingModel]]) -> ServingModel | None:
    """The promoted model for a window: its site group's, else its quantity's."""
    candidates = served.get(window.quantity, [])
    for serving in candidates:
        if serving.sites is not None and window.site_id in serving.sites:
            return serving
    return next((s for s in candidates if s.sites is None), None)


def _as_batch(
    windows: list[Window],
    config: ForecastConfig,
    locations: dict[str, tuple[float, float]],
    calendars: dict[str, LocalCalendar],
    text: bool = False,
) -> WindowBatch:
    """The windows as one batch; ``text``: with each target step's weather text (one place)."""
    length = len(windows[0].y)
    exog = np.full((len(windows), length + config.horizon_steps, windows[0].exog.shape[1]), np.nan)
    exog[:, :length] = np.stack([w.exog for w in windows])
    for row, window in enumerate(windows):
        if window.future is not None:
            exog[row, length:] = window.future
    where = [locations.get(w.site_id, (np.nan, np.nan)) for w in windows]
    batch = WindowBatch(
        y=np.stack([w.y for w in windows]),
        exog=exog,
        last_ts_ms=np.array([w.last_ts_ms for w in windows], dtype=np.int64),
        step_ms=config.step_ms,
        horizon=config.horizon_steps,
        latitude=np.array([w[0] for w in where], dtype=np.float64),
        longitude=np.array([w[1] for w in where], dtype=np.float64),
        calendar=np.array([calendars.get(w.site_id) for w in windows], dtype=object)
        if calendars
        else None,
    )
    if not text:
        return batch
    words = np.full((len(windows), config.horizon_steps, 1), "", dtype=object)
    for row, window in enumerate(windows):
        if window.future_text is not None:
            words[row, : len(window.future_text), 0] = window.future_text[: config.horizon_steps]
    return batch.with_text(words)


def forecast_batch(
    windows: list[Window],
    config: ForecastConfig,
    capacities: dict[str, float] | None = None,
    served: dict[str, list[ServingModel]] | None = None,
    locations: dict[str, tuple[float, float]] | None = None,
    budget: LatencyBudget | None = None,
    bands: dict[tuple[str, str, str], BandTracker] | None = None,
    calendars: dict[str, LocalCalendar] | None = None,
) -> list[Forecast]:
    """Forecast every window that has enough history, batched by model.

    Args:
        windows: the series due, each with its history.
        config: stage parameters.
        capacities: site -> rated power (PV and wind are clipped to [0, capacity]).
        served: quantity -> promoted models.
        locations: site -> (latitude, longitude), for the sun covariate.
        budget: sizes the calls (default: ``config.latency_budget_s``).
        bands: (site, quantity, model) -> the tracked shifts of its band.
        calendars: site -> its local calendar, for the models that read it.
    """
    capacities, served, locations = capacities or {}, served or {}, locations or {}
    bands, calendars = bands or {}, calendars or {}
    budget = budget or LatencyBudget(config.latency_budget_s)
    builtins = _builtins(config)
    groups: dict[str, tuple[QuantileModel, str, list[Window]]] = {}
    plans: dict[int, tuple[str | None, str | None]] = {}
    for window in windows:
        builtin, reason = choose_builtin(window, config)
        plans[id(window)] = (builtin, reason)
        # A trained model needs complete input and at least half its look-back observed
        # (a new site's first day is the built-in models' business).
        trained = _trained_for(window, served) if reason is None else None
        if trained is not None and trained.model.reads_text and window.future_text is None:
            # Its text would be unknown at every step: the model would guess, not forecast.
            plans[id(window)] = (builtin, f"{trained.model.name}: no weather text forecast")
            trained = None
        if trained is not None and window.observed_steps >= trained.model.lookback // 2:
            key = trained.version
            groups.setdefault(key, (trained.model, trained.version, []))[2].append(window)
        elif builtin is not None:
            groups.setdefault(builtin, (builtins[builtin], BUILTIN_VERSION, []))[2].append(window)
    out: list[Forecast] = []
    for key, (model, version, members) in groups.items():
        failed: list[Window] = []
        for chunk in budget.chunks(key, members):
            started = time.perf_counter()
            batch = _as_batch(chunk, config, locations, calendars, text=model.reads_text)
            try:
                quantiles = model.forecast(batch)
            except (ModelError, RuntimeError, ValueError) as exc:
                if version == BUILTIN_VERSION:
                    raise
                for window in chunk:
                    plans[id(window)] = (plans[id(window)][0], f"{model.name} failed: {exc}")
                failed.extend(chunk)
                continue
            budget.observe(key, len(chunk), time.perf_counter() - started)
            quantiles = _tracked(chunk, batch, quantiles, model.name, bands)
            out.extend(_forecasts(chunk, batch, quantiles, model.name, version, plans, capacities))
        for builtin in {plans[id(w)][0] for w in failed} - {None}:
            redo = [w for w in failed if plans[id(w)][0] == builtin]
            batch = _as_batch(redo, config, locations, calendars)
            raw = builtins[str(builtin)].forecast(batch)
            quantiles = _tracked(redo, batch, raw, str(builtin), bands)
            out.extend(
                _forecasts(redo, batch, quantiles, str(builtin), BUILTIN_VERSION, plans, capacities)
            )
    return out


def _tracked(
    windows: list[Window],
    batch: WindowBatch,
    quantiles: np.ndarray,
    model: str,
    bands: dict[tuple[str, str, str], BandTracker],
) -> np.ndarray:
    """The quantiles with each series' tracked band shifts (in its window's scale)."""
    found = [(r, bands.get((w.site_id, w.quantity, model))) for r, w in enumerate(windows)]
    rows = [(r, t) for r, t in found if t is not None]
    if not rows:
        return quantiles
    out = np.array(quantiles, copy=True)
    _, scale = window_scale(batch.y)
    for row, tracker in rows:
        out[row : row + 1] = tracker.apply(out[row : row + 1], scale[row])
    return out


def _physical_bounds(
    windows: list[Window], capacities: dict[str, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Per window, the bounds its forecasts are clipped to (see ``physical_bounds``)."""
    bounds = [physical_bounds(w.quantity, capacities.get(w.site_id)) for w in windows]
    return np.array([b[0] for b in bounds]), np.array([b[1] for b in bounds])


def _forecasts(
    windows: list[Window],
    batch: WindowBatch,
    quantiles: np.ndarray,
    model: str,
    version: str,
    plans: dict[int, tuple[str | None, str | None]],
    capacities: dict[str, float],
) -> list[Forecast]:
    """The forecasts of a model call: p10/p50/p90 kept physical and in order.

    PV power is 0 at the target steps the sun never lights (at a known location).
    """
    lo, hi = _physical_bounds(windows, capacities)
    q = np.clip(quantiles[:, :, [P10, P50, P90]], lo[:, None, None], hi[:, None, None])
    q = sort_levels(q)
    pv = np.array([w.quantity == "pv_power" for w in windows])
    if pv.any():
        q[sun_down(batch) & pv[:, None]] = 0.0
    targets = batch.target_ts_ms()
    return [
        Forecast(
            window.site_id,
            window.quantity,
            window.last_ts_ms + batch.step_ms,
            targets[row],
            q[row, :, 0],
            q[row, :, 1],
            q[row, :, 2],
            model,
            window.completeness,
            plans[id(window)][1],
            version,
        )
        for row, window in enumerate(windows)
    ]
