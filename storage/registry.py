"""The model registry: versions, back-test metrics, artifacts and promotion."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, defer

from gridbrain.storage.models import RegisteredModel

__all__ = [
    "ModelVersion",
    "load_artifact",
    "model_versions",
    "promote",
    "promoted_versions",
    "register_model",
]


@dataclass(frozen=True)
class ModelVersion:
    """A registered model without its artifact."""

    id: int
    name: str
    version: int
    quantity: str
    kind: str
    sites: list[str] | None
    status: str
    metrics: dict[str, Any]


def _version(row: RegisteredModel) -> ModelVersion:
    return ModelVersion(
        row.id, row.name, row.version, row.quantity, row.kind, row.sites, row.status, row.metrics
    )


def register_model(
    session: Session,
    name: str,
    quantity: str,
    kind: str,
    sites: list[str] | None,
    metrics: dict[str, Any],
    artifact: bytes,
) -> ModelVersion:
    """Store a new version of ``name`` (the next number) as a candidate."""
    latest = session.scalar(
        select(func.max(RegisteredModel.version)).where(RegisteredModel.name == name)
    )
    row = RegisteredModel(
        name=name,
        version=(latest or 0) + 1,
        quantity=quantity,
        kind=kind,
        sites=sorted(sites) if sites else None,
        status="candidate",
        metrics=metrics,
        artifact=artifact,
    )
    session.add(row)
    session.flush()
    return _version(row)


def promote(session: Session, model_id: int) -> None:
    """Make a version the one serving its quantity and site group; retire the previous one."""
    row = session.get_one(RegisteredModel, model_id)
    session.execute(
        update(RegisteredModel)
        .where(
            RegisteredModel.quantity == row.quantity,
            RegisteredModel.status == "promoted",
            RegisteredModel.id != row.id,
            (RegisteredModel.sites == row.sites)
            if row.sites is not None
            else RegisteredModel.sites.is_(None),
        )
        .values(status="retired")
    )
    row.status = "promoted"
    row.promoted_at = func.now()


def promoted_versions(session: Session, quantity: str | None = None) -> list[ModelVersion]:
    """The versions now serving (all quantities, or one)."""
    query = (
        select(RegisteredModel)
        .options(defer(RegisteredModel.artifact))
        .where(RegisteredModel.status == "promoted")
    )
    if quantity is not None:
        query = query.where(RegisteredModel.quantity == quantity)
    return [_version(r) for r in session.scalars(query.order_by(RegisteredModel.id))]


def model_versions(session: Session) -> list[ModelVersion]:
    """Every registered version, newest first."""
    rows = session.scalars(
        select(RegisteredModel)
        .options(defer(RegisteredModel.artifact))
        .order_by(RegisteredModel.id.desc())
    )
    return [_version(r) for r in rows]


def load_artifact(session: Session, model_id: int) -> bytes:
    """The stored artifact of a version."""
    return session.get_one(RegisteredModel, model_id).artifact
