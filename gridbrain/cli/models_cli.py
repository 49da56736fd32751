"""``gridbrain backtest``, ``gridbrain train`` and ``gridbrain models``."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from gridbrain.cli.model_names import MODEL_NAMES, TRAINABLE
from gridbrain.cli.output import render
from gridbrain.errors import ConfigurationError
from gridbrain.settings import Settings

__all__ = ["backtest", "models", "train"]

_FORMAT = click.option(
    "--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table"
)


def _data_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Where the history comes from, and the window shape."""
    for option in reversed(
        [
            click.option("--quantity", required=True, help="load, pv_power, wind_power, pm25, ..."),
            click.option(
                "--csv",
                "csv_paths",
                multiple=True,
                type=click.Path(exists=True, path_type=Path),
                help="A CSV/Parquet file (repeat with --mapping); default: the database.",
            ),
            click.option(
                "--mapping",
                "mappings",
                multiple=True,
                type=click.Path(exists=True, path_type=Path),
                help="The mapping of each --csv, in order.",
            ),
            click.option("--sites", help="Comma-separated site ids (default: every site)."),
            click.option(
                "--lookback-days",
                type=float,
                default=7.0,
                show_default=True,
                help="History the models read.",
            ),
            click.option("--horizon-hours", type=float, default=24.0, show_default=True),
            click.option("--epochs", type=int, default=30, show_default=True),
            click.option(
                "--observed-weather-as-forecast",
                "--future-weather",
                "future_weather",
                is_flag=True,
                help="Give models the observed weather of the target steps as a perfect "
                "forecast (an oracle: optimistic). Alias: --future-weather.",
            ),
        ]
    ):
        command = option(command)
    return command


def _plan(settings: Settings, kwargs: dict[str, Any]) -> tuple[Any, Any]:
    from gridbrain.cli.datasets import SeriesSource, series_from_database, series_from_files
    from gridbrain.cli.services import database
    from gridbrain.cli.training import TrainOptions
    from gridbrain.processors.device import resolve_device
    from gridbrain.processors.evaluation.backtest import plan_backtest

    step_ms = settings.step_ms
    csv_paths, mappings = kwargs["csv_paths"], kwargs["mappings"]
    if len(csv_paths) != len(mappings):
        raise click.UsageError("give one --mapping per --csv")
    sites = kwargs["sites"].split(",") if kwargs["sites"] else None
    if csv_paths:
        series = series_from_files(
            [SeriesSource(p, m) for p, m in zip(csv_paths, mappings, strict=True)],
            kwargs["quantity"],
            step_ms,
        )
        series = [s for s in series if sites is None or s.site_id in sites]
    else:
        with database(settings) as sessions, sessions() as session:
            series = series_from_database(session, kwargs["quantity"], step_ms, sites)
    options = TrainOptions(
        lookback=int(kwargs["lookback_days"] * 86_400_000 // step_ms),
        horizon=int(kwargs["horizon_hours"] * 3_600_000 // step_ms),
        step_ms=step_ms,
        epochs=kwargs["epochs"],
        device=resolve_device(settings.device),
    )
    if not series:
        raise ConfigurationError("no series selected")
    plan = plan_backtest(
        series, options.lookback, options.horizon, future_weather=kwargs["future_weather"]
    )
    return plan, options


@click.command()
@_data_options
@click.option(
    "--models",
    "model_names",
    default="persistence,seasonal_naive,seasonal_naive_7d,arx,linear,linear_daily",
    show_default=True,
    help="Comma-separated models (also: patchtst, lightgbm, lightgbm_calibrated, "
    "lightgbm_weather, text_regressor, ensemble).",
)
@click.option(
    "--out", type=click.Path(path_type=Path), help="Write metrics.json and PNG plots here."
)
@_FORMAT
@click.pass_obj
def backtest(
    settings: Settings, model_names: str, out: Path | None, fmt: str, **kwargs: Any
) -> None:
    """Rolling-origin back-test: fit on the first 70 %, calibrate on 10 %, score the rest.

    Test forecasts are issued once a day (day-ahead with the default horizon) and scored
    with MAE, RMSE, nMAE, MASE, pinball loss, CRPS and p10-p90 coverage, with skill
    against persistence and the seasonal naive.
    """
    from gridbrain.cli.training import backtest_models, check_text, report

    names = [n.strip() for n in model_names.split(",") if n.strip()]
    unknown = sorted(set(names) - set(MODEL_NAMES))
    if unknown:
        raise click.UsageError(f"unknown models {unknown}; known: {list(MODEL_NAMES)}")
    plan, options = _plan(settings, kwargs)
    check_text(names, plan)
    for baseline in ("seasonal_naive", "persistence"):
        if baseline not in names:
            names.insert(0, baseline)
    results = backtest_models(names, plan, options)
    rows = report({n: s for n, (_, s) in results.items()}, out, settings.step_ms)
    click.echo(render(rows, fmt))


@click.command()
@_data_options
@click.option(
    "--model",
    "model_name",
    type=click.Choice(TRAINABLE),
    default="linear",
    show_default=True,
    help="text_regressor reads the weather text (needs --observed-weather-as-forecast "
    "and descriptions).",
)
@click.option("--name", help="Registry name (default: QUANTITY-MODEL).")
@click.option(
    "--promote/--no-promote",
    default=True,
    show_default=True,
    help="Promote the new version if its back-test beats the promoted one.",
)
@_FORMAT
@click.pass_obj
def train(
    settings: Settings,
    model_name: str,
    name: str | None,
    promote: bool,
    fmt: str,
    **kwargs: Any,
) -> None:
    """Train a model, back-test it, register it; promote it if it beats the serving one.

    Running forecasters pick up a promoted version within GRIDBRAIN_MODEL_REFRESH_S.
    """
    from gridbrain.cli.registry import train_and_register
    from gridbrain.cli.training import check_text

    plan, options = _plan(settings, kwargs)
    check_text([model_name], plan)
    sites = kwargs["sites"].split(",") if kwargs["sites"] else None
    outcome = train_and_register(
        settings,
        plan,
        options,
        model_name,
        name or f"{kwargs['quantity']}-{model_name}",
        sites,
        promote,
    )
    click.echo(render([outcome], fmt))


@click.group(invoke_without_command=True)
@_FORMAT
@click.pass_context
def models(ctx: click.Context, fmt: str) -> None:
    """The model registry: every version with its back-test metrics and status."""
    if ctx.invoked_subcommand is not None:
        return
    from gridbrain.cli.services import database
    from gridbrain.storage.registry import model_versions

    settings: Settings = ctx.obj
    with database(settings) as sessions, sessions() as session:
        rows = [
            {
                "id": v.id,
                "name": v.name,
                "version": v.version,
                "quantity": v.quantity,
                "kind": v.kind,
                "sites": ",".join(v.sites) if v.sites else "all",
                "status": v.status,
                **{k: v.metrics.get(k) for k in ("crps", "mae", "coverage_80")},
            }
            for v in model_versions(session)
        ]
    click.echo(render(rows, fmt))


@models.command("promote")
@click.argument("model_id", type=int)
@click.pass_obj
def models_promote(settings: Settings, model_id: int) -> None:
    """Promote a version by id by hand (e.g. to roll back)."""
    from gridbrain.cli.services import database
    from gridbrain.storage.registry import promote

    with database(settings) as sessions, sessions.begin() as session:
        promote(session, model_id)
    click.echo(f"model {model_id} promoted")


@models.command("bands")
@_FORMAT
@click.pass_obj
def models_bands(settings: Settings, fmt: str) -> None:
    """The served bands' tracked shifts (window scales) per site, quantity and model."""
    from gridbrain.cli.services import database
    from gridbrain.storage.band_trackers import all_trackers

    with database(settings) as sessions, sessions() as session:
        rows = all_trackers(session)
    click.echo(render(rows, fmt))
