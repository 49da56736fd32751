"""Fixtures shared by the stream tests."""

import pytest

from tests.certificates import Certificates, make_certificates


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """A test CA with server and client certificates (one set per module)."""
    return make_certificates(tmp_path_factory.mktemp("certs"))
