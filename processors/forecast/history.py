"""Per-site history of fused steps, and which series are due for a forecast."""

from dataclasses import dataclass, field

import numpy as np

from processors.fuse import FusedStep
from processors.quantities import FORECAST_QUANTITIES

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
    """

    site_id: str
    quantity: str
    last_ts_ms: int
    y: np.ndarray
    exog: np.ndarray
    observed_steps: int


@dataclass
class SeriesHistory:
    """Keeps the last ``length`` steps of every site and reports series due for a forecast."""

    step_ms: int
    length: int
    interval_ms: int
    _steps: dict[str, dict[int, FusedStep]] = field(default_factory=dict)
    _issued: dict[str, int] = field(default_factory=dict)

    def add(self, step: FusedStep) -> list[tuple[str, str, int]]:
        """Store a step; return the (site, quantity, last_ts_ms) series now due for a forecast.

        A site's series are due when a step ends on or first after a multiple of the
        forecast interval (event time): on the hour for regular data, at the end of the
        first step past the hour where steps are missing (e.g. 30-min data in 15-min
        steps). Replays and live data issue forecasts at the same instants.
        """
        steps = self._steps.setdefault(step.site_id, {})
        steps[step.ts_ms] = step
        oldest = step.ts_ms - self.length * self.step_ms
        if len(steps) > self.length + 8:
            for ts in [t for t in steps if t <= oldest]:
                del steps[ts]
        end = step.ts_ms + self.step_ms
        interval = end // self.interval_ms
        last = self._issued.get(step.site_id)
        due = end % self.interval_ms == 0 if last is None else interval > last
        self._issued[step.site_id] = interval if last is None else max(interval, last)
        if not due:
            return []
        return [(step.site_id, q, step.ts_ms) for q in FORECAST_QUANTITIES if q in step.values]

    def window(self, site_id: str, quantity: str, last_ts_ms: int) -> Window:
        """The ``length`` steps of a series ending at ``last_ts_ms``."""
        steps = self._steps.get(site_id, {})
        y = np.full(self.length, np.nan)
        exog = np.full((self.length, len(EXOG_VARIABLES)), np.nan)
        first = last_ts_ms - (self.length - 1) * self.step_ms
        for i in range(self.length):
            step = steps.get(first + i * self.step_ms)
            if step is None:
                continue
            y[i] = step.values.get(quantity, np.nan)
            for k, name in enumerate(EXOG_VARIABLES):
                exog[i, k] = step.weather.get(name, np.nan)
        return Window(site_id, quantity, last_ts_ms, y, exog, int(np.isfinite(y).sum()))
