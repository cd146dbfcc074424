"""Alert thresholds per district and risk level (alert policy).

A person's policy is built in layers, each overriding only the fields it names, the most specific
last: the defaults (alerts/config.py) ← the override for the person's risk level ← the overrides of
their districts, from the root down to their own ← the overrides for their risk level within those
districts, again from the root down."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Annotated

from pydantic import ConfigDict, ValidationError, create_model
from sqlalchemy import func, or_, select, text
from sqlalchemy.orm import Session

from alerts.config import AlertSettings, get_alert_settings
from alerts.models import AlertPolicy
from caseload import scope as caseload_scope
from caseload import service as caseload_service
from caseload.models import Officer, RiskLevel
from core.errors import Forbidden, NotFound
from core.security import Role
from core.wire import AlertLevel

EDITORS = frozenset({Role.supervisor, Role.command, Role.admin})


@dataclass(frozen=True)
class Policy:
    inclusion_red_after_min: int
    inclusion_red_distance_m: float
    signal_lost_yellow_min: int
    signal_lost_red_min: int
    repeat_yellow_count: int
    repeat_yellow_days: int
    ack_sla_red_min: int
    ack_sla_yellow_min: int

    def ack_sla_min(self, level: AlertLevel) -> int:
        """How long an alert of this level may stay unacknowledged before it escalates."""
        return self.ack_sla_red_min if level == AlertLevel.red else self.ack_sla_yellow_min


FIELDS = tuple(f.name for f in fields(Policy))
log = logging.getLogger("ewall.alerts")

# Every Policy field, optional (but never null), within the bounds its setting declares; any other
# name is refused.
Thresholds = create_model(
    "Thresholds",
    __config__=ConfigDict(extra="forbid"),
    **{
        name: (Annotated[declared.annotation, *declared.metadata], None)
        for name, declared in AlertSettings.model_fields.items()
        if name in FIELDS
    },
)


def _within_bounds(policy_id: int, thresholds: dict) -> dict:
    """A stored override's thresholds that are valid now: one saved before the bounds existed may hold a
    value that overflows; it is skipped (its scope falls back to the layers below), never applied."""
    kept = {}
    for name, value in thresholds.items():
        try:
            kept |= Thresholds.model_validate({name: value}).model_dump(exclude_unset=True)
        except ValidationError:
            log.warning("alert policy %s: %s=%r is out of bounds; ignored until corrected", policy_id, name, value)
    return kept


def defaults() -> Policy:
    settings = get_alert_settings()
    return Policy(**{name: getattr(settings, name) for name in FIELDS})


@dataclass(frozen=True)
class Override:
    """One alert_policy row, detached from any session so that it can be cached."""

    id: int
    district_id: int | None
    risk_level: RiskLevel | None
    thresholds: dict
    updated_at: datetime


Scope = tuple[int | None, RiskLevel | None]


class _OverrideCache:
    """The alert_policy table, reloaded when its content checksum changes. The checksum is one query
    over a table of at most a few hundred rows, cheap enough for every call, so an edit takes effect
    in every process at once. (max(updated_at) alone would miss deletions and transactions that
    commit out of timestamp order.)"""

    _CHECKSUM = text("SELECT md5(coalesce(string_agg(p::text, ',' ORDER BY p.id), '')) FROM alert_policy p")

    def __init__(self) -> None:
        # One attribute, replaced whole, so that threads never see a checksum with the wrong rows.
        self._state: tuple[str | None, dict[Scope, Override]] = (None, {})

    def get(self, session: Session) -> dict[Scope, Override]:
        checksum = session.scalar(self._CHECKSUM)
        known, overrides = self._state
        if checksum != known:
            overrides = {
                (r.district_id, r.risk_level): Override(
                    r.id, r.district_id, r.risk_level, _within_bounds(r.id, r.thresholds), r.updated_at
                )
                for r in session.scalars(select(AlertPolicy))
            }
            self._state = (checksum, overrides)
        return overrides


_cache = _OverrideCache()


def _layers(overrides: dict[Scope, Override], path: Sequence[int], risk: RiskLevel) -> list[Override]:
    scopes = [(None, risk), *((d, None) for d in path), *((d, risk) for d in path)]
    return [overrides[scope] for scope in scopes if scope in overrides]


def _apply(base: Policy, layers: Sequence[Override]) -> Policy:
    merged: dict = {}
    for layer in layers:
        merged |= layer.thresholds
    return replace(base, **merged)


def policies_for(*, session: Session, supervisee_ids: Sequence[int]) -> dict[int, Policy]:
    """Each person's policy (the defaults for ids the caseload does not know). A batch costs three
    small queries however many people it holds; with no overrides at all, one."""
    base = defaults()
    overrides = _cache.get(session)
    if not overrides:
        return dict.fromkeys(supervisee_ids, base)
    profiles = caseload_service.risk_profiles(session=session, supervisee_ids=supervisee_ids)
    paths = caseload_service.district_paths(session=session, district_ids=list({d for d, _ in profiles.values()}))
    resolved: dict[tuple[int, RiskLevel], Policy] = {}
    for profile in set(profiles.values()):
        district_id, risk = profile
        resolved[profile] = _apply(base, _layers(overrides, paths[district_id], risk))
    return {sid: resolved[profiles[sid]] if sid in profiles else base for sid in supervisee_ids}


def policy_for(*, session: Session, supervisee_id: int) -> Policy:
    """One person's policy."""
    return policies_for(session=session, supervisee_ids=[supervisee_id])[supervisee_id]


def smallest(*, session: Session, field: str) -> int | float:
    """The lowest value a threshold has for anybody (lets the watchdog pre-select in SQL)."""
    overrides = _cache.get(session).values()
    return min([getattr(defaults(), field), *(o.thresholds[field] for o in overrides if field in o.thresholds)])


def explain(*, session: Session, viewer: Officer, supervisee_id: int) -> tuple[Policy, list[Override]]:
    """A person's policy and the overrides it was built from, in the order they apply."""
    person = caseload_service.get_supervisee(session=session, viewer=viewer, supervisee_id=supervisee_id)
    path = caseload_service.district_paths(session=session, district_ids=[person.district_id])[person.district_id]
    layers = _layers(_cache.get(session), path, person.risk_level)
    return _apply(defaults(), layers), layers


# Editing overrides --------------------------------------------------------------------------------


def list_overrides(
    *, session: Session, viewer: Officer, limit: int | None = None, offset: int = 0
) -> Sequence[AlertPolicy]:
    """Overrides of the viewer's districts, and the risk-level ones that apply everywhere."""
    query = (
        select(AlertPolicy)
        .order_by(AlertPolicy.district_id.nulls_first(), AlertPolicy.risk_level.nulls_first(), AlertPolicy.id)
        .limit(limit)
        .offset(offset)
    )
    visible = caseload_scope.visible_district_ids(session=session, viewer=viewer)
    if visible is not None:
        query = query.where(or_(AlertPolicy.district_id.is_(None), AlertPolicy.district_id.in_(visible)))
    return session.scalars(query).all()


def _require_editor(session: Session, viewer: Officer, district_id: int | None) -> None:
    if viewer.role not in EDITORS:
        raise Forbidden(f"role '{viewer.role}' cannot change alert policies; ask a supervisor")
    if district_id is None:
        if viewer.role != Role.admin:
            raise Forbidden("an override without a district applies in every district; only an admin can set it")
    else:
        caseload_scope.require_district_visible(session, viewer, district_id)


def upsert(
    *, session: Session, viewer: Officer, district_id: int | None, risk_level: RiskLevel | None, thresholds: dict
) -> AlertPolicy:
    """Set the override of one scope (district, risk level or both), replacing its thresholds."""
    _require_editor(session, viewer, district_id)
    row = session.scalar(
        select(AlertPolicy)
        .where(
            AlertPolicy.district_id.is_not_distinct_from(district_id),
            AlertPolicy.risk_level.is_not_distinct_from(risk_level),
        )
        .with_for_update()
    )
    previous = row.thresholds if row is not None else None
    if row is None:
        row = AlertPolicy(district_id=district_id, risk_level=risk_level)
        session.add(row)
    row.thresholds = thresholds
    row.updated_at = func.now()
    session.flush()
    caseload_service.record(
        session,
        viewer,
        "alert_policy.update",
        row.id,
        {"district_id": district_id, "risk_level": risk_level, "thresholds": thresholds, "previous": previous},
    )
    return row


def delete(*, session: Session, viewer: Officer, policy_id: int) -> None:
    """Remove an override; its scope falls back to the layers below it."""
    row = session.get(AlertPolicy, policy_id)
    if row is None:
        raise NotFound(f"alert policy {policy_id} not found")
    _require_editor(session, viewer, row.district_id)
    detail = {"district_id": row.district_id, "risk_level": row.risk_level, "previous": row.thresholds}
    session.delete(row)
    session.flush()
    caseload_service.record(session, viewer, "alert_policy.delete", policy_id, detail)
