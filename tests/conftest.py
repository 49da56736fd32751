"""Session fixtures shared by every test folder: the real broker, PostgreSQL and a worker.

They start once per test session (embedded unless settings name external services); see
``tests/integration/conftest.py`` for how.
"""

from collections.abc import Iterator
from subprocess import Popen

import pytest

from tests.integration.conftest import Services, running_services, running_worker


@pytest.fixture(scope="session")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    with running_services(tmp_path_factory.mktemp("state")) as running:
        yield running


@pytest.fixture(scope="session")
def worker(services: Services) -> Iterator[Popen[bytes]]:
    """A real Faust worker process running every stage."""
    with running_worker(services) as process:
        yield process
