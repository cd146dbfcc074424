"""The alert queue as officers work it: filtered and sorted on the server, one page at a time, red
first unless asked otherwise. Scoped like ``GET /api/v1/alerts`` (alerts.service.visible_to)."""

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from alerts.models import Alert, AlertStatus
from alerts.service import visible_to
from caseload import scope as caseload_scope
from caseload.models import Officer
from core.errors import Invalid
from core.wire import AlertLevel


class QueueSort(enum.StrEnum):
    level = "level"
    started = "started"
    rule = "rule"
    status = "status"
    officer = "officer"


class QueueStatus(enum.StrEnum):
    """What the status filter offers: the three statuses, everything not resolved, or all."""

    unresolved = "unresolved"
    open = "open"
    acknowledged = "acknowledged"
    resolved = "resolved"
    all = "all"


# The enums are declared yellow < red and open < acknowledged < resolved, so their order is useful.
SORT_COLUMNS = {
    QueueSort.level: Alert.level,
    QueueSort.started: Alert.started_at,
    QueueSort.rule: Alert.rule,
    QueueSort.status: Alert.status,
    QueueSort.officer: Alert.assignee_id,
}


@dataclass(frozen=True)
class QueueCriteria:
    level: AlertLevel | None = None
    rule: str | None = None
    status: QueueStatus = QueueStatus.unresolved
    officer_id: int | None = None
    district_id: int | None = None
    started_from: datetime | None = None
    started_to: datetime | None = None
    sort: QueueSort = QueueSort.level
    descending: bool = True


def _filters(session: Session, viewer: Officer, criteria: QueueCriteria) -> list:
    if criteria.started_from and criteria.started_to and criteria.started_from >= criteria.started_to:
        raise Invalid("开始时间须早于结束时间 'from' must be before 'to'")
    where = [visible_to(session=session, viewer=viewer)]
    if criteria.status == QueueStatus.unresolved:
        where.append(Alert.status != AlertStatus.resolved)
    elif criteria.status != QueueStatus.all:
        where.append(Alert.status == AlertStatus(criteria.status.value))
    if criteria.level is not None:
        where.append(Alert.level == criteria.level)
    if criteria.rule:
        where.append(Alert.rule == criteria.rule)
    if criteria.officer_id is not None:
        where.append(Alert.assignee_id == criteria.officer_id)
    if criteria.district_id is not None:
        district = caseload_scope.require_district_visible(session, viewer, criteria.district_id)
        people = caseload_scope.supervisee_ids_in_district(session=session, district_id=district.id)
        subtree = caseload_scope.district_subtree(session=session, district_id=district.id)
        where.append(or_(Alert.supervisee_id.in_(people), Alert.district_id.in_(subtree)))
    if criteria.started_from is not None:
        where.append(Alert.started_at >= criteria.started_from)
    if criteria.started_to is not None:
        where.append(Alert.started_at < criteria.started_to)
    return where


def list_queue(
    *, session: Session, viewer: Officer, criteria: QueueCriteria, limit: int, offset: int = 0
) -> tuple[Sequence[Alert], int]:
    """One page of the viewer's queue, and how many alerts match in all."""
    where = _filters(session, viewer, criteria)
    column = SORT_COLUMNS[criteria.sort]
    # Newest first within the chosen order, so that a page boundary is stable.
    order = [column.desc() if criteria.descending else column.asc(), Alert.started_at.desc(), Alert.id.desc()]
    rows = session.scalars(select(Alert).where(*where).order_by(*order).limit(limit).offset(offset)).all()
    total = session.scalar(select(func.count()).select_from(Alert).where(*where))
    return rows, total
