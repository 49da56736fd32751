"""Benchmarks of the stages as real workers: time a worker by its committed counters."""

import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tqdm import tqdm

__all__ = ["embedded_services", "worker_rate"]

from gridbrain.cli.services import embedded_kafka_env, worker_command
from gridbrain.storage.db import make_engine, make_sessionmaker
from gridbrain.storage.queries import stage_counts


def worker_rate(
    bootstrap: str,
    url: str,
    roles: tuple[str, ...],
    counter: tuple[str, str],
    expected: int,
    log: Path,
    workers: int = 1,
) -> float:
    """Items/s of ``workers`` workers running ``roles`` (one consumer group).

    Timed from the first counted item to ``expected``. ``counter`` is the (stage, topic)
    whose ``received`` count is followed. The clock starts at the first committed batch, so
    the input must span many batches.
    """
    sessions = make_sessionmaker(make_engine(url))
    command = worker_command(bootstrap, url, roles)
    running = [
        subprocess.Popen(
            command, stdout=log.open("ab"), stderr=subprocess.STDOUT, env=embedded_kafka_env()
        )
        for _ in range(workers)
    ]
    first: tuple[float, int] | None = None
    try:
        with tqdm(total=expected, desc="+".join(roles), mininterval=1.0) as bar:
            while True:
                with sessions() as session:
                    received = stage_counts(session).get(counter, {}).get("received", 0)
                bar.update(received - bar.n)
                now = time.perf_counter()
                if received and first is None:
                    first = (now, received)
                if received >= expected:
                    assert first is not None
                    if received == first[1]:
                        raise RuntimeError("everything came in one committed batch: send more")
                    return (received - first[1]) / (now - first[0])
                if any(w.poll() is not None for w in running):
                    tail = log.read_text(errors="replace")[-3000:]
                    raise RuntimeError(f"a worker exited; its log ends:\n{tail}")
                time.sleep(0.2)
    finally:
        for w in running:
            w.terminate()
        for w in running:
            w.wait(30)


@contextmanager
def embedded_services(partitions: int) -> Iterator[tuple[Path, str, str]]:
    """A fresh embedded broker and PostgreSQL, migrated and with topics, in a temporary folder.

    Yields:
        The folder, the bootstrap address and the database URL.
    """
    from gridbrain.cli.embedded import EmbeddedBroker, free_port, open_database_url
    from gridbrain.storage.db import migrate
    from gridbrain.streams.topics import create_topics

    with (
        tempfile.TemporaryDirectory() as tmp,
        EmbeddedBroker(Path(tmp), free_port()) as broker,
        open_database_url(None, Path(tmp) / "pgdata") as url,
    ):
        migrate(url)
        create_topics(broker.bootstrap, partitions)
        yield Path(tmp), broker.bootstrap, url
