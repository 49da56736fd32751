from pathlib import Path

import pytest
from pydantic import ValidationError

from gridbrain.settings import Settings


def test_env_prefix_and_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDBRAIN_STATE_DIR", "/tmp/gb")
    monkeypatch.setenv("GRIDBRAIN_DATABASE_URL", "postgresql://u:hunter2@db/x")
    monkeypatch.setenv("GRIDBRAIN_STEP_MINUTES", "5")
    settings = Settings()
    assert settings.state_dir == Path("/tmp/gb")
    assert settings.step_ms == 300_000
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings.model_dump())
    assert settings.database_url is not None
    assert settings.database_url.get_secret_value().endswith("@db/x")


def test_frozen_and_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings()
    with pytest.raises(ValidationError):
        settings.step_minutes = 3  # type: ignore[misc]
    monkeypatch.setenv("GRIDBRAIN_DEVICE", "tpu")
    with pytest.raises(ValidationError):
        Settings()
