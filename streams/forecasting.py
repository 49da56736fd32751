"""Forecasting stage: micro-batches of fused steps -> batched quantile forecasts."""

import logging

import torch

from gridbrain.settings import Settings
from processors.forecast.forecaster import MODEL_VERSION, Forecast, ForecastConfig, forecast_batch
from processors.forecast.history import SeriesHistory
from processors.fuse import FusedStep
from processors.timestamps import ms_to_datetime
from storage.history import load_fused_history
from storage.repositories import add_forecasts
from storage.sites import ensure_sites, site_capacities
from storage.transaction import BatchTransaction
from streams.envelope import DeadLetters, Emission, RawMessage, encode, fused_steps
from streams.topics import FORECASTS

__all__ = ["ForecastingStage", "resolve_device"]

_log = logging.getLogger(__name__)


def resolve_device(setting: str) -> str:
    """``auto`` -> ``cuda`` when a GPU is visible, else ``cpu``."""
    if setting == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return setting


class ForecastingStage:
    """Keeps per-site history and forecasts the series that become due."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        step_ms = settings.step_ms
        self._length = settings.history_days * 86_400_000 // step_ms
        self._config = ForecastConfig(
            step_ms=step_ms,
            horizon_steps=settings.horizon_hours * 3_600_000 // step_ms,
            device=resolve_device(settings.device),
        )
        torch.set_num_threads(settings.torch_threads)
        _log.info("forecasting on %s", self._config.device)
        self.reset()

    def reset(self) -> None:
        """Forget the in-memory history; it is reloaded from the database site by site."""
        self._history = SeriesHistory(
            self._settings.step_ms, self._length, self._settings.forecast_interval_minutes * 60_000
        )
        self._warm: set[str] = set()

    def _warm_up(self, tx: BatchTransaction, step: FusedStep) -> None:
        """Load a site's stored history the first time this worker sees it."""
        if step.site_id in self._warm:
            return
        self._warm.add(step.site_id)
        s = self._settings
        since = step.ts_ms - self._length * s.step_ms
        for past in load_fused_history(
            tx.session,
            step.site_id,
            step.station_id or step.site_id,
            (since, step.ts_ms - 1),
            s.step_ms,
            s.weather_staleness_minutes * 60_000,
        ):
            self._history.add(past)

    def handle(self, tx: BatchTransaction, messages: list[RawMessage]) -> list[Emission]:
        """Add fused steps to the history and forecast every due series in one batch."""
        due: list[tuple[str, str, int]] = []
        dead = DeadLetters()
        for step in fused_steps(tx, messages, dead):
            self._warm_up(tx, step)
            due.extend(self._history.add(step))
        if not due:
            return dead.store(tx.session)
        # Every due instant is forecast, also when a replay delivers many hours at once:
        # a window only holds steps up to its own issue time.
        windows = [self._history.window(s, q, ts) for s, q, ts in due]
        forecasts = forecast_batch(windows, self._config, site_capacities(tx.session))
        # The clean stage publishes fused steps before its own commit: a brand-new site's
        # row may not be visible yet.
        ensure_sites(tx.session, {f.site_id for f in forecasts})
        tx.counts[(FORECASTS, "series_forecast")] += len(forecasts)
        tx.counts[(FORECASTS, "rows")] += add_forecasts(tx.session, forecasts)
        return dead.store(tx.session) + [
            Emission(FORECASTS, f.site_id.encode(), encode(_message(f))) for f in forecasts
        ]


def _message(forecast: Forecast) -> dict[str, object]:
    return {
        "site_id": forecast.site_id,
        "quantity": forecast.quantity,
        "issued_at": ms_to_datetime(forecast.issued_at_ms).isoformat(),
        "model": forecast.model,
        "model_version": MODEL_VERSION,
        "completeness": round(forecast.completeness, 3),
        "fallback": forecast.fallback,
        "horizons": [
            {
                "target_ts": ms_to_datetime(int(t)).isoformat(),
                "p10": round(float(a), 4),
                "p50": round(float(b), 4),
                "p90": round(float(c), 4),
            }
            for t, a, b, c in zip(
                forecast.target_ts_ms, forecast.p10, forecast.p50, forecast.p90, strict=True
            )
        ],
    }
