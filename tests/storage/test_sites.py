"""Site metadata in Postgres: the local calendar survives the round trip."""

import pytest

from gridbrain.processors.sites import SiteProfile
from gridbrain.storage.sites import site_profiles, upsert_sites
from tests.integration.conftest import Services

pytestmark = pytest.mark.integration


def test_profiles_keep_their_zone_and_holidays(services: Services) -> None:
    sites = [
        SiteProfile(site_id="cal-vic", timezone="Australia/Melbourne", holidays="AU-VIC"),
        SiteProfile(site_id="cal-utc", timezone="UTC"),
    ]
    with services.sessions.begin() as session:
        upsert_sites(session, sites)
    with services.sessions.begin() as session:
        stored = site_profiles(session, ["cal-vic", "cal-utc", "cal-none"])
    assert stored == {s.site_id: s for s in sites}
    assert stored["cal-vic"].calendar is not None
    assert stored["cal-vic"].calendar.holidays == "AU-VIC"
    with services.sessions.begin() as session:  # a new calendar replaces the old one
        upsert_sites(session, [SiteProfile(site_id="cal-vic", timezone="Australia/Sydney")])
        assert site_profiles(session, ["cal-vic"])["cal-vic"].calendar.holidays is None  # type: ignore[union-attr]


def test_a_calendar_stored_before_it_was_checked_is_left_out(services: Services) -> None:
    from sqlalchemy import text

    with services.sessions.begin() as session:
        session.execute(
            text(
                "INSERT INTO sites (site_id, kind, capacity_kw, timezone, holidays) VALUES "
                "('cal-old', 'pv', 5, 'Mars/Olympus', 'ZZ') ON CONFLICT (site_id) DO NOTHING"
            )
        )
    with services.sessions.begin() as session:
        (old,) = site_profiles(session, ["cal-old"]).values()
    assert (old.kind, old.capacity_kw, old.timezone, old.calendar) == ("pv", 5.0, None, None)
