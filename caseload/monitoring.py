"""Who is monitored, and who answers for a whole district: what the watchdog asks of the caseload
when it tells a person's silence from a gateway's or a district's."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlalchemy.orm import Session

from caseload.models import Device, Gateway, Officer, Supervisee
from caseload.scope import district_subtree
from caseload.service import district_paths
from core.security import Role


def _monitored() -> ColumnElement[bool]:
    """Active people with an active device: the ones whose silence means something."""
    has_device = select(Device.id).where(Device.supervisee_id == Supervisee.id, Device.active).exists()
    return and_(Supervisee.active, has_device)


def never_reported(*, session: Session, reported: Select, registered_before: datetime) -> dict[int, datetime]:
    """Monitored people none of whose devices ever reported (not among ``reported``, another domain's
    subquery of ids), with when their first active device was registered, if before the given time."""
    registered = func.min(Device.created_at)
    rows = session.execute(
        select(Supervisee.id, registered)
        .join(Device, Device.supervisee_id == Supervisee.id)
        .where(Supervisee.active, Device.active, Supervisee.id.not_in(reported))
        .group_by(Supervisee.id)
        .having(registered < registered_before)
    )
    return {sid: at for sid, at in rows}


def monitored_districts(*, session: Session, supervisee_ids: Sequence[int]) -> dict[int, int]:
    """id → district of those among the given people who are monitored."""
    rows = session.execute(
        select(Supervisee.id, Supervisee.district_id).where(Supervisee.id.in_(supervisee_ids), _monitored())
    )
    return {sid: district_id for sid, district_id in rows}


def monitored_counts(*, session: Session, district_ids: Sequence[int]) -> dict[int, int]:
    """district → how many monitored people it has (in itself, not below)."""
    rows = session.execute(
        select(Supervisee.district_id, func.count())
        .where(Supervisee.district_id.in_(district_ids), _monitored())
        .group_by(Supervisee.district_id)
    )
    return dict(rows.all())


def gateway_territories(*, session: Session) -> dict[int, tuple[int, frozenset[int]]]:
    """Each active gateway → (its district, the districts it may post for: that one and below)."""
    gateways = session.execute(select(Gateway.id, Gateway.district_id).where(Gateway.active)).all()
    return {
        gid: (district_id, frozenset(district_subtree(session=session, district_id=district_id)))
        for gid, district_id in gateways
    }


def command_officer_for(*, session: Session, district_id: int, exclude: int | None = None) -> int | None:
    """The nearest active command officer at or above a district (platform alerts go to them)."""
    path = district_paths(session=session, district_ids=[district_id]).get(district_id, [])
    nearness = {d: n for n, d in enumerate(reversed(path))}
    candidates = session.execute(
        select(Officer.id, Officer.district_id).where(
            Officer.active,
            Officer.role == Role.command,
            Officer.district_id.in_(path),
            Officer.id.is_distinct_from(exclude),
        )
    ).all()
    best = min(candidates, key=lambda c: (nearness[c.district_id], c.id), default=None)
    return best.id if best is not None else None
