"""Forecasting stage: micro-batches of fused steps -> batched quantile forecasts."""

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from functools import lru_cache

import msgspec
import numpy as np
import torch
from sqlalchemy.orm import Session

from gridbrain.errors import ModelError
from gridbrain.processors.alerting.site_state import ForecastIssue
from gridbrain.processors.device import resolve_device
from gridbrain.processors.dispatch.qlearning import POLICY_QUANTITY
from gridbrain.processors.forecast.adaptive_band import DAY_MS as _DAY_MS
from gridbrain.processors.forecast.adaptive_band import BandTracker
from gridbrain.processors.forecast.base import load_model
from gridbrain.processors.forecast.forecaster import (
    Forecast,
    ForecastConfig,
    LatencyBudget,
    ServingModel,
    forecast_batch,
)
from gridbrain.processors.forecast.history import EXOG_VARIABLES, SeriesHistory, Window
from gridbrain.processors.forecast.local_calendar import LocalCalendar
from gridbrain.processors.fuse import ForecastAsOf, FusedStep
from gridbrain.processors.timestamps import ms_to_datetime
from gridbrain.settings import Settings
from gridbrain.storage.band_trackers import Trackers, refresh_trackers
from gridbrain.storage.history import load_fused_histories
from gridbrain.storage.registry import load_artifact, promoted_versions
from gridbrain.storage.repositories import add_forecasts
from gridbrain.storage.sites import ensure_sites, site_profiles
from gridbrain.storage.transaction import BatchTransaction
from gridbrain.storage.weather import forecasts_between
from gridbrain.streams import metrics
from gridbrain.streams.envelope import DeadLetters, Emission, RawMessage, fused_steps
from gridbrain.streams.topics import FORECASTS

__all__ = [
    "ForecastingStage",
    "ModelRefresher",
    "decode_forecast",
    "forecast_bytes",
    "forecast_message",
]

_log = logging.getLogger(__name__)


class ModelRefresher:
    """Keeps the promoted models loaded: checks the registry every ``interval_s`` seconds.

    Running workers so pick up a newly promoted version without a restart; a version
    that cannot be loaded is logged and skipped (the built-in models answer instead).
    """

    def __init__(
        self, device: str, interval_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._device = device
        self._interval_s = interval_s
        self._clock = clock
        self._checked: float | None = None
        self._loaded: dict[int, ServingModel] = {}
        self.served: dict[str, list[ServingModel]] = {}

    def refresh(self, session: Session) -> None:
        """Reload the promoted set if the interval has passed and it changed."""
        now = self._clock()
        if self._checked is not None and now - self._checked < self._interval_s:
            return
        self._checked = now
        versions = promoted_versions(session)
        loaded: dict[int, ServingModel] = {}
        versions = [v for v in versions if v.quantity != POLICY_QUANTITY]
        for v in versions:
            if v.id in self._loaded:
                loaded[v.id] = self._loaded[v.id]
                continue
            try:
                model = load_model(load_artifact(session, v.id)).to(self._device)
            except ModelError as exc:
                _log.error("model %s:%d cannot be loaded: %s", v.name, v.version, exc)
                continue
            sites = frozenset(v.sites) if v.sites else None
            loaded[v.id] = ServingModel(model, f"{v.name}:{v.version}", sites)
            _log.warning("serving %s:%d for %s", v.name, v.version, v.quantity)
        self._loaded = loaded
        served: dict[str, list[ServingModel]] = {}
        for v in versions:
            if v.id in loaded:
                served.setdefault(v.quantity, []).append(loaded[v.id])
        self.served = served


#: Idle sites are looked for at most this often (wall clock, seconds).
_SWEEP_S = 60.0


class ForecastingStage:
    """Keeps per-site history and forecasts the series that become due.

    A site not met for ``site_idle_evict_minutes`` (``clock``, seconds) is dropped from
    memory; its history is reloaded from Postgres when it sends again, as after a restart.
    """

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._idle_s = settings.site_idle_evict_minutes * 60.0
        self._settings = settings
        step_ms = settings.step_ms
        self._length = settings.history_days * 86_400_000 // step_ms
        self._config = ForecastConfig(
            step_ms=step_ms,
            horizon_steps=settings.horizon_hours * 3_600_000 // step_ms,
            device=resolve_device(settings.device),
        )
        self._budget = LatencyBudget(settings.forecast_latency_budget_s)
        self._models = ModelRefresher(self._config.device, settings.model_refresh_s)
        torch.set_num_threads(settings.torch_threads)
        _log.info("forecasting on %s", self._config.device)
        self.reset()

    def reset(self) -> None:
        """Forget the in-memory history; it is reloaded from the database site by site."""
        self._history = SeriesHistory(
            self._settings.step_ms, self._length, self._settings.forecast_interval_minutes * 60_000
        )
        self._warm: set[str] = set()
        self._stations: dict[str, str] = {}
        self._locations: dict[str, tuple[float, float]] = {}
        self._calendars: dict[str, LocalCalendar] = {}
        self._capacities: dict[str, float] = {}  # kW, of the sites met that have one
        self._seen: dict[str, float] = {}  # site -> clock when last met
        self._swept_s = self._clock()
        self._bands: dict[str, Trackers] = {}  # site -> its band trackers
        self._bands_day: dict[str, int] = {}  # site -> the data day they were brought to

    def _evict_idle(self, now_s: float) -> None:
        """Drop the sites not met for the idle limit (looked for at most once a minute)."""
        if now_s - self._swept_s < _SWEEP_S:
            return
        self._swept_s = now_s
        for site_id in [s for s, t in self._seen.items() if now_s - t > self._idle_s]:
            del self._seen[site_id]
            self._history.forget(site_id)
            self._warm.discard(site_id)
            self._stations.pop(site_id, None)
            self._locations.pop(site_id, None)
            self._calendars.pop(site_id, None)
            self._capacities.pop(site_id, None)
            self._bands.pop(site_id, None)
            self._bands_day.pop(site_id, None)

    def _warm_up(self, tx: BatchTransaction, steps: list[FusedStep]) -> None:
        """Load the position and stored history of the sites this worker meets first.

        One set of queries for every new site of the batch, each site's history ending
        just before its first step here.
        """
        first: dict[str, FusedStep] = {}
        for step in steps:
            if step.site_id not in self._warm and step.site_id not in first:
                first[step.site_id] = step
        if not first:
            return
        self._warm.update(first)
        for site_id, profile in site_profiles(tx.session, list(first)).items():
            if profile.location is not None:
                self._locations[site_id] = profile.location
            if profile.calendar is not None:
                self._calendars[site_id] = profile.calendar
            if profile.capacity_kw is not None:
                self._capacities[site_id] = profile.capacity_kw
        s = self._settings
        span = self._length * s.step_ms
        wanted = {
            site: (step.station_id or site, step.ts_ms - span, step.ts_ms - 1)
            for site, step in first.items()
        }
        histories = load_fused_histories(
            tx.session, wanted, s.step_ms, s.weather_staleness_minutes * 60_000
        )
        for past_steps in histories.values():
            for past in past_steps:
                self._history.add(past)

    def _with_future_weather(self, session: Session, windows: list[Window]) -> list[Window]:
        """Windows with their station's weather forecast for each step of the horizon.

        For each target step: the forecast valid for it from the newest issue known at the
        window's issue time (no look-ahead), within the weather staleness limit; its
        variables and, where forecasts carry one, its weather text.
        """
        step_ms, horizon = self._config.step_ms, self._config.horizon_steps
        staleness = self._settings.weather_staleness_minutes * 60_000
        wanted: dict[str, tuple[int, int]] = {}
        for w in windows:
            station = self._stations.get(w.site_id, w.site_id)
            lo, hi = wanted.get(station, (w.last_ts_ms, w.last_ts_ms))
            end = w.last_ts_ms + (horizon + 1) * step_ms
            wanted[station] = (min(lo, w.last_ts_ms - staleness), max(hi, end))
        stored = forecasts_between(session, wanted)
        if not stored:  # no weather forecasts: nothing to look up per step
            return windows
        known = ForecastAsOf(staleness, bounded=False)
        for item in stored:
            known.add(item)
        targets = np.arange(2, horizon + 2, dtype=np.int64) * step_ms  # ends of target steps
        # The sites of a station due at one instant share their weather forecast.
        futures: dict[tuple[str, int], tuple[np.ndarray | None, tuple[str, ...] | None]] = {}
        out = []
        for w in windows:
            key = (self._stations.get(w.site_id, w.site_id), w.last_ts_ms)
            if key not in futures:
                issued = w.last_ts_ms + step_ms
                rows = [known.with_text(key[0], int(w.last_ts_ms + t), issued) for t in targets]
                values = [r for r, _ in rows]
                texts = tuple(t for _, t in rows)
                futures[key] = (
                    np.array([[r.get(v, np.nan) for v in EXOG_VARIABLES] for r in values])
                    if any(values)
                    else None,
                    texts if any(texts) else None,
                )
            future, text = futures[key]
            out.append(replace(w, future=future, future_text=text))
        return out

    def _band_trackers(
        self, session: Session, windows: list[Window], day: int
    ) -> dict[tuple[str, str, str], BandTracker]:
        """The band trackers of the windows' sites for data day ``day``.

        They take in the issues whose outcomes were complete a day before the day began
        (the readings of the last hours may still be in the clean stage's open batch), so
        what they are depends on the data alone, not on how batches cut it.
        """
        sites = {w.site_id for w in windows}
        for site_id in sites:
            if self._bands_day.get(site_id) != day:
                until = (day - 1) * _DAY_MS
                rate = self._settings.band_rate
                self._bands[site_id] = refresh_trackers(session, site_id, until, rate)
                self._bands_day[site_id] = day
        return {
            (site_id, quantity, model): tracker
            for site_id in sites
            for (quantity, model), (tracker, _) in self._bands.get(site_id, {}).items()
        }

    def _forecast_by_day(self, tx: BatchTransaction, windows: list[Window]) -> list[Forecast]:
        """Forecast and store the windows one data day at a time (see ``_band_trackers``).

        A catch-up batch so gives the bands a live run would: each day's trackers see
        the issues of the days before it, stored in this transaction.
        """
        step_ms = self._config.step_ms
        days: dict[int, list[Window]] = {}
        for w in windows:
            days.setdefault((w.last_ts_ms + step_ms) // _DAY_MS, []).append(w)
        out: list[Forecast] = []
        for day in sorted(days):
            bands = (
                self._band_trackers(tx.session, days[day], day)
                if self._settings.band_rate > 0
                else {}
            )
            with metrics.MODEL_CALL_SECONDS.time():
                forecasts = forecast_batch(
                    days[day],
                    self._config,
                    self._capacities,
                    self._models.served,
                    self._locations,
                    self._budget,
                    bands,
                    self._calendars,
                )
            # The clean stage publishes fused steps before its own commit: a brand-new
            # site's row may not be visible yet.
            ensure_sites(tx.session, {f.site_id for f in forecasts})
            tx.counts[(FORECASTS, "series_forecast")] += len(forecasts)
            tx.counts[(FORECASTS, "rows")] += add_forecasts(tx.session, forecasts)
            out += forecasts
        return out

    def _take(self, due: list[tuple[str, str, int]], site_id: str) -> list[Window]:
        """Remove ``site_id``'s entries from ``due``; return their windows."""
        mine = [d for d in due if d[0] == site_id]
        due[:] = [d for d in due if d[0] != site_id]
        return [self._history.window(s, q, ts) for s, q, ts in mine]

    def handle(self, tx: BatchTransaction, messages: list[RawMessage]) -> list[Emission]:
        """Add fused steps to the history and forecast every due series in one batch."""
        due: list[tuple[str, str, int]] = []
        dead = DeadLetters()
        now_s = self._clock()
        self._evict_idle(now_s)
        taken: list[Window] = []
        pending: dict[str, int] = {}  # site -> steps added since its due windows were taken
        steps = list(fused_steps(tx, messages, dead))
        self._warm_up(tx, steps)
        for step in steps:
            self._seen[step.site_id] = now_s
            self._stations[step.site_id] = step.station_id or step.site_id
            if pending.get(step.site_id, 0) >= self._length:
                # A catch-up batch holds more of this site than its ring keeps beyond one
                # window: take the windows due so far before their steps are overwritten.
                taken += self._take(due, step.site_id)
                pending[step.site_id] = 0
            pending[step.site_id] = pending.get(step.site_id, 0) + 1
            due.extend(self._history.add(step))
        if not due and not taken:
            return dead.store(tx.session)
        self._models.refresh(tx.session)
        # Every due instant is forecast, also when a replay delivers many hours at once:
        # a window only holds steps up to its own issue time.
        windows = self._with_future_weather(
            tx.session, taken + [self._history.window(s, q, ts) for s, q, ts in due]
        )
        forecasts = self._forecast_by_day(tx, windows)
        return dead.store(tx.session) + [
            Emission(FORECASTS, f.site_id.encode(), forecast_bytes(f)) for f in forecasts
        ]


_JSON = msgspec.json.Encoder()


def forecast_bytes(forecast: Forecast) -> bytes:
    """The message published on the forecasts topic (JSON; a NaN quantile is null)."""
    return _JSON.encode(forecast_message(forecast))


@lru_cache(maxsize=1 << 16)
def _iso(ms: int) -> str:
    """ISO 8601 text of an instant (forecasts of one hour share their target steps)."""
    return ms_to_datetime(ms).isoformat()


def forecast_message(forecast: Forecast) -> dict[str, object]:
    """The JSON form of a forecast published on the forecasts topic."""
    p10, p50, p90 = (np.round(q, 4).tolist() for q in (forecast.p10, forecast.p50, forecast.p90))
    return {
        "site_id": forecast.site_id,
        "quantity": forecast.quantity,
        "issued_at": _iso(forecast.issued_at_ms),
        "model": forecast.model,
        "model_version": forecast.model_version,
        "completeness": round(forecast.completeness, 3),
        "fallback": forecast.fallback,
        "horizons": [
            {"target_ts": _iso(t), "p10": a, "p50": b, "p90": c}
            for t, a, b, c in zip(forecast.target_ts_ms.tolist(), p10, p50, p90, strict=True)
        ],
    }


def decode_forecast(value: bytes) -> ForecastIssue:
    """A forecast message read back (a null quantile, JSON having no NaN, becomes NaN).

    Raises:
        ValueError, KeyError, TypeError: the message is not a forecast message.
    """
    data = json.loads(value)
    horizons = data["horizons"]

    def ms(text: str) -> int:
        return int(datetime.fromisoformat(text).timestamp() * 1000)

    return ForecastIssue(
        site_id=str(data["site_id"]),
        quantity=str(data["quantity"]),
        model=str(data["model"]),
        issued_at_ms=ms(data["issued_at"]),
        targets_ms=[ms(h["target_ts"]) for h in horizons],
        quantiles={
            q: [math.nan if h[q] is None else float(h[q]) for h in horizons]
            for q in ("p10", "p50", "p90")
        },
    )
