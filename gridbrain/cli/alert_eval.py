"""``gridbrain benchmark alerts``: the alert rules replayed over a data set's history.

Two questions, on one mapped file: how many incidents each rule raises and how many of
them flap, with the rules' hysteresis and without it; and how well the predictive rule,
fed with rolling day-ahead forecasts issued every hour of the test period, warns of the
measured exceedances (precision, recall, median lead time). The steps are built from
the file as the platform fuses them (canonical units, physical ranges; the stream's
spike and flat-line checks are not applied here).
"""

import itertools
import json
from pathlib import Path
from typing import Any

import click
import numpy as np
import pandas as pd
from tqdm import tqdm

from gridbrain.cli.output import render
from gridbrain.cli.replay import load_mapping, read_mapped
from gridbrain.processors.alerting.engine import AlertEngine, ForecastIssue
from gridbrain.processors.alerting.lifecycle import Change
from gridbrain.processors.alerting.rules import Rule, RuleSet, load_rules
from gridbrain.processors.evaluation.alerts import (
    IncidentSpan,
    flaps,
    incident_spans,
    predictive_score,
    without_hysteresis,
)
from gridbrain.processors.forecast.base import clip_quantiles
from gridbrain.processors.forecast.batch import P10, P50, P90
from gridbrain.processors.forecast.dataset import Series, windows_at
from gridbrain.processors.fuse import FusedStep
from gridbrain.processors.quantities import QUANTITIES
from gridbrain.settings import Settings

__all__ = ["alerts", "fused_steps_from_file", "rule_incidents"]


def fused_steps_from_file(path: Path, mapping_path: Path, step_ms: int) -> list[FusedStep]:
    """The file's readings as fused steps (mean per step), in time order."""
    mapping = load_mapping(mapping_path)
    table = read_mapped(path, mapping)
    frame = pd.DataFrame({"site": table.sites, "ts": table.event_ms // step_ms * step_ms})
    for column, target in mapping.columns.items():
        spec = QUANTITIES[target.quantity]
        raw = table.values[column]
        canonical = raw * spec.factors[target.unit] + spec.offsets.get(target.unit, 0.0)
        canonical[(canonical < spec.low) | (canonical > spec.high)] = np.nan
        frame[target.quantity] = canonical
    means = frame.groupby(["site", "ts"], sort=True).mean()
    steps = []
    for (site, ts), row in means.iterrows():
        values = {q: float(v) for q, v in row.items() if not np.isnan(v)}
        if values:
            steps.append(
                FusedStep(str(site), int(ts), values, {}, None, dict.fromkeys(values, "ok"))
            )
    return sorted(steps, key=lambda s: s.ts_ms)


def rule_incidents(rules: RuleSet, steps: list[FusedStep]) -> list[IncidentSpan]:
    """Every incident that fired when the steps are fed to an engine with ``rules``."""
    engine = AlertEngine(rules)
    changes: list[Change] = []
    for step in steps:
        changes += engine.on_step(step, step.ts_ms)
    return incident_spans(changes)


def _incident_rows(steps: list[FusedStep], rules: RuleSet) -> list[dict[str, Any]]:
    step_rules = RuleSet(rules=[r for r in rules.rules if r.expression != "forecast"])
    bare = without_hysteresis(step_rules)
    immediate = RuleSet(rules=[r.model_copy(update={"for_ms": 0}) for r in bare.rules])
    variants = {
        "hysteresis": rule_incidents(step_rules, steps),
        "none": rule_incidents(bare, steps),
        "none_for0": rule_incidents(immediate, steps),
    }
    rows = []
    for rule in step_rules.rules:
        row: dict[str, Any] = {"rule": rule.name}
        for name, spans in variants.items():
            mine = [s for s in spans if s.rule == rule.name]
            row[f"incidents_{name}"] = len(mine)
            row[f"flaps_{name}"] = flaps(mine).get(rule.name, 0)
        if any(row[f"incidents_{name}"] for name in variants):
            rows.append(row)
    return rows


def _forecast_issues(
    model: Any, series: Series, origins: np.ndarray, horizon: int
) -> list[ForecastIssue]:
    lookback = 7 * 86_400_000 // series.step_ms
    # As the stream: no forecast without a newest value and half the look-back observed
    # (a window inside a month-long gap would otherwise forecast from nothing). The
    # stream's readings carry short gaps interpolated (hourly data on 15-minute steps).
    known = np.isfinite(series.filled)
    issues = []
    for chunk in np.array_split(origins, max(1, len(origins) // 1024)):
        batch = windows_at(series, chunk, lookback, horizon, future_weather=False)
        observed = known[chunk[:, None] + np.arange(1 - lookback, 1)]
        keep = observed[:, -1] & (observed.sum(axis=1) >= lookback // 2)
        if not keep.any():
            continue
        batch = batch.take(np.flatnonzero(keep))
        quantiles = clip_quantiles(model.forecast(batch), series.quantity, None)
        for i, last in enumerate(batch.last_ts_ms.tolist()):
            issued = int(last) + series.step_ms
            targets = [issued + h * series.step_ms for h in range(horizon)]
            issues.append(
                ForecastIssue(
                    series.site_id,
                    series.quantity,
                    model.name,
                    issued,
                    targets,
                    {
                        name: quantiles[i, :, level].tolist()
                        for name, level in (("p10", P10), ("p50", P50), ("p90", P90))
                    },
                )
            )
    return issues


def _predictive_rows(
    settings: Settings,
    path: Path,
    mapping: Path,
    rule: Rule,
    model_names: list[str],
    epochs: int,
    out: Path | None,
    thresholds: list[float],
) -> list[dict[str, Any]]:
    from gridbrain.cli.datasets import SeriesSource, series_from_files
    from gridbrain.cli.progress import epoch_bar
    from gridbrain.cli.training import TrainOptions, make_model
    from gridbrain.processors.evaluation.backtest import fit, plan_backtest

    assert rule.quantity is not None
    step_ms = settings.step_ms
    (series,) = series_from_files([SeriesSource(path, mapping)], rule.quantity, step_ms)
    horizon = settings.horizon_hours * 3_600_000 // step_ms
    options = TrainOptions(7 * 86_400_000 // step_ms, horizon, step_ms, epochs=epochs)
    plan = plan_backtest([series], options.lookback, horizon, origin_every=3_600_000 // step_ms)
    origins = plan.splits[0].test
    ts = series.start_ms + np.arange(len(series)) * step_ms
    window = (ts > ts[origins[0]]) & (ts <= ts[origins[-1]] + horizon * step_ms)
    measured = ts[window][~np.isnan(series.values[window])]
    # A rule on lows ("<") is scored as a rule on highs of the negated series.
    sign = 1.0 if rule.op == ">" else -1.0
    level = sign * series.values[window][~np.isnan(series.values[window])]

    def truth_rate(threshold: float, issued: np.ndarray) -> float:
        """Share of issues with a measured exceedance within the horizon."""
        above = np.sort(measured[level > sign * threshold])
        hi = np.searchsorted(above, issued + horizon * step_ms, side="right")
        return float((hi > np.searchsorted(above, issued, side="right")).mean())

    rows = []
    drawn: dict[str, list[tuple[int, int | None]]] = {}
    for name in model_names:
        model = make_model(name, options)
        with epoch_bar(f"fitting {name}", model) as progress:
            fit(model, plan, progress)
        issues = _forecast_issues(model, series, origins, horizon)
        issued_ms = np.array([i.issued_at_ms for i in issues], dtype=np.int64)
        cautious = "p90" if rule.op == ">" else "p10"  # the quantile that warns earlier
        for threshold, quantile in itertools.product(thresholds, ("p50", cautious)):
            variant = rule.model_copy(
                update={"quantile": quantile, "model": None, "threshold": threshold}
            )
            engine = AlertEngine(RuleSet(rules=[variant]))
            changes = []
            for issue in tqdm(issues, desc=f"{name} {quantile}", unit="issue", leave=False):
                changes += engine.on_forecast(issue, issue.issued_at_ms)
            spans = incident_spans(changes)
            if threshold == rule.threshold:
                drawn[f"{name} {quantile}"] = [(s.fired_ms, s.resolved_ms) for s in spans]
            score = predictive_score(
                spans,
                issued_ms,
                ts[window],
                sign * series.values[window],
                sign * threshold,
                horizon * step_ms,
            )
            rows.append(
                {
                    "model": name,
                    "threshold": threshold,
                    "quantile": quantile,
                    "base_rate": round(float(truth_rate(threshold, issued_ms)), 3),
                    "incidents": score.incidents,
                    "incident_precision": round(score.precision, 3),
                    "firing_issues": score.firing_issues,
                    "issue_precision": round(score.issue_precision, 3),
                    "issue_recall": round(score.issue_recall, 3),
                    "episodes": score.episodes,
                    "caught": score.caught,
                    "episode_recall": round(score.recall, 3),
                    "median_lead_h": score.median_lead_h,
                }
            )
    if out is not None:
        from gridbrain.cli.plots import plot_alert_spans

        out.mkdir(parents=True, exist_ok=True)
        first = int(np.flatnonzero(window)[0])
        plot_alert_spans(
            ts[first:], series.values[first:], rule.threshold, drawn, out / "predictive.png"
        )
    return rows


@click.command("alerts")
@click.option("--csv", "path", required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--mapping", required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--rules", "rules_path", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--predictive-rule",
    default="pm25_forecast_unhealthy",
    show_default=True,
    help="The forecast rule to score (its quantity is forecast).",
)
@click.option("--models", default="persistence,seasonal_naive,linear", show_default=True)
@click.option("--epochs", type=int, default=15, show_default=True)
@click.option(
    "--thresholds", help="Score the predictive rule at these thresholds (default: its own)."
)
@click.option("--out", type=click.Path(path_type=Path), help="Write alerts.json here.")
@click.pass_obj
def alerts(
    settings: Settings,
    path: Path,
    mapping: Path,
    rules_path: Path | None,
    predictive_rule: str,
    models: str,
    epochs: int,
    thresholds: str | None,
    out: Path | None,
) -> None:
    """Incidents and flaps per rule, with and without hysteresis; predictive skill.

    Variants: the rules as written (``hysteresis``), without their recovery band
    (``none``), and without it and without ``for`` (``none_for0``).
    """
    rules = load_rules(rules_path or settings.alert_rules_file)
    steps = fused_steps_from_file(path, mapping, settings.step_ms)
    incident_rows = _incident_rows(steps, rules)
    click.echo(render(incident_rows, "table"))
    (rule,) = [r for r in rules.rules if r.name == predictive_rule]
    levels = [float(t) for t in thresholds.split(",")] if thresholds else [rule.threshold]
    predictive = _predictive_rows(
        settings, path, mapping, rule, models.split(","), epochs, out, levels
    )
    click.echo(render(predictive, "table"))
    result = {
        "file": str(path),
        "steps": len(steps),
        "rules": incident_rows,
        "predictive_rule": rule.name,
        "threshold": rule.threshold,
        "predictive": predictive,
    }
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "alerts.json").write_text(json.dumps(result, indent=2))
    click.echo(json.dumps(result))
