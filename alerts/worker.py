"""Alerts worker: zone-events.v1 → alert episodes in PostGIS → alerts.v1 notifications."""

from datetime import UTC, datetime, timedelta

from kafka.consumer.fetcher import ConsumerRecord

from alerts import policy, rules, service
from alerts.policy import Policy
from alerts.publish import publish_changes
from alerts.service import AlertChange
from core import bus
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
    person = event["supervisee_id"]
    key = episode_key(event)
    at = _at(event["ts_us"])
    evidence = _evidence(event, at, decision.reason)
    if not decision.opens:
        change = service.end_episode(session=session, key=key, at=at, evidence=evidence, book=book)
        return [change] if change else []
    change = service.raise_alert(
        session=session,
        supervisee_id=person,
        zone_id=event["zone_id"],
        rule=decision.rule,
        level=decision.level,
        key=key,
        # The episode began with its first fix on the wrong side, before the dwell confirmed it.
        at=_at(event["started_us"]) if event["kind"] == "opened" else at,
        evidence=evidence,
        book=book,
    )
    if change is None or change.kind != "opened" or decision.level != AlertLevel.yellow:
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
        zone_id=event["zone_id"],
        rule=decision.rule,
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

    def __call__(self, records: list[ConsumerRecord]) -> list[tuple[ConsumerRecord, str]]:
        """Apply the batch's zone events in one transaction; returns the undecodable records for the DLQ."""
        events, failures = [], []
        for record in records:
            try:
                events.append(bus.decode(record.value))
            except ValueError as exc:
                failures.append((record, f"not JSON: {exc}"))
        with session_scope() as session:
            policies = policy.policies_for(session=session, supervisee_ids=sorted({e["supervisee_id"] for e in events}))
            book = service.EpisodeBook(session, [episode_key(e) for e in events])
            changes = [c for e in events for c in apply_zone_event(session, e, policies[e["supervisee_id"]], book)]
        publish_changes(self._publisher, changes)
        return failures


def main() -> None:
    # Each batch is one transaction holding the audit chain's lock, and opening an episode takes a few
    # round trips: small batches keep both new alerts and officers' actions from waiting long.
    bus.serve(group="alerts", topics=bus.GROUPS["alerts"], make_handler=AlertsHandler, max_records=200)


if __name__ == "__main__":
    main()
