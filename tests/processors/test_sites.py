"""Site profiles as users write them: the local calendar part."""

import pytest
from pydantic import ValidationError

from gridbrain.processors.forecast.local_calendar import LocalCalendar
from gridbrain.processors.sites import SiteProfile


def test_a_site_with_a_zone_and_holidays_has_a_calendar() -> None:
    site = SiteProfile(site_id="vic", timezone="Australia/Melbourne", holidays="AU-VIC")
    assert site.calendar == LocalCalendar("Australia/Melbourne", "AU-VIC")
    assert SiteProfile(site_id="x", timezone="UTC").calendar == LocalCalendar("UTC")
    assert SiteProfile(site_id="x").calendar is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"timezone": "Europe/Madrid\x00"}, "unknown time zone"),
        ({"timezone": "UTC", "holidays": "ZZ"}, "unknown holiday calendar"),
        ({"timezone": "UTC", "holidays": "ES-" + "X" * 500}, "unknown holiday calendar"),
        ({"holidays": "ES"}, "holidays need the site's timezone"),
        ({"timezone": "UTC", "holidays": 7}, "valid string"),
        ({"timezone": ["UTC"]}, "valid string"),
        ({"timezone": "UTC", "holidays": "E\udcffS"}, "unknown holiday calendar"),  # not UTF-8
    ],
)
def test_unknown_or_incomplete_calendars_are_refused(
    fields: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        SiteProfile(site_id="x", **fields)
