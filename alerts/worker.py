"""Alerts worker: zone-events.v1 → alert episodes in PostGIS → alerts.v1 notifications."""

from datetime import UTC, datetime

from kafka.consumer.fetcher import ConsumerRecord

from alerts import rules, service
from alerts.service import AlertChange
from core import bus
from core.db import session_scope
from core.logs import configure

log = configure("ewall.alerts")


def _evidence(event: dict, at: datetime) -> dict:
    return {key: event[key] for key in ("lat", "lon", "accuracy_m", "distance_m")} | {
        "ts": at.isoformat(),
        "zone_id": event["zone_id"],
    }


def apply_zone_event(session, event: dict) -> AlertChange | None:
    decision = rules.decide(event)
    if decision is None:
        return None
    key = rules.dedup_key(decision.rule, event["supervisee_id"], event["zone_id"])
    at = datetime.fromtimestamp(event["ts_us"] / 1e6, tz=UTC)
    if decision.opens:
        return service.raise_alert(
            session=session,
            supervisee_id=event["supervisee_id"],
            zone_id=event["zone_id"],
            rule=decision.rule,
            level=decision.level,
            key=key,
            at=at,
            evidence=_evidence(event, at),
        )
    return service.end_episode(session=session, key=key, at=at, evidence=_evidence(event, at))


class AlertsHandler:
    def __init__(self, publisher: bus.Publisher):
        self._publisher = publisher

    def __call__(self, records: list[ConsumerRecord]) -> None:
        events, failures = [], []
        for record in records:
            try:
                events.append(bus.decode(record.value))
            except ValueError as exc:
                failures.append((record, f"not JSON: {exc}"))
        bus.dead_letter(self._publisher, bus.ZONE_EVENTS, failures)
        with session_scope() as session:
            changes = [c for e in events if (c := apply_zone_event(session, e)) is not None]
        publish_changes(self._publisher, changes)


def publish_changes(publisher: bus.Publisher, changes: list[AlertChange]) -> None:
    if changes:
        publisher.publish(bus.ALERTS, [(str(c.supervisee_id), bus.encode(c.as_dict())) for c in changes])
        log.info("%d alert changes", len(changes))


def main() -> None:
    bus.serve(group="alerts", topics=[bus.ZONE_EVENTS], make_handler=AlertsHandler)


if __name__ == "__main__":
    main()
