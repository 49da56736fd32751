"""The monitoring of the Docker deployment, checked as files (no Docker, no Grafana).

The Grafana dashboard may query only the metrics a worker exports
(:data:`gridbrain.streams.metrics.METRIC_NAMES`), with their labels, and only the tables
and columns the database has; every panel names a provisioned data source. (The
provisioning, Prometheus and compose wiring: ``test_compose_monitoring.py``.)
"""

import importlib
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.metrics import MetricWrapperBase

from gridbrain.storage.models import Base
from gridbrain.streams import metrics
from gridbrain.streams.metrics import METRIC_NAMES

ROOT = Path(__file__).resolve().parents[1]
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARD_FILE = GRAFANA / "dashboards" / "gridbrain.json"
DASHBOARD: dict[str, Any] = json.loads(DASHBOARD_FILE.read_text())
DATASOURCES: list[dict[str, Any]] = yaml.safe_load(
    (GRAFANA / "provisioning" / "datasources" / "datasources.yml").read_text()
)["datasources"]
PROVIDERS: list[dict[str, Any]] = yaml.safe_load(
    (GRAFANA / "provisioning" / "dashboards" / "dashboards.yml").read_text()
)["providers"]
PROMETHEUS: dict[str, Any] = yaml.safe_load(
    (ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text()
)
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_TEXT)
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
SECRETS = (
    "POSTGRES_PASSWORD",
    "GRIDBRAIN_API_READ_TOKEN",
    "GRIDBRAIN_API_WRITE_TOKEN",
    "GRAFANA_ADMIN_PASSWORD",
    "GRAFANA_DB_PASSWORD",
)
#: Labels Prometheus adds to every scraped series.
TARGET_LABELS = frozenset({"job", "instance"})


# --- The dashboard's panels and queries -------------------------------------------------


def panels_of(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, those inside (collapsed) rows included."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panels_of(panel)


def targets_of(dashboard: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any], str]]:
    """(panel title, target, data source uid) of every query, the variables' included."""
    for panel in panels_of(dashboard):
        for target in panel.get("targets", []):
            source = target.get("datasource") or panel.get("datasource") or {}
            yield panel.get("title", "?"), target, source.get("uid", "")
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            query = variable.get("query")
            target = query if isinstance(query, dict) else {"query": query}
            source = variable.get("datasource") or {}
            yield f"variable {variable['name']}", target, source.get("uid", "")


def _source_types() -> dict[str, str]:
    return {source["uid"]: source["type"] for source in DATASOURCES}


def promql_of(dashboard: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(where, PromQL, legend) of every query to a Prometheus data source."""
    types = _source_types()
    found = []
    for where, target, uid in targets_of(dashboard):
        if types.get(uid) == "prometheus":
            expr = target.get("expr") or target.get("query") or ""
            found.append((where, expr, target.get("legendFormat", "")))
    return found


def sql_of(dashboard: Mapping[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(panel, target) of every SQL query (a PostgreSQL data source)."""
    types = _source_types()
    return [
        (panel, target)
        for panel in panels_of(dashboard)
        for target in panel.get("targets", [])
        if types.get((target.get("datasource") or panel.get("datasource") or {}).get("uid", ""))
        == "grafana-postgresql-datasource"
    ]


# --- PromQL: metric and label names ------------------------------------------------------

_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{([^{}]*)\}")
_NAME_MATCHER = re.compile(r'__name__\s*=\s*"([^"]*)"')
_METRIC = re.compile(r"(?<![\w:])gridbrain_[A-Za-z0-9_:]*")
_MATCHER_LABEL = re.compile(r"([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)")
_GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
_LEGEND_LABEL = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def metric_names(expr: str) -> set[str]:
    """The ``gridbrain_`` series an expression selects (label values in quotes are not)."""
    named = {n for n in _NAME_MATCHER.findall(expr) if n.startswith("gridbrain_")}
    bare = _MATCHERS.sub(" ", _QUOTED.sub('""', expr))
    return set(_METRIC.findall(bare)) | named


def label_names(expr: str) -> set[str]:
    """Labels an expression matches on (``{...}``) or groups by (``by``/``without``)."""
    unquoted = _QUOTED.sub('""', expr)
    matched = {
        label
        for matchers in _MATCHERS.findall(unquoted)
        for label in _MATCHER_LABEL.findall(matchers)
    }
    grouped = {
        label.strip()
        for labels in _GROUPING.findall(unquoted)
        for label in labels.split(",")
        if label.strip()
    }
    return (matched | grouped) - {"__name__"}


def _sample_names(metric: Any) -> list[str]:
    if metric.type == "histogram":
        return [f"{metric.name}_bucket", f"{metric.name}_sum", f"{metric.name}_count"]
    return [f"{metric.name}_total"] if metric.type == "counter" else [metric.name]


def exported_labels() -> dict[str, frozenset[str]]:
    """The labels of every sample name the workers export (``le`` on histogram buckets)."""
    labels: dict[str, frozenset[str]] = {}
    for collector in vars(metrics).values():
        if isinstance(collector, MetricWrapperBase):
            own = frozenset(collector._labelnames)
            for metric in collector.describe():
                for sample in _sample_names(metric):
                    labels[sample] = own | ({"le"} if sample.endswith("_bucket") else set())
    return labels


def promql_problems(
    dashboard: Mapping[str, Any],
    exported: frozenset[str] = METRIC_NAMES,
    labels: Mapping[str, frozenset[str]] | None = None,
) -> list[str]:
    """What the dashboard's PromQL asks of the workers that they do not export."""
    labels = exported_labels() if labels is None else labels
    problems = []
    for where, expr, legend in promql_of(dashboard):
        used = metric_names(expr)
        problems += [f"{where}: {name} is not exported" for name in sorted(used - exported)]
        known = {name for name in used if name in labels}
        if known:
            allowed = TARGET_LABELS.union(*(labels[name] for name in known))
            problems += [
                f"{where}: no metric of {sorted(known)} has the label {label}"
                for label in sorted(label_names(expr) - allowed)
            ]
        grouped = {
            label.strip()
            for group in _GROUPING.findall(_QUOTED.sub('""', expr))
            for label in group.split(",")
        }
        problems += [
            f"{where}: the legend shows {label}, which the query does not keep"
            for label in sorted(set(_LEGEND_LABEL.findall(legend)) - grouped)
        ]
    return problems


# --- SQL: tables and columns ------------------------------------------------------------

#: Words a query may use bare, besides functions, types, tables, aliases and AS names.
_SQL_WORDS = frozenset(
    re.findall(
        r"\w+",
        """select from join inner left right full outer cross lateral on and or not where
        group by order as asc desc nulls first last limit offset case when then else end
        between in is null true false distinct having interval with union all filter over
        partition like ilike any""",
    )
)


def database_columns() -> dict[str, frozenset[str]]:
    """The columns of every table of the models, and of the view ``forecasts``."""
    columns = {
        name: frozenset(c.name for c in table.columns)
        for name, table in Base.metadata.tables.items()
    }
    view = importlib.import_module("gridbrain.storage.migrations.versions.0008_forecast_issues")
    select = re.search(r"SELECT(.*?)\nFROM", view.FORECASTS_VIEW, re.S | re.I)
    assert select, "migration 0008 no longer defines the view forecasts as expected"
    items, depth, item = [], 0, ""
    for char in select.group(1):
        depth += (char == "(") - (char == ")")
        if char == "," and depth == 0:
            items.append(item)
            item = ""
        else:
            item += char
    items.append(item)
    assert "forecasts" not in columns
    columns["forecasts"] = frozenset(re.search(r"(\w+)\s*$", i).group(1) for i in items)  # type: ignore[union-attr]
    return columns


def sql_problems(query: str, columns: Mapping[str, frozenset[str]]) -> list[str]:
    """Tables, aliases and columns a query names that the database does not have.

    Columns are to be qualified (``a.state``): a bare word must be an SQL keyword, a
    function, a type after ``::``, a table, an alias or a name the query defines (``AS``).
    """
    text = re.sub(r"--[^\n]*", " ", query)
    text = re.sub(r"'(?:[^']|'')*'", "''", text)
    text = re.sub(r"\$__\w+", " ", text)  # Grafana's macros; their arguments are checked
    problems = []
    aliases: dict[str, str] = {}  # table or alias -> table ("" where no such table)
    for table, alias in re.findall(r"\b(?:from|join)\s+(\w+)(?:\s+(?:as\s+)?(\w+))?", text, re.I):
        known = table.lower() if table.lower() in columns else ""
        if not known:
            problems.append(f"no table {table}")
        aliases[table.lower()] = known
        if alias and alias.lower() not in _SQL_WORDS:
            aliases[alias.lower()] = known
    qualified = re.compile(r"\b([A-Za-z_]\w*)\.([A-Za-z_]\w*)\b")
    for qualifier, column in qualified.findall(text):
        table = aliases.get(qualifier.lower())
        if table is None:
            problems.append(f"no table or alias {qualifier}")
        elif table and column.lower() not in columns[table]:
            problems.append(f"{table} has no column {column}")
    defined = {name.lower() for name in re.findall(r"\bas\s+(\w+)", text, re.I)}
    bare = re.sub(r"::\s*\w+", " ", qualified.sub(" ", text))
    for word in re.findall(r"\b[A-Za-z_]\w*\b(?!\s*\()", bare):
        if word.lower() not in _SQL_WORDS | aliases.keys() | defined:
            problems.append(f"unqualified or unknown name {word}")
    return problems


def dashboard_sql_problems(dashboard: Mapping[str, Any]) -> list[str]:
    columns = database_columns()
    return [
        f"{panel.get('title')}: {problem}"
        for panel, target in sql_of(dashboard)
        for problem in sql_problems(target.get("rawSql", ""), columns)
    ]


# --- The dashboard ----------------------------------------------------------------------


def test_dashboard_identity() -> None:
    assert DASHBOARD["uid"] == "gridbrain" and DASHBOARD["title"] == "Gridbrain"
    assert 36 <= DASHBOARD["schemaVersion"] <= 41
    ids = [p["id"] for p in panels_of(DASHBOARD)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in panels_of(DASHBOARD):
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24 and pos["h"] > 0, panel["title"]


def test_the_dashboard_queries_only_exported_metrics_and_labels() -> None:
    assert promql_of(DASHBOARD), "no Prometheus queries found"
    assert promql_problems(DASHBOARD) == []


def test_the_metric_names_and_their_labels_agree() -> None:
    assert set(exported_labels()) == METRIC_NAMES


def test_every_exported_metric_has_a_panel() -> None:
    """A metric added to the workers shows on the dashboard (or this fails as a reminder)."""
    used = set().union(*(metric_names(expr) for _, expr, _ in promql_of(DASHBOARD)))
    families = {re.sub(r"_(total|bucket|sum|count)$", "", name) for name in METRIC_NAMES}
    shown = {re.sub(r"_(total|bucket|sum|count)$", "", name) for name in used}
    assert families <= shown, f"no panel shows {sorted(families - shown)}"


def test_a_metric_the_workers_do_not_export_is_reported() -> None:
    fake = {
        "panels": [
            {
                "type": "row",
                "title": "nested",
                "panels": [
                    {
                        "title": "fake",
                        "datasource": {"type": "prometheus", "uid": "prometheus"},
                        "targets": [
                            {
                                "expr": "sum by (stage) (rate(gridbrain_no_such_metric_total"
                                '{stage="gridbrain_quoted_value"}[$__rate_interval])) + on() '
                                'gridbrain_retries_total{counter="x"}',
                                "legendFormat": "{{stage}} {{topic}}",
                            }
                        ],
                    }
                ],
            }
        ]
    }
    assert metric_names(fake["panels"][0]["panels"][0]["targets"][0]["expr"]) == {
        "gridbrain_no_such_metric_total",
        "gridbrain_retries_total",
    }
    problems = promql_problems(fake)
    assert problems == [
        "fake: gridbrain_no_such_metric_total is not exported",
        "fake: no metric of ['gridbrain_retries_total'] has the label counter",
        "fake: the legend shows topic, which the query does not keep",
    ]
    assert metric_names('{__name__="gridbrain_via_name"}') == {"gridbrain_via_name"}


def test_rates_use_grafanas_intervals() -> None:
    for where, expr, _ in promql_of(DASHBOARD):
        for window in re.findall(r"\[([^\]]*)\]", expr):
            assert window in ("$__rate_interval", "$__range"), f"{where}: [{window}]"
        for opening, closing in ("()", "[]", "{}"):
            assert expr.count(opening) == expr.count(closing), f"{where}: unbalanced {expr}"


def test_every_panel_uses_a_provisioned_data_source() -> None:
    types = _source_types()
    assert set(types) == {"prometheus", "postgres"}
    for panel in panels_of(DASHBOARD):
        if panel["type"] == "row":
            continue
        source = panel.get("datasource") or {}
        assert source.get("uid") in types, panel["title"]
        assert source.get("type") == types[source["uid"]], panel["title"]
        for target in panel["targets"]:
            assert (target.get("datasource") or source) == source, panel["title"]
    for where, _, uid in targets_of(DASHBOARD):
        assert uid in types, where


def test_sql_panels_query_existing_tables_and_columns() -> None:
    assert sql_of(DASHBOARD), "no SQL panels found"
    assert dashboard_sql_problems(DASHBOARD) == []
    tables = {
        table.lower()
        for _, target in sql_of(DASHBOARD)
        for table in re.findall(r"\b(?:FROM|JOIN)\s+(\w+)", target["rawSql"], re.I)
    }
    assert {"forecasts", "readings", "alerts"} <= tables


def test_sql_check_reports_unknown_tables_and_columns() -> None:
    columns = database_columns()
    assert {"site_id", "quantity", "issued_at", "target_ts", "p10", "p50", "p90", "model"} <= (
        columns["forecasts"]
    )
    query = (
        "SELECT a.rule, a.nope, count(*) AS n FROM alerts a JOIN no_table t ON t.x = a.id "
        "WHERE $__timeFilter(a.started_at) AND b.state = 'firing' AND severity = 'x' "
        "GROUP BY a.rule ORDER BY n"
    )
    assert sql_problems(query, columns) == [
        "no table no_table",
        "alerts has no column nope",
        "no table or alias b",
        "unqualified or unknown name severity",
    ]


def test_sql_panels_use_the_time_range() -> None:
    for panel, target in sql_of(DASHBOARD):
        assert target.get("rawQuery") is True, panel["title"]
        sql = target["rawSql"]
        if panel["type"] == "timeseries":
            assert target["format"] == "time_series", panel["title"]
            assert "$__timeFilter(" in sql and "$__timeGroup" in sql, panel["title"]
    by_title = {panel["title"]: target["rawSql"] for panel, target in sql_of(DASHBOARD)}
    accuracy = [sql for title, sql in by_title.items() if "forecasts f" in sql]
    assert accuracy and all("$__timeFilter(f.target_ts)" in sql for sql in accuracy)
    assert any("avg(abs(f.p50 - r.value))" in sql for sql in accuracy)  # MAE of p50
    assert any("BETWEEN f.p10 AND f.p90" in sql for sql in accuracy)  # coverage
    assert "a.state = 'firing'" in by_title["Firing incidents"]
    assert "$__timeFilter" not in by_title["Open incidents"]  # open now, whenever started
