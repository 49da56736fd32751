"""Alert notifications to a webhook: JSON POSTs from a background thread, with retries.

The stream hands payloads over without waiting (a bounded queue); a thread posts them
in order, retrying failures (connection errors, timeouts, HTTP 5xx and 429) with
exponential backoff. A receiver that stays down costs notifications, never throughput:
after the last retry the payload is logged and counted as failed, and a full queue drops
new payloads (counted). Delivery is at-least-once: a redelivered batch notifies again.
"""

import logging
import queue
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from gridbrain.streams import metrics

__all__ = ["WebhookNotifier", "WebhookStats"]

_log = logging.getLogger(__name__)
_STOP = b""


@dataclass
class WebhookStats:
    """What the notifier has done so far."""

    delivered: int = 0
    retried: int = 0
    failed: int = 0
    dropped: int = 0


class WebhookNotifier:
    """Posts JSON payloads to ``url`` from its own thread.

    Args:
        url: the receiver.
        retries: attempts after the first one.
        backoff_s: wait before the first retry; doubled each time (at most 60 s).
        timeout_s: per-request timeout.
        queue_size: payloads waiting at most; more are dropped.
    """

    def __init__(
        self,
        url: str,
        retries: int = 5,
        backoff_s: float = 0.5,
        timeout_s: float = 5.0,
        queue_size: int = 10_000,
    ) -> None:
        self.url = url
        self.retries = retries
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self.stats = WebhookStats()
        self._queue: queue.Queue[bytes] = queue.Queue(queue_size)
        self._thread = threading.Thread(target=self._run, name="alert-webhook", daemon=True)
        self._thread.start()

    def submit(self, payload: bytes) -> None:
        """Queue a JSON payload; never blocks."""
        try:
            self._queue.put_nowait(payload)
        except queue.Full:
            self.stats.dropped += 1
            metrics.WEBHOOK.labels("dropped").inc()
            _log.warning("alert webhook queue full: notification dropped")

    def close(self, timeout_s: float = 10.0) -> None:
        """Deliver what is queued (up to ``timeout_s``) and stop the thread."""
        self._queue.put(_STOP)
        self._thread.join(timeout_s)

    def _run(self) -> None:
        while True:
            payload = self._queue.get()
            if payload == _STOP:
                return
            self._deliver(payload)

    def _deliver(self, payload: bytes) -> None:
        for attempt in range(self.retries + 1):
            if attempt:
                self.stats.retried += 1
                metrics.WEBHOOK.labels("retried").inc()
                time.sleep(min(self.backoff_s * 2 ** (attempt - 1), 60.0))
            try:
                request = urllib.request.Request(
                    self.url, payload, {"Content-Type": "application/json"}, method="POST"
                )
                with urllib.request.urlopen(request, timeout=self.timeout_s):
                    self.stats.delivered += 1
                    metrics.WEBHOOK.labels("delivered").inc()
                    return
            except urllib.error.HTTPError as exc:
                if exc.code < 500 and exc.code != 429:
                    _log.error("alert webhook refused a notification: HTTP %s", exc.code)
                    break  # a client error does not get better by retrying
                error: Exception = exc
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                error = exc
            _log.warning("alert webhook attempt %d failed: %s", attempt + 1, error)
        self.stats.failed += 1
        metrics.WEBHOOK.labels("failed").inc()
        _log.error("alert webhook gave up on a notification after %d attempts", attempt + 1)
