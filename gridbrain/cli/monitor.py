"""Live progress of a running platform, read from the database's counters."""

import time
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from gridbrain.storage.queries import stage_counts
from gridbrain.streams.topics import ALERTS, FORECASTS, FUSED, SENSOR_READINGS

__all__ = ["Monitor"]


@dataclass
class Monitor:
    """Samples the counters and remembers when things first happened."""

    sessions: sessionmaker[Session]
    started: float = field(default_factory=time.monotonic)
    first_forecast_s: float | None = None
    first_alert_s: float | None = None
    _samples: list[tuple[float, int]] = field(default_factory=list)

    def poll(self, produced: int | None = None) -> str:
        """Take a sample; return the progress line."""
        with self.sessions() as session:
            every = stage_counts(session)  # counters, not COUNT(*) over growing tables
        counts = every.get(("clean", SENSOR_READINGS), {})
        tables = {
            "steps": every.get(("clean", FUSED), {}).get("emitted", 0),
            "forecasts": every.get(("forecast", FORECASTS), {}).get("rows", 0),
            "alerts": every.get(("alert", ALERTS), {}).get("state_changes", 0),
        }
        now = time.monotonic() - self.started
        self._samples.append((now, counts.get("received", 0)))
        if tables["forecasts"] and self.first_forecast_s is None:
            self.first_forecast_s = now
        if tables["alerts"] and self.first_alert_s is None:
            self.first_alert_s = now
        sent = f"produced {produced:>7} msgs | " if produced is not None else ""
        return (
            f"[{now:6.0f}s] {sent}readings received {counts.get('received', 0):>8} "
            f"processed {counts.get('processed', 0):>8} dup {counts.get('duplicates', 0):>4} "
            f"dead {counts.get('deadlettered', 0):>4} | steps closed {tables['steps']} "
            f"forecast rows {tables['forecasts']} alert changes {tables['alerts']}"
        )

    def catch_up_rate(self) -> tuple[int, float] | None:
        """Readings received and seconds while the clean stage caught up with the backlog.

        The span runs from the first sample with readings to the first sample of the first
        plateau (no change for two further samples), so live trickle and idle time after
        catching up are not counted. The first batch's own time is not seen (the counters
        move per committed batch), which flatters the rate by at most one batch.
        """
        moving = [(t, n) for t, n in self._samples if n]
        for k in range(len(moving) - 2):
            if moving[k][1] == moving[k + 1][1] == moving[k + 2][1]:
                t0, n0 = moving[0]
                t1, n1 = moving[k]
                return (n1 - n0, t1 - t0) if t1 > t0 else None
        return None
