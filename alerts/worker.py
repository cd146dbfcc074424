"""Alerts worker: zone-events.v1 and roll-call outcomes (rollcall.v1) → alert episodes in PostGIS →
alerts.v1 notifications."""

from datetime import UTC, datetime, timedelta

from kafka.consumer.fetcher import ConsumerRecord

from alerts import policy, rules, service
from alerts.policy import Policy
from alerts.publish import publish_changes
from alerts.service import AlertChange
from core import bus
from core.config import get_settings
from core.db import session_scope
from core.wire import AlertLevel


def _evidence(event: dict, at: datetime, reason: str) -> dict:
    return {key: event[key] for key in ("lat", "lon", "accuracy_m", "distance_m")} | {
        "ts": at.isoformat(),
        "zone_id": event["zone_id"],
        "reason": reason,
    }


def _at(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1e6, tz=UTC)


def episode_key(event: dict) -> str:
    return rules.dedup_key(event["rule"], event["supervisee_id"], event["zone_id"])


def apply_zone_event(session, event: dict, policy: Policy, book: service.EpisodeBook) -> list[AlertChange]:
    """One zone event's effect on its alert episode (and the person's record of yellows)."""
    decision = rules.decide(event, policy)
    key = episode_key(event)
    at = _at(event["ts_us"])
    evidence = _evidence(event, at, decision.reason)
    if not decision.opens:
        change = service.end_episode(session=session, key=key, at=at, evidence=evidence, book=book)
        return [change] if change else []
    return _raise_counting_yellows(
        session,
        event["supervisee_id"],
        event["zone_id"],
        decision.rule,
        decision.level,
        key,
        # The episode began with its first fix on the wrong side, before the dwell confirmed it.
        opened_at=_at(event["started_us"]) if event["kind"] == "opened" else at,
        at=at,
        evidence=evidence,
        policy=policy,
        book=book,
    )


def rollcall_key(event: dict) -> str:
    """One alert per rule, person and roll call."""
    return rules.dedup_key(event["rule"], event["supervisee_id"], event["roll_call_id"])


def apply_rollcall_outcome(session, event: dict, policy: Policy, book: service.EpisodeBook) -> list[AlertChange]:
    """A roll call's outcome (late, missed, identity check failed) as an alert. It has no return: the
    alert stays until an officer resolves it; a replay adds nothing."""
    at = _at(event["ts_us"])
    evidence = {**event.get("evidence", {}), "roll_call_id": event["roll_call_id"], "target_id": event["target_id"]}
    return _raise_counting_yellows(
        session,
        event["supervisee_id"],
        None,
        event["rule"],
        AlertLevel(event["level"]),
        rollcall_key(event),
        opened_at=at,
        at=at,
        evidence=evidence | {"ts": at.isoformat()},
        policy=policy,
        book=book,
    )


def _raise_counting_yellows(
    session,
    person: int,
    zone_id: int | None,
    rule: str,
    level: AlertLevel,
    key: str,
    *,
    opened_at: datetime,
    at: datetime,
    evidence: dict,
    policy: Policy,
    book: service.EpisodeBook,
) -> list[AlertChange]:
    """Raise the episode; a new yellow that is the person's n-th within d days is raised to red."""
    change = service.raise_alert(
        session=session,
        supervisee_id=person,
        zone_id=zone_id,
        rule=rule,
        level=level,
        key=key,
        at=opened_at,
        evidence=evidence,
        book=book,
    )
    if change is None or change.kind != "opened" or level != AlertLevel.yellow:
        return [change] if change else []
    yellows = service.count_opened(
        session=session,
        supervisee_id=person,
        level=AlertLevel.yellow,
        since=at - timedelta(days=policy.repeat_yellow_days),
    )
    if yellows < policy.repeat_yellow_count:
        return [change]
    reason = f"yellow alert {yellows} within {policy.repeat_yellow_days} days"
    raised = service.raise_alert(
        session=session,
        supervisee_id=person,
        zone_id=zone_id,
        rule=rule,
        level=AlertLevel.red,
        key=key,
        at=at,
        evidence=evidence | {"reason": reason, "rule": rules.REPEATED_YELLOW},
        book=book,
    )
    return [change, raised] if raised else [change]


class AlertsHandler:
    def __init__(self, publisher: bus.Publisher):
        self._publisher = publisher
        self._rollcall_topic = get_settings().topic(bus.ROLLCALL)

    def __call__(self, records: list[ConsumerRecord]) -> list[tuple[ConsumerRecord, str]]:
        """Apply the batch's zone events and roll-call outcomes in one transaction; returns the
        undecodable records for the DLQ. Other roll-call events (issued, answered) are not for alerts."""
        events, failures = [], []
        for record in records:
            try:
                event = bus.decode(record.value)
            except ValueError as exc:
                failures.append((record, f"not JSON: {exc}"))
                continue
            if record.topic != self._rollcall_topic:
                events.append((apply_zone_event, episode_key(event), event))
            elif event.get("kind") == "outcome":
                events.append((apply_rollcall_outcome, rollcall_key(event), event))
        with session_scope() as session:
            people = sorted({e["supervisee_id"] for _, _, e in events})
            policies = policy.policies_for(session=session, supervisee_ids=people)
            book = service.EpisodeBook(session, [key for _, key, _ in events])
            changes = [c for apply, _, e in events for c in apply(session, e, policies[e["supervisee_id"]], book)]
        publish_changes(self._publisher, changes)
        return failures


def main() -> None:
    # Each batch is one transaction holding the audit chain's lock, and opening an episode takes a few
    # round trips: small batches keep both new alerts and officers' actions from waiting long.
    bus.serve(group="alerts", topics=bus.GROUPS["alerts"], make_handler=AlertsHandler, max_records=200)


if __name__ == "__main__":
    main()
