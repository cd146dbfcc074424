"""Admin-only operations API: the dead-letter queues (list, replay after a fix)."""

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, Field, model_validator

from caseload.auth import AdminOfficer
from caseload.service import actor
from core import dlq
from core.bus import BrokerUnavailable
from core.web import SessionDep, StaffPage

router = APIRouter(prefix="/admin", tags=["admin"])


class SourceOffset(BaseModel):
    partition: int | None = Field(None, description="the source partition; any when omitted")
    offset: int


class ReplayIn(BaseModel):
    topic: str | None = Field(None, description="one source topic, e.g. fixes.v1; all when omitted")
    offsets: list[SourceOffset] | None = Field(None, description="source records to replay, as listed")
    all: bool = Field(False, description="replay every record not replayed yet")

    @model_validator(mode="after")
    def one_selection(self) -> "ReplayIn":
        if (self.offsets is None) == (not self.all):
            raise ValueError("give either 'offsets' or 'all': true")
        return self


class ReplayOut(BaseModel):
    matched: int
    replayed: int
    already: int


def _topics(topic: str | None) -> tuple[str, ...]:
    try:
        return dlq.topics_named(topic)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, detail=str(exc)) from exc


def _broker_down(exc: BrokerUnavailable) -> HTTPException:
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE, detail=f"{exc}; try again shortly", headers={"Retry-After": "5"}
    )


@router.get("/dlq")
def list_dlq(session: SessionDep, _: AdminOfficer, page: StaffPage, topic: str | None = None) -> list[dict]:
    """Dead-lettered records with source position, consumer group, error, time, value (base64) and replay status."""
    try:
        entries = dlq.list_entries(session=session, topics=_topics(topic))
        return [e.as_dict() for e in entries[page.offset : page.offset + page.limit]]
    except BrokerUnavailable as exc:
        raise _broker_down(exc) from exc


@router.post("/dlq/replay", response_model=ReplayOut)
def replay_dlq(data: ReplayIn, request: Request, session: SessionDep, admin: AdminOfficer) -> ReplayOut:
    """Republish dead-lettered records to their source partitions; each source record is replayed once."""
    offsets = None if data.all else [(o.partition, o.offset) for o in data.offsets or []]
    try:
        entries = dlq.select_entries(dlq.list_entries(session=session, topics=_topics(data.topic)), offsets=offsets)
        result, _ = dlq.replay(
            session=session, publisher=request.app.state.publisher, entries=entries, actor=actor(admin)
        )
    except BrokerUnavailable as exc:
        raise _broker_down(exc) from exc
    session.commit()
    return ReplayOut(matched=result.matched, replayed=result.replayed, already=result.already)
