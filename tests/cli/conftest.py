"""Files the command-line tests share."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest


@pytest.fixture
def prices(tmp_path: Path) -> tuple[Path, Path]:
    """150 days of hourly prices: cheap nights, dear evenings, noise; a DST change inside."""
    hours = pd.date_range("2018-01-01", periods=150 * 24, freq="h", tz="UTC")
    rng = np.random.default_rng(3)
    local = hours.tz_convert("Europe/Madrid").hour.to_numpy()
    shape = np.where(local < 6, 20.0, np.where((local >= 18) & (local < 22), 90.0, 50.0))
    frame = pd.DataFrame(
        {
            "time": hours.tz_convert("Europe/Madrid").strftime("%Y-%m-%d %H:%M:%S%z"),
            "final": shape + rng.normal(0, 5, len(hours)),
            "day ahead": shape + rng.normal(0, 10, len(hours)),
        }
    )
    csv = tmp_path / "prices.csv"
    frame.to_csv(csv, index=False)
    mapping = tmp_path / "prices.yaml"
    mapping.write_text(
        "time_column: time\nsite_id: mkt\n"
        "columns:\n  final: {quantity: price, unit: EUR/MWh}\n"
        "sites:\n  - {site_id: mkt, timezone: Europe/Madrid}\n"
    )
    return csv, mapping
