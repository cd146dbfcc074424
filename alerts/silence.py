"""A whole gateway or district gone silent at once (issue #12): one red platform alert to the
district's command staff instead of a signal-lost alert per person, held while it lasts.

A group is silent when at least ``group_silent_share_pct`` % (and at least
``group_silent_min_people``) of its monitored people (active, with an active device) have last
fixes that all fall within ``group_silent_window_min`` of each other, and have been quiet for
``group_silent_after_min`` since. Personal signal-lost alerts of those people are held back while
the platform alert lives; it ends in the first round in which fewer than that many are still silent.

Gateways are looked at before districts. Fixes do not record the gateway that posted them, nor
devices the gateway they report through, so a gateway's people are taken to be the monitored people
of its territory (its district and those below, the only ones it may post for): exact where a
district's devices report through its gateway, and otherwise a larger group than the real one, so
that the rule fires less readily, never on people the gateway does not serve."""

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from alerts import rules, service
from alerts.config import get_alert_settings
from alerts.models import Alert
from caseload import monitoring
from core.wire import AlertLevel


@dataclass(frozen=True)
class Group:
    rule: str
    group_id: int  # the gateway's or the district's id
    district_id: int  # whose command staff see the alert
    gateway_id: int | None
    districts: frozenset[int]  # its people are the monitored people of these

    @property
    def key(self) -> str:
        return rules.group_key(self.rule, self.group_id)


def needed(members: int) -> int:
    """How many of a group's people must be silent together."""
    settings = get_alert_settings()
    return max(settings.group_silent_min_people, math.ceil(settings.group_silent_share_pct / 100 * members))


def cluster(times: Iterable[datetime], span: timedelta) -> tuple[int, datetime, datetime] | None:
    """The most last-fix times within ``span`` of each other (the latest such run on a tie): how many,
    the first and the last."""
    ordered = sorted(times)
    best, first = None, 0
    for last in range(len(ordered)):
        while ordered[last] - ordered[first] > span:
            first += 1
        if best is None or last - first + 1 >= best[0]:
            best = (last - first + 1, ordered[first], ordered[last])
    return best


def _groups(session: Session, districts: Iterable[int]) -> list[Group]:
    gateways = [
        Group(rules.GATEWAY_SILENT, gid, district_id, gid, territory)
        for gid, (district_id, territory) in sorted(monitoring.gateway_territories(session=session).items())
    ]
    return gateways + [Group(rules.DISTRICT_SILENT, d, d, None, frozenset({d})) for d in sorted(set(districts))]


def _live(session: Session) -> dict[str, Alert]:
    return {
        a.dedup_key: a
        for rule in (rules.GATEWAY_SILENT, rules.DISTRICT_SILENT)
        for a in service.live_alerts(session=session, rule=rule)
    }


def check(
    *, session: Session, now: datetime, silent: dict[int, datetime], allow_new: bool
) -> tuple[list[service.AlertChange], set[int]]:
    """Raise, keep or end the platform alerts of silent groups, from the people quiet for over
    ``group_silent_after_min`` (id → last fix). Returns the changes and whose personal alerts to hold
    back. ``allow_new`` False (a platform outage is open) only keeps or ends the live ones."""
    settings = get_alert_settings()
    span = timedelta(minutes=settings.group_silent_window_min)
    after = timedelta(minutes=settings.group_silent_after_min)
    district_of = monitoring.monitored_districts(session=session, supervisee_ids=list(silent))
    live = _live(session)
    groups = _groups(session, [*district_of.values(), *(a.district_id for a in live.values() if a.gateway_id is None)])
    counts = monitoring.monitored_counts(
        session=session, district_ids=list(set().union(*(g.districts for g in groups)))
    )
    changes: list[service.AlertChange] = []
    held: set[int] = set()
    for group in groups:
        quiet = {sid: silent[sid] for sid, d in district_of.items() if d in group.districts and sid not in held}
        need = needed(sum(counts.get(d, 0) for d in group.districts))
        alert = live.pop(group.key, None)
        if alert is not None:
            first = alert.evidence.get("first", {})
            lo, hi = datetime.fromisoformat(first["silent_from"]), datetime.fromisoformat(first["silent_until"])
            still = {sid for sid, ts in quiet.items() if lo <= ts <= hi}
            if len(still) >= need:
                held |= still
                continue
            evidence = {"still_silent": len(still), "needed": need}
            change = service.end_episode(
                session=session, key=group.key, at=max(now, alert.started_at), evidence=evidence
            )
            changes += [change] if change else []
            continue
        if not allow_new or len(quiet) < need:
            continue
        count, lo, hi = cluster(quiet.values(), span)
        if count < need:
            continue
        evidence = {
            "district_id": group.district_id,
            "gateway_id": group.gateway_id,
            "members": sum(counts.get(d, 0) for d in group.districts),
            "silent": count,
            "silent_from": lo.isoformat(),
            "silent_until": hi.isoformat(),
        }
        change = service.raise_alert(
            session=session,
            supervisee_id=None,
            zone_id=None,
            rule=group.rule,
            level=AlertLevel.red,
            key=group.key,
            at=hi + after,
            evidence=evidence,
            district_id=group.district_id,
            gateway_id=group.gateway_id,
        )
        if change is not None:
            changes.append(change)
            held |= {sid for sid, ts in quiet.items() if lo <= ts <= hi}
    for alert in live.values():  # its gateway was deactivated meanwhile
        change = service.end_episode(
            session=session, key=alert.dedup_key, at=max(now, alert.started_at), evidence={"group": "gone"}
        )
        changes += [change] if change else []
    return changes, held
