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
