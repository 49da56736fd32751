"""The migrations build exactly the schema the typed models describe."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from gridbrain.storage.models import Base
from tests.integration.conftest import Services

pytestmark = pytest.mark.integration


def test_migrated_schema_matches_the_models(services: Services) -> None:
    with services.sessions() as session:
        context = MigrationContext.configure(session.connection())
        differences = compare_metadata(context, Base.metadata)
    assert differences == []
