"""A site's local clock and public holidays, as the models read them."""

import holidays
import numpy as np
import pandas as pd
import pytest

from gridbrain.processors.forecast.local_calendar import LocalCalendar, local_features

MELBOURNE = LocalCalendar("Australia/Melbourne", "AU-VIC")


def _ms(text: str) -> int:
    return int(pd.Timestamp(text).value // 1_000_000)


@pytest.mark.parametrize(
    "zone",
    [
        "Australia/Melbourne",  # southern DST
        "Europe/Madrid",
        "America/St_Johns",  # -3:30 / -2:30
        "Asia/Kathmandu",  # +5:45
        "Australia/Lord_Howe",  # a half-hour DST shift
        "Pacific/Apia",  # skipped a whole day in 2011
        "UTC",
    ],
)
def test_local_clock_matches_pandas_everywhere(zone: str) -> None:
    rng = np.random.default_rng(7)
    ts = np.sort(rng.integers(_ms("1990-01-01"), _ms("2036-12-31"), 5_000))
    features = LocalCalendar(zone).features(ts)
    local = pd.to_datetime(ts, unit="ms", utc=True).tz_convert(zone)
    seconds = local.second + local.microsecond / 1e6
    assert np.allclose(features[:, 0], local.hour + local.minute / 60 + seconds / 3600)
    assert (features[:, 1] == local.day_of_week).all()
    assert np.isnan(features[:, 2]).all()  # no holiday calendar: unknown, not "no holiday"


def test_daylight_saving_moves_the_local_hour_not_the_utc_one() -> None:
    # Melbourne left DST on 2014-04-06 at 03:00 AEDT (16:00 UTC the day before).
    before, after = MELBOURNE.features(
        np.array([_ms("2014-04-05T12:00Z"), _ms("2014-04-06T12:00Z")])
    )
    assert (before[0], after[0]) == (23.0, 22.0)  # UTC+11 then UTC+10


def test_holidays_fall_on_the_local_date() -> None:
    ts = np.array(
        [
            _ms("2014-12-24T12:00Z"),  # 23:00 on Christmas Eve in Melbourne
            _ms("2014-12-24T13:00Z"),  # 00:00 on Christmas Day
            _ms("2014-11-03T13:00Z"),  # Melbourne Cup day (Victoria only), 00:00
            _ms("2014-11-05T01:00Z"),  # the day after
        ]
    )
    assert MELBOURNE.features(ts)[:, 2].tolist() == [0.0, 1.0, 1.0, 0.0]
    sydney = LocalCalendar("Australia/Sydney", "AU-NSW").features(ts[2:3])
    assert sydney[0, 2] == 0.0  # the Cup is not a holiday in New South Wales
    spain = LocalCalendar("Europe/Madrid", "ES").features(np.array([_ms("2018-10-12T10:00Z")]))
    assert spain[0, 2] == 1.0  # Fiesta Nacional


def test_holidays_over_many_years_and_year_boundaries_match_the_calendar() -> None:
    ts = np.arange(_ms("2009-12-31T00:00Z"), _ms("2031-01-02T00:00Z"), 3_600_000)
    holiday = LocalCalendar("Europe/Madrid", "ES").features(ts)[:, 2]
    local = pd.to_datetime(ts, unit="ms", utc=True).tz_convert("Europe/Madrid")
    days = holidays.country_holidays("ES", years=range(2009, 2032))
    expected = np.array([d in days for d in local.date])
    assert (holiday == expected).all()
    assert 8 * 21 <= np.sum(holiday) / 24 <= 14 * 21  # national days of 21 years


@pytest.mark.parametrize(
    ("zone", "code"),
    [("Mars/Olympus", None), ("", None), ("UTC", "XX"), ("UTC", "AU-XX"), ("../etc", None)],
)
def test_unknown_zones_and_calendars_are_refused(zone: str, code: str | None) -> None:
    with pytest.raises(ValueError, match="unknown"):
        LocalCalendar(zone, code)


def test_windows_without_a_calendar_read_unknown() -> None:
    target = np.array([[_ms("2014-12-24T13:00Z")]] * 3)
    out = local_features(target, np.array([MELBOURNE, None, LocalCalendar("UTC")], dtype=object))
    assert out[0].tolist() == [[0.0, 3.0, 1.0]]  # Thursday, Christmas Day
    assert np.isnan(out[1]).all()
    assert out[2, 0, :2].tolist() == [13.0, 2.0] and np.isnan(out[2, 0, 2])
    assert np.isnan(local_features(target, None)).all()
