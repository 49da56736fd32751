"""The alert stage's dead-letter ratio when dead letters are read before the site's steps.

The cleaning stage publishes a batch's dead letters and fused steps together, and the
alert stage may read either topic first. In process against the real PostgreSQL.
"""

import json

import pytest
from sqlalchemy import text

from gridbrain.processors.fuse import FusedStep
from gridbrain.settings import Settings
from gridbrain.storage.transaction import InputPosition
from gridbrain.streams.alerting import AlertingStage
from gridbrain.streams.envelope import RawMessage, encode
from gridbrain.streams.topics import DEADLETTER, FUSED, SENSOR_READINGS
from tests.integration.conftest import Services, apply_batch

pytestmark = pytest.mark.integration

SITE = "dl-early"
TS = 1_700_000_100_000
BASE = 10**12  # offsets past any other test's on the shared database


def letter(offset: int) -> bytes:
    """A dead letter as the cleaning stage writes it (the fields the alert stage reads)."""
    item = {"topic": SENSOR_READINGS, "partition": 0, "offset": offset, "item_index": 0}
    return json.dumps({**item, "reason": "unknown_unit"}).encode()


def letters(count: int, site: str, first: int = BASE) -> list[RawMessage]:
    """Dead letters of ``site``, each new (after whatever the stage applied before)."""
    return [
        RawMessage(InputPosition(DEADLETTER, 0, offset), site.encode(), letter(offset))
        for offset in range(first, first + count)
    ]


def firing(services: Services, site: str) -> list[str]:
    with services.sessions() as session:
        return list(
            session.scalars(
                text(
                    "SELECT state FROM alerts WHERE site_id = :s AND rule = 'deadletter_ratio_high'"
                ),
                {"s": site},
            )
        )


def test_dead_letters_read_before_the_first_step_count_once_it_comes(services: Services) -> None:
    stage = AlertingStage(Settings())
    apply_batch(services, "alert", stage.handle_dead_letters, letters(30, SITE))
    assert firing(services, SITE) == []  # no state is made for a site never seen
    step = FusedStep(SITE, TS, {"load": 5.0}, {}, None, {"load": "ok"}, readings=4)
    fused = RawMessage(InputPosition(FUSED, 0, BASE), SITE.encode(), encode([step.to_dict()]))
    apply_batch(services, "alert", stage.handle_fused, [fused])
    assert firing(services, SITE) == ["firing"]


def test_dead_letters_of_a_made_up_site_make_no_state(services: Services) -> None:
    stage = AlertingStage(Settings())
    apply_batch(services, "alert", stage.handle_dead_letters, letters(30, "made-up", BASE + 100))
    with services.sessions() as session:
        saved = session.scalar(text("SELECT count(*) FROM site_state WHERE site_id = 'made-up'"))
    assert saved == 0 and firing(services, "made-up") == []
