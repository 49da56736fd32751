"""Per-site history of fused steps, and which series are due for a forecast."""

from dataclasses import dataclass, field

import numpy as np

from gridbrain.processors.fuse import FusedStep
from gridbrain.processors.quality.gaps import completeness
from gridbrain.processors.quantities import FORECAST_QUANTITIES

__all__ = ["EXOG_VARIABLES", "SeriesHistory", "Window"]

#: Weather variables the models use, in design order.
EXOG_VARIABLES = ("temperature_c", "ghi_wm2", "wind_speed_ms")


@dataclass(frozen=True)
class Window:
    """A fixed-length history of one series, ending at ``last_ts_ms``.

    Attributes:
        site_id: the site.
        quantity: the forecast quantity.
        last_ts_ms: start of the newest step.
        y: values, NaN where missing, shape (T,).
        exog: weather aligned with ``y``, shape (T, len(EXOG_VARIABLES)).
        observed_steps: how many steps of ``y`` are not missing.
        completeness: share of the samples expected on the series' own cadence, from its
            first sample in the window to the window's end, that are present.
        future: weather forecast for the horizon's steps, shape (H, len(EXOG_VARIABLES)),
            NaN where unknown; None: no forecasts.
        future_text: the weather text forecast for each of the horizon's steps (``""``
            where unknown); None: no forecast text.
    """

    site_id: str
    quantity: str
    last_ts_ms: int
    y: np.ndarray
    exog: np.ndarray
    observed_steps: int
    completeness: float = 1.0
    future: np.ndarray | None = None
    future_text: tuple[str, ...] | None = None


@dataclass
class _SiteRing:
    """The newest steps of one site in ring buffers indexed by step number."""

    ts: np.ndarray
    exog: np.ndarray
    values: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class SeriesHistory:
    """Keeps the recent steps of every site and reports series due for a forecast.

    Steps live in per-site ring buffers of ``2 * length`` steps, so that the windows of
    every issue time in a micro-batch are complete as long as a micro-batch holds fewer
    than ``length`` steps of one site.
    """

    step_ms: int
    length: int
    interval_ms: int
    _sites: dict[str, _SiteRing] = field(default_factory=dict)
    _issued: dict[str, int] = field(default_factory=dict)

    def _ring(self, site_id: str) -> _SiteRing:
        ring = self._sites.get(site_id)
        if ring is None:
            capacity = 2 * self.length
            ring = _SiteRing(
                np.full(capacity, -1, dtype=np.int64),
                np.full((capacity, len(EXOG_VARIABLES)), np.nan),
            )
            self._sites[site_id] = ring
        return ring

    def add(self, step: FusedStep) -> list[tuple[str, str, int]]:
        """Store a step; return the (site, quantity, last_ts_ms) series now due for a forecast.

        A site's series are due when a step ends on or first after a multiple of the
        forecast interval (event time): on the hour for regular data, at the end of the
        first step past the hour where steps are missing (e.g. 30-min data in 15-min
        steps). Replays and live data issue forecasts at the same instants.
        """
        ring = self._ring(step.site_id)
        slot = (step.ts_ms // self.step_ms) % len(ring.ts)
        if ring.ts[slot] != step.ts_ms:  # a new step replaces an old one: clear the slot
            ring.ts[slot] = step.ts_ms
            for column in ring.values.values():
                column[slot] = np.nan
        for quantity, value in step.values.items():
            if quantity not in ring.values:
                ring.values[quantity] = np.full(len(ring.ts), np.nan)
            ring.values[quantity][slot] = value
        ring.exog[slot] = [step.weather.get(name, np.nan) for name in EXOG_VARIABLES]
        end = step.ts_ms + self.step_ms
        interval = end // self.interval_ms
        last = self._issued.get(step.site_id)
        due = end % self.interval_ms == 0 if last is None else interval > last
        self._issued[step.site_id] = interval if last is None else max(interval, last)
        if not due:
            return []
        return [(step.site_id, q, step.ts_ms) for q in FORECAST_QUANTITIES if q in step.values]

    def forget(self, site_id: str) -> None:
        """Drop a site's steps from memory (they are in Postgres: reload them with :meth:`add`)."""
        self._sites.pop(site_id, None)
        self._issued.pop(site_id, None)

    def sites(self) -> int:
        """How many sites have steps in memory."""
        return len(self._sites)

    def window(self, site_id: str, quantity: str, last_ts_ms: int) -> Window:
        """The ``length`` steps of a series ending at ``last_ts_ms`` (NaN where missing)."""
        ring = self._ring(site_id)
        expected = last_ts_ms - np.arange(self.length - 1, -1, -1, dtype=np.int64) * self.step_ms
        slots = (expected // self.step_ms) % len(ring.ts)
        present = ring.ts[slots] == expected
        column = ring.values.get(quantity)
        y = (
            np.where(present, column[slots], np.nan)
            if column is not None
            else np.full(self.length, np.nan)
        )
        exog = np.where(present[:, None], ring.exog[slots], np.nan)
        observed = int(np.isfinite(y).sum())
        return Window(site_id, quantity, last_ts_ms, y, exog, observed, completeness(y))
