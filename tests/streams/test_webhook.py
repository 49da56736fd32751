"""The webhook notifier against a real local HTTP server started by the test."""

import json
import time
from collections.abc import Iterator

import pytest

from gridbrain.cli.embedded import free_port
from gridbrain.streams.webhook import WebhookNotifier
from tests.http_receiver import Receiver, receiving


@pytest.fixture
def receiver(request: pytest.FixtureRequest) -> Iterator[Receiver]:
    with receiving(getattr(request, "param", 0)) as server:
        yield server


def wait(check: object, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.mark.parametrize("receiver", [2], indirect=True)
def test_retries_with_backoff_until_delivered(receiver: Receiver) -> None:
    notifier = WebhookNotifier(receiver.url, retries=3, backoff_s=0.05)
    started = time.monotonic()
    notifier.submit(json.dumps({"alerts": [{"status": "firing"}]}).encode())
    wait(lambda: notifier.stats.delivered == 1)
    elapsed = time.monotonic() - started
    notifier.close()
    assert receiver.attempts == 3 and receiver.bodies == [{"alerts": [{"status": "firing"}]}]
    assert (notifier.stats.retried, notifier.stats.failed) == (2, 0)
    assert elapsed >= 0.05 + 0.10  # backoff doubled between the two retries


def test_a_dead_receiver_never_blocks_the_caller() -> None:
    url = f"http://127.0.0.1:{free_port()}/nobody"
    notifier = WebhookNotifier(url, retries=2, backoff_s=0.05, timeout_s=1.0)
    started = time.monotonic()
    for i in range(50):
        notifier.submit(json.dumps({"n": i}).encode())
    assert time.monotonic() - started < 0.5  # handed over, not sent, by the caller
    wait(lambda: notifier.stats.failed == 50, timeout_s=60)
    notifier.close()
    assert notifier.stats.delivered == 0 and notifier.stats.retried == 100


@pytest.mark.parametrize("receiver", [0], indirect=True)
def test_order_is_kept_and_a_full_queue_drops(receiver: Receiver) -> None:
    notifier = WebhookNotifier(receiver.url, queue_size=1000)
    for i in range(20):
        notifier.submit(json.dumps({"n": i}).encode())
    wait(lambda: notifier.stats.delivered == 20)
    notifier.close()
    assert [b["n"] for b in receiver.bodies] == list(range(20))
    tiny = WebhookNotifier(f"http://127.0.0.1:{free_port()}/", retries=0, queue_size=1)
    for _ in range(5):
        tiny.submit(b"{}")
    assert tiny.stats.dropped >= 3
