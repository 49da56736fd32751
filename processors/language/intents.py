"""The questions Gridbrain answers: one intent per allow-listed query.

An intent names the query that answers it and the slots it takes. Slots:

- ``site``: a registered site id (typos within two edits of one are corrected);
- ``quantity``: a canonical quantity (``pv_power``, ``wind_power``, ``load``, ``price``,
  ``pm25``, ``pm10``, ``no2``, ``o3``, ``so2``, ``temperature``, ...) from its words
  ("produce", "solar" -> pv_power; "demand", "consumption" -> load; "PM2.5" -> pm25);
- ``period``: [start, end) from a time expression, in the site's time zone (UTC when the site
  has none or none is named): "today", "tomorrow", "yesterday", "tonight" (18:00-06:00),
  "this/tomorrow morning" (06-12), "afternoon" (12-18), "evening" (18-24), "last night",
  "last week" / "past week" (the 7 days up to now), "last/past/next N hours|days",
  "between 10 and 14[:30]", "from 2pm to 6pm"; a point in time ("at noon", "at 14:00",
  "at 6pm", "now") is a period of one step (15 minutes);
- ``threshold``: a number ("above 35", "over 50 µg/m³");
- ``aggregation``: ``mean`` ("average"), ``max`` ("peak", "highest"), ``min`` ("lowest"),
  ``sum`` ("total").

When a question names no period, each intent has its default (``default_period``).
"""

from dataclasses import dataclass
from typing import Literal

__all__ = ["INTENTS", "Intent", "intent_named"]

Default = Literal["next_24h", "last_24h", "last_7d", "today", "tonight", "now", "none"]


@dataclass(frozen=True)
class Intent:
    """One kind of question.

    Attributes:
        name: its id (the answer query's key).
        summary: how it is offered when a question is near it.
        needs: slots it cannot answer without.
        takes: slots it uses when given.
        default_period: the period when none is named.
    """

    name: str
    summary: str
    needs: tuple[str, ...] = ()
    takes: tuple[str, ...] = ()
    default_period: Default = "none"


INTENTS: tuple[Intent, ...] = (
    Intent("forecast_at", "the forecast of a series at a time (p10, p50, p90)",
           ("site",), ("quantity", "period"), "next_24h"),
    Intent("forecast_summary", "a forecast over a period: mean, peak, low or total",
           ("site",), ("quantity", "period", "aggregation"), "next_24h"),
    Intent("forecast_peak", "when a series is forecast to peak", ("site",),
           ("quantity", "period"), "next_24h"),
    Intent("forecast_vs_actual", "the forecast against what happened (error, coverage)",
           ("site",), ("quantity", "period"), "last_24h"),
    Intent("forecast_model", "which model forecasts a series, and its version", ("site",),
           ("quantity",)),
    Intent("forecast_uncertainty", "how wide a forecast's p10-p90 band is", ("site",),
           ("quantity", "period"), "next_24h"),
    Intent("reading_latest", "the newest clean reading of a series", ("site",), ("quantity",),
           "now"),
    Intent("reading_summary", "measured values over a period: mean, max, min or total",
           ("site",), ("quantity", "period", "aggregation"), "last_24h"),
    Intent("reading_above", "how long a series was above a threshold", ("site", "threshold"),
           ("quantity", "period"), "last_24h"),
    Intent("reading_gaps", "steps of a series that were flagged or filled in", ("site",),
           ("quantity", "period"), "last_24h"),
    Intent("alerts_open", "the incidents firing or pending now", (), ("site", "quantity")),
    Intent("alert_sites", "which sites had alerts (of a quantity) in a period", (),
           ("quantity", "period"), "last_7d"),
    Intent("alert_count", "how many incidents started in a period", (),
           ("site", "quantity", "period"), "last_7d"),
    Intent("next_exceedance", "the next predicted exceedance (predictive alerts)", (),
           ("site", "quantity")),
    Intent("alert_history", "what happened to the latest incident of a site", ("site",),
           ("quantity",)),
    Intent("silences_active", "the silences muting notifications now"),
    Intent("rejected_readings", "readings rejected (dead-lettered) in a period, by reason", (),
           ("site", "period"), "today"),
    Intent("data_quality", "what the checks did to a site's readings", (), ("site",)),
    Intent("pipeline_status", "the pipeline's state: counters, lag, workers"),
    Intent("workers_running", "the workers running and what they hold"),
    Intent("sites_list", "the registered sites", (), ("quantity",)),
    Intent("battery_schedule", "the battery plan for a period", ("site",), ("period",),
           "next_24h"),
    Intent("battery_soc", "the planned battery state of charge at a time", ("site",),
           ("period",), "now"),
)  # fmt: skip


def intent_named(name: str) -> Intent:
    """The intent called ``name``.

    >>> intent_named("forecast_at").needs
    ('site',)
    """
    for intent in INTENTS:
        if intent.name == name:
            return intent
    raise KeyError(name)
