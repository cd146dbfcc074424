"""The auditors' API: the audit chain, filtered and paged as JSON or exported as CSV, and its verification.

Auditors and admins only. An admin, and an auditor of a top-level district, see every entry (the
platform-wide ones too); an auditor of a lower district sees the entries filed under its subtree
(officers' actions there and reads of its people's positions). Every read of the chain is audited too."""

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from caseload import scope as caseload_scope
from caseload import service as caseload_service
from caseload.auth import require_roles
from caseload.models import Officer
from core import audit
from core.db import session_scope
from core.errors import Invalid
from core.security import Role
from core.timezones import display_tz
from core.web import SessionDep

router = APIRouter(prefix="/audit", tags=["audit"])
Auditor = Annotated[Officer, Depends(require_roles(Role.auditor, Role.admin))]
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


def _filters(
    session: SessionDep,
    viewer: Auditor,
    actor: str | None = None,
    action: str | None = None,
    entity: str | None = None,
    entity_id: str | None = None,
    from_: Annotated[datetime | None, Query(alias="from")] = None,
    to: Annotated[datetime | None, Query()] = None,
) -> audit.Filters:
    if from_ is not None and to is not None and from_ >= to:
        raise Invalid("'from' must be before 'to'")
    for name, moment in (("from", from_), ("to", to)):
        if moment is not None and moment.tzinfo is None:
            raise Invalid(f"'{name}' needs a time zone, e.g. 2026-12-03T08:00:00+08:00")
    own = caseload_scope.require_district_visible(session, viewer, viewer.district_id)
    everything = viewer.role == Role.admin or own.parent_id is None
    districts = None if everything else caseload_scope.district_subtree(session=session, district_id=own.id)
    return audit.Filters(actor, action, entity, entity_id, from_, to, districts)


Filters = Annotated[audit.Filters, Depends(_filters)]


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
    caseload_service.record(session, viewer, "audit.verify", viewer.district_id, {"problems": len(problems)})
    session.commit()
    return VerifyOut(intact=not problems, problems=problems, app_role_can=powers)
