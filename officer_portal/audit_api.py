"""The auditors' API: the audit chain, filtered and paged as JSON or exported as CSV, and its verification;
and the alert history with every transition, searched and exported as CSV or JSON.

The chain: auditors and admins only. An admin, and an auditor of a top-level district, see every entry
(the platform-wide ones too); an auditor of a lower district sees the entries filed under its subtree
(officers' actions there and reads of its people's positions). The alert history: auditors, command
and admins, each within the alerts they may see anyway (alerts.service's scope). Every read of the
chain and every export is audited too."""

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session

from alerts import service as alerts_service
from alerts.models import Alert, AlertEvent, AlertStatus
from alerts.schemas import AlertOut
from caseload import scope as caseload_scope
from caseload import service as caseload_service
from caseload.auth import require_roles
from caseload.models import Officer
from core import audit
from core.db import session_scope
from core.errors import Invalid
from core.security import Role
from core.timezones import Moment, display_tz
from core.web import SessionDep
from core.wire import AlertLevel

router = APIRouter(prefix="/audit", tags=["audit"])
Auditor = Annotated[Officer, Depends(require_roles(Role.auditor, Role.admin))]
# Who reads the alert history: the auditors, and the command centre over its districts.
OVERSEERS = frozenset({Role.auditor, Role.command, Role.admin})
Overseer = Annotated[Officer, Depends(require_roles(*OVERSEERS))]
PAGE_MAX = 1000
CSV_COLUMNS = (
    "id",
    "at",
    "actor",
    "action",
    "entity",
    "entity_id",
    "district_id",
    "detail",
    "prev_hash",
    "hash",
    "seal",
)


class EntryOut(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str
    district_id: int | None
    detail: dict[str, Any]
    prev_hash: str
    hash: str
    seal: str | None


class PageOut(BaseModel):
    entries: list[EntryOut]
    # Pass as after_id for the next page; None on the last page.
    next_after_id: int | None


class VerifyOut(BaseModel):
    intact: bool
    problems: list[str]
    # What the app's database role could still do to audit_log (empty when the table is guarded).
    app_role_can: list[str]
    # The newest entry with a seal (the chain is sealed up to it), and the newest checkpoint kept
    # outside the database (entries after it could be cut off unseen until the next one).
    sealed_up_to_id: int | None = None
    sealed_up_to_at: datetime | None = None
    last_checkpoint_id: int | None = None
    last_checkpoint_at: datetime | None = None
    last_checkpoint_count: int | None = None


def check_period(from_: datetime | None, to: datetime | None) -> None:
    """Both ends of a search's time range need a time zone, and 'from' comes first."""
    if from_ is not None and to is not None and from_ >= to:
        raise Invalid("'from' must be before 'to'")
    for name, moment in (("from", from_), ("to", to)):
        if moment is not None and moment.tzinfo is None:
            raise Invalid(f"'{name}' needs a time zone, e.g. 2026-12-03T08:00:00+08:00")


def audit_filters(
    session: SessionDep,
    viewer: Auditor,
    actor: str | None = None,
    action: str | None = None,
    entity: str | None = None,
    entity_id: str | None = None,
    from_: Annotated[datetime | None, Query(alias="from")] = None,
    to: Annotated[datetime | None, Query()] = None,
) -> audit.Filters:
    """The chain's search within the viewer's districts (see the module's docstring)."""
    check_period(from_, to)
    own = caseload_scope.require_district_visible(session, viewer, viewer.district_id)
    everything = viewer.role == Role.admin or own.parent_id is None
    districts = None if everything else caseload_scope.district_subtree(session=session, district_id=own.id)
    return audit.Filters(actor, action, entity, entity_id, from_, to, districts)


Filters = Annotated[audit.Filters, Depends(audit_filters)]


def _wants_csv(request: Request, format: str | None) -> bool:
    return format == "csv" or (format is None and "text/csv" in request.headers.get("accept", ""))


@router.get("", response_model=PageOut, responses={200: {"content": {"text/csv": {}}}})
def list_entries(
    request: Request,
    session: SessionDep,
    viewer: Auditor,
    filters: Filters,
    format: Literal["json", "csv"] | None = None,
    after_id: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 100,
):
    """Audit entries matching the filters, oldest first: a page of JSON, or every one as CSV
    (``?format=csv`` or ``Accept: text/csv``, streamed). Each entry carries its hash and seal."""
    as_csv = _wants_csv(request, format)
    asked = {k: v for k, v in request.query_params.items() if k not in ("format",)}
    caseload_service.record(
        session, viewer, "audit.export" if as_csv else "audit.read", viewer.district_id, {"query": asked}
    )
    session.commit()
    if as_csv:
        return StreamingResponse(
            _csv_rows(filters),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="ewall-audit.csv"'},
        )
    rows = audit.list_entries(session, filters=filters, after_id=after_id, limit=limit)
    return PageOut(
        entries=[EntryOut.model_validate(r, from_attributes=True) for r in rows],
        next_after_id=rows[-1].id if len(rows) == limit else None,
    )


def _csv_rows(filters: audit.Filters) -> Iterator[str]:
    # Its own session: the request's closes when the handler returns, before the body is streamed.
    # Times in the display time zone, with their offset.
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    with session_scope() as session:
        for n, row in enumerate(audit.iter_entries(session, filters=filters), 1):
            writer.writerow(
                [
                    row.id,
                    row.at.astimezone(display_tz()).isoformat(),
                    *(row.actor, row.action, row.entity, row.entity_id, row.district_id),
                    orjson.dumps(row.detail).decode(),
                    *(row.prev_hash, row.hash, row.seal),
                ]
            )
            if n % 500 == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue()


@router.get("/verify", response_model=VerifyOut)
def verify(session: SessionDep, viewer: Auditor) -> VerifyOut:
    """Walk the whole chain against its seals and the checkpoints kept outside the database."""
    problems = audit.verify(session)
    powers = audit.tamper_powers(session)
    sealed, point = audit.sealed_head(session), audit.last_checkpoint()
    caseload_service.record(session, viewer, "audit.verify", viewer.district_id, {"problems": len(problems)})
    session.commit()
    return VerifyOut(
        intact=not problems,
        problems=problems,
        app_role_can=powers,
        sealed_up_to_id=sealed and sealed.id,
        sealed_up_to_at=sealed and sealed.at,
        last_checkpoint_id=point and point.last_id,
        last_checkpoint_at=point and datetime.fromisoformat(point.at),
        last_checkpoint_count=point and point.count,
    )


# The alert history ------------------------------------------------------------------------------------

HISTORY_CHUNK = 500
# Text a search may hold: the database takes no NUL, and the export's query runs only once streaming.
TEXT = r"^[^\x00]*$"
HISTORY_COLUMNS = (
    "alert_id",
    "person_code",
    "person_name",
    "district_id",
    "rule",
    "level",
    "status",
    "started_at",
    "ended_at",
    "assignee",
    "disposition",
    "event_at",
    "event",
    "actor",
    "note",
    "event_detail",
)


class HistoryEventOut(BaseModel):
    at: datetime
    kind: str
    actor: str
    actor_name: str
    detail: dict[str, Any]


class HistoryAlertOut(AlertOut):
    # The person's district (a platform alert's is district_id).
    person_district_id: int | None
    person_code: str | None
    person_name: str | None
    assignee_name: str | None
    events: list[HistoryEventOut]


def history_search(
    session: SessionDep,
    viewer: Overseer,
    person: Annotated[str | None, Query(max_length=120, pattern=TEXT, description="part of a name or code")] = None,
    rule: Annotated[str | None, Query(max_length=40, pattern=TEXT)] = None,
    level: AlertLevel | None = None,
    status: AlertStatus | None = None,
    officer_id: Annotated[int | None, Query(ge=1, le=2**31 - 1, description="the assigned officer")] = None,
    district_id: Annotated[int | None, Query(ge=1, le=2**31 - 1, description="the district and below")] = None,
    from_: Annotated[Moment | None, Query(alias="from")] = None,
    to: Annotated[Moment | None, Query()] = None,
) -> alerts_service.HistorySearch:
    """The alert history's search: a person's name or code, rule, level, status, assigned officer, a
    district (its people's alerts and its platform alerts) and when the alert started."""
    check_period(from_, to)
    people = districts = None
    if person or district_id is not None:
        people = caseload_service.matching_supervisee_ids(
            session=session, viewer=viewer, text=person, district_id=district_id
        )
    if district_id is not None and not person:
        districts = caseload_scope.district_subtree(session=session, district_id=district_id)
    return alerts_service.HistorySearch(people, districts, rule or None, level, status, officer_id, from_, to)


HistorySearch = Annotated[alerts_service.HistorySearch, Depends(history_search)]


def actor_name(actor: str, officers: dict[int, tuple[str, str]]) -> str:
    """ "officer:<id>" as the officer's username and name; the system and addresses as they are."""
    if actor == alerts_service.SYSTEM:
        return "系统 system"
    kind, _, ident = actor.partition(":")
    if kind == "officer" and ident.isdigit() and int(ident) in officers:
        username, full_name = officers[int(ident)]
        return f"{full_name} ({username})"
    return actor


def officer_ids(actors: Iterable[str]) -> set[int]:
    """The officers named by audit or alert-event actors ("officer:<id>")."""
    return {int(a.split(":", 1)[1]) for a in actors if a.startswith("officer:") and a.split(":", 1)[1].isdigit()}


def with_transitions(session: Session, alerts: list[Alert]) -> list[HistoryAlertOut]:
    """The alerts with their people's and officers' names and every transition, for display or export."""
    events = alerts_service.events_by_alert(session=session, alert_ids=[a.id for a in alerts])
    people = caseload_service.supervisee_names(
        session=session, supervisee_ids=[a.supervisee_id for a in alerts if a.supervisee_id is not None]
    )
    profiles = caseload_service.risk_profiles(session=session, supervisee_ids=list(people))
    districts = {sid: district for sid, (district, _risk) in profiles.items()}
    named = officer_ids(e.actor for es in events.values() for e in es)
    named |= {a.assignee_id for a in alerts if a.assignee_id is not None}
    officers = caseload_service.officer_names(session=session, officer_ids=list(named))
    return [_history_out(a, events[a.id], people, districts, officers) for a in alerts]


def _history_out(
    alert: Alert, events: list[AlertEvent], people: dict, districts: dict, officers: dict
) -> HistoryAlertOut:
    code, name = people.get(alert.supervisee_id, (None, None))
    assignee = officers.get(alert.assignee_id)
    return HistoryAlertOut(
        **AlertOut.model_validate(alert).model_dump(),
        person_district_id=districts.get(alert.supervisee_id),
        person_code=code,
        person_name=name,
        assignee_name=assignee and f"{assignee[1]} ({assignee[0]})",
        events=[
            HistoryEventOut(
                at=e.at, kind=e.kind, actor=e.actor, actor_name=actor_name(e.actor, officers), detail=e.detail
            )
            for e in events
        ],
    )


@router.get(
    "/alerts",
    response_model=list[HistoryAlertOut],
    responses={200: {"content": {"text/csv": {}}}},
    tags=["audit"],
)
def export_alert_history(
    request: Request,
    session: SessionDep,
    viewer: Overseer,
    search: HistorySearch,
    format: Literal["json", "csv"] | None = None,
):
    """Every alert matching the search with every transition (opened, level raised, ended,
    acknowledged, escalated, resolved: who, when, note), newest first, streamed: JSON, or CSV
    (``?format=csv`` or ``Accept: text/csv``) with one row per transition and times in the display time zone."""
    as_csv = _wants_csv(request, format)
    asked = {k: v for k, v in request.query_params.items() if k != "format"}
    viewer_id = viewer.id
    detail = {"query": asked, "format": "csv" if as_csv else "json"}
    caseload_service.record(session, viewer, "audit.alert_export", viewer.district_id, detail)
    session.commit()
    if as_csv:
        return StreamingResponse(
            _history_csv(viewer_id, search),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="ewall-alert-history.csv"'},
        )
    return StreamingResponse(
        _history_json(viewer_id, search),
        media_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="ewall-alert-history.json"'},
    )


def _history_chunks(viewer_id: int, search: alerts_service.HistorySearch) -> Iterator[list[HistoryAlertOut]]:
    # Its own session: the request's closes when the handler returns, before the body is streamed.
    with session_scope() as session:
        viewer = session.get(Officer, viewer_id)
        chunk: list[Alert] = []
        for alert in alerts_service.iter_history(session=session, viewer=viewer, search=search):
            chunk.append(alert)
            if len(chunk) == HISTORY_CHUNK:
                yield with_transitions(session, chunk)
                chunk = []
        if chunk:
            yield with_transitions(session, chunk)


def _history_json(viewer_id: int, search: alerts_service.HistorySearch) -> Iterator[bytes]:
    yield b"["
    first = True
    for chunk in _history_chunks(viewer_id, search):
        for alert in chunk:
            yield (b"" if first else b",") + alert.model_dump_json().encode()
            first = False
    yield b"]"


def _local(moment: datetime | None) -> str:
    return moment.astimezone(display_tz()).isoformat() if moment else ""


def _history_csv(viewer_id: int, search: alerts_service.HistorySearch) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HISTORY_COLUMNS)
    for chunk in _history_chunks(viewer_id, search):
        for a in chunk:
            alert_fields = [
                *(a.id, a.person_code or "", a.person_name or "", a.district_id or a.person_district_id),
                *(a.rule, a.level.value, a.status.value, _local(a.started_at), _local(a.ended_at)),
                *(a.assignee_name or "", a.disposition.value if a.disposition else ""),
            ]
            for e in a.events:
                note, detail = e.detail.get("note") or "", orjson.dumps(e.detail).decode()
                writer.writerow([*alert_fields, _local(e.at), e.kind, e.actor_name, note, detail])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()
