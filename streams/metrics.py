"""Prometheus metrics of a worker, served at ``/metrics`` on its own port.

Batch metrics are observed by the executor once a batch has committed, from the batch's
own counters and the messages it published: a batch redelivered after a crash or
retried after an outage is counted once, as its effects are. What the metrics count
outside batches (model calls, webhook attempts, rebalances, retries) are events that
happened, retried or not.

Metric names follow the Prometheus conventions (``_total`` counters, ``_seconds``
durations); :data:`METRIC_NAMES` lists every sample name a worker exports, which the
Grafana dashboard's queries are checked against.
"""

import json
import logging
from collections import Counter as Tally
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.exposition import generate_latest

from gridbrain.streams.topics import ALERTS, DEADLETTER, FORECASTS, SCHEDULES

if TYPE_CHECKING:
    from gridbrain.streams.envelope import Emission

__all__ = [
    "METRIC_NAMES",
    "REGISTRY",
    "exposition",
    "forget_partitions",
    "observe_batch",
    "observe_lag",
    "serve",
]

_log = logging.getLogger(__name__)

#: The worker's registry (not the global default: tests build several apps per process).
REGISTRY = CollectorRegistry(auto_describe=True)

_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

MESSAGES_CONSUMED = Counter(
    "gridbrain_messages_consumed",
    "Input messages whose batch committed, per stage and topic.",
    ["stage", "topic"],
    registry=REGISTRY,
)
MESSAGES_PUBLISHED = Counter(
    "gridbrain_messages_published",
    "Messages a stage published (delivered before its batch committed), per topic.",
    ["stage", "topic"],
    registry=REGISTRY,
)
ITEMS = Counter(
    "gridbrain_stage_items",
    "A stage's item counters (readings received, processed, deadlettered, duplicates, "
    "emitted, forecast rows, ...), as in `gridbrain status`.",
    ["stage", "topic", "counter"],
    registry=REGISTRY,
)
DEAD_LETTERS = Counter(
    "gridbrain_dead_letters",
    "Items and messages dead-lettered, per stage and reason.",
    ["stage", "reason"],
    registry=REGISTRY,
)
BATCH_SECONDS = Histogram(
    "gridbrain_batch_seconds",
    "Time from a batch's start to its commit (handler, publishing, commit), per stage.",
    ["stage"],
    buckets=_SECONDS,
    registry=REGISTRY,
)
CONSUMER_LAG = Gauge(
    "gridbrain_consumer_lag_messages",
    "Messages of a partition after the last one this worker took (its fetch high "
    "watermark minus its position).",
    ["group", "topic", "partition"],
    registry=REGISTRY,
)
ASSIGNED = Gauge(
    "gridbrain_assigned_partitions",
    "Partitions a stage group's consumer holds.",
    ["group"],
    registry=REGISTRY,
)
REBALANCES = Counter(
    "gridbrain_rebalances",
    "Partition assignments a stage group's consumer received.",
    ["group"],
    registry=REGISTRY,
)
RETRIES = Counter(
    "gridbrain_retries",
    "Batch attempts retried after an outage (database or broker unreachable).",
    ["stage"],
    registry=REGISTRY,
)
QUARANTINED = Counter(
    "gridbrain_quarantined",
    "Messages quarantined after failing a stage repeatedly.",
    ["stage"],
    registry=REGISTRY,
)
FORECASTS_ISSUED = Counter(
    "gridbrain_forecasts",
    "Series forecasts published, per model and fallback reason (none: the model served).",
    ["model", "fallback"],
    registry=REGISTRY,
)
MODEL_CALL_SECONDS = Histogram(
    "gridbrain_model_call_seconds",
    "Time of one forecasting micro-batch through the models.",
    buckets=_SECONDS,
    registry=REGISTRY,
)
NOTIFICATIONS = Counter(
    "gridbrain_alert_notifications",
    "Alert notifications published, per state and severity.",
    ["state", "severity"],
    registry=REGISTRY,
)
WEBHOOK = Counter(
    "gridbrain_webhook_deliveries",
    "Alert webhook outcomes: delivered, retried (an attempt failed), failed (gave up), "
    "dropped (queue full).",
    ["outcome"],
    registry=REGISTRY,
)
PLANS = Counter(
    "gridbrain_dispatch_plans",
    "Dispatch plans published, per policy and solver status.",
    ["policy", "status"],
    registry=REGISTRY,
)
SOLVE_SECONDS = Histogram(
    "gridbrain_dispatch_solve_seconds",
    "Time to decide a dispatch plan, per policy.",
    ["policy"],
    buckets=_SECONDS,
    registry=REGISTRY,
)

#: Every sample name the worker exports (histograms as their three series).
METRIC_NAMES: frozenset[str] = frozenset(
    name
    for collector in (
        MESSAGES_CONSUMED,
        MESSAGES_PUBLISHED,
        ITEMS,
        DEAD_LETTERS,
        BATCH_SECONDS,
        CONSUMER_LAG,
        ASSIGNED,
        REBALANCES,
        RETRIES,
        QUARANTINED,
        FORECASTS_ISSUED,
        MODEL_CALL_SECONDS,
        NOTIFICATIONS,
        WEBHOOK,
        PLANS,
        SOLVE_SECONDS,
    )
    for metric in collector.describe()
    for name in (
        [f"{metric.name}_bucket", f"{metric.name}_sum", f"{metric.name}_count"]
        if metric.type == "histogram"
        else [f"{metric.name}_total"]
        if metric.type == "counter"
        else [metric.name]
    )
)


def observe_batch(
    stage: str,
    consumed: Mapping[str, int],
    counts: Mapping[tuple[str, str], int],
    published: Iterable["Emission"],
    seconds: float,
) -> None:
    """Count a committed batch: its input per topic, its counters and what it published.

    Dead letters, alert notifications, forecasts and plans are read from the published
    messages (only those topics' messages are decoded).
    """
    for topic, n in consumed.items():
        MESSAGES_CONSUMED.labels(stage, topic).inc(n)
    for (topic, counter), n in counts.items():
        if n > 0:
            ITEMS.labels(stage, topic, counter).inc(n)
    out: Tally[str] = Tally()
    for emission in published:
        out[emission.topic] += 1
        if emission.topic in _DECODED:
            _observe_message(stage, emission.topic, emission.value)
    for topic, n in out.items():
        MESSAGES_PUBLISHED.labels(stage, topic).inc(n)
    BATCH_SECONDS.labels(stage).observe(seconds)


_DECODED = frozenset({DEADLETTER, ALERTS, FORECASTS, SCHEDULES})


def _observe_message(stage: str, topic: str, value: bytes) -> None:
    try:
        message = json.loads(value)
    except ValueError:  # our own messages; a metric is never worth a failed batch
        return
    if topic == DEADLETTER:
        DEAD_LETTERS.labels(stage, str(message.get("reason", "unknown"))).inc()
    elif topic == ALERTS:
        NOTIFICATIONS.labels(str(message.get("state")), str(message.get("severity"))).inc()
    elif topic == FORECASTS:
        FORECASTS_ISSUED.labels(
            str(message.get("model")), str(message.get("fallback") or "none")
        ).inc()
    else:
        policy = str(message.get("policy"))
        PLANS.labels(policy, str(message.get("status"))).inc()
        SOLVE_SECONDS.labels(policy).observe(float(message.get("solve_s") or 0.0))


def observe_lag(group: str, lags: Mapping[tuple[str, int], int]) -> None:
    """Set the lag of each partition ``group``'s consumer holds."""
    for (topic, partition), lag in lags.items():
        CONSUMER_LAG.labels(group, topic, str(partition)).set(lag)


def forget_partitions(group: str, held: set[tuple[str, int]]) -> None:
    """Drop the lag series of partitions ``group`` no longer holds."""
    for labels in list(CONSUMER_LAG._metrics):  # the one way prometheus-client lists them
        name, topic, partition = labels
        if name == group and (topic, int(partition)) not in held:
            CONSUMER_LAG.remove(*labels)


def serve(port: int, host: str = "127.0.0.1") -> int:
    """Serve ``/metrics`` on ``port`` (0: any free port) in a thread; return the port.

    A port already taken is not a reason to stop a worker: it serves on a free port
    instead (reported in ``gridbrain status``) and says so.
    """
    try:
        server, _ = start_http_server(port, host, registry=REGISTRY)
    except OSError as exc:
        _log.warning("metrics port %d not available (%s); serving on a free port", port, exc)
        server, _ = start_http_server(0, host, registry=REGISTRY)
    bound = int(server.server_port)
    _log.info("metrics at http://%s:%d/metrics", host, bound)
    return bound


def exposition() -> bytes:
    """The current metrics in the Prometheus text format."""
    return generate_latest(REGISTRY)
